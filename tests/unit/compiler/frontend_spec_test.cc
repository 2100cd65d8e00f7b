// Runs the chunked error corpus (tests/spec/check/errors/*.star, format in its README)
// and checks that every file of the valid corpus (tests/spec/check/valid) is clean.
#include <gtest/gtest.h>

#include "tests/unit/test_support.h"

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "grammar/lexer.h"
#include "grammar/parser.h"
#include "grammar/render.h"
#include "ir/module.h"

namespace fb {
namespace {

namespace fs = std::filesystem;
using testing::Chunk;
using testing::read_file;
using testing::source_dir;
using testing::split_chunks;

struct Expectation {
  std::uint32_t line;
  std::string pattern;
  bool matched = false;
};

std::vector<Expectation> expectations(const std::string& chunk) {
  std::vector<Expectation> out;
  static const std::regex marker(R"re(###\s*"((?:[^"\\]|\\.)*)")re");
  std::istringstream in(chunk);
  std::string line;
  std::uint32_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::smatch m;
    if (std::regex_search(line, m, marker)) out.push_back({number, m[1].str()});
  }
  return out;
}

grammar::DiagnosticList check_source(grammar::SourceMap& map, grammar::FileId id) {
  grammar::DiagnosticList diagnostics;
  compiler::analyze(map.file(id), diagnostics);
  return diagnostics;
}

class ErrorCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(ErrorCorpus, DiagnosticsMatchExpectations) {
  fs::path path = source_dir() / "tests/spec/check/errors" / GetParam();
  std::vector<Chunk> chunks = split_chunks(read_file(path));
  ASSERT_FALSE(chunks.empty());
  for (const Chunk& chunk : chunks) {
    std::string where = GetParam() + ":" + std::to_string(chunk.first_line);
    grammar::SourceMap map;
    auto id = map.add(where, chunk.text);
    grammar::DiagnosticList diagnostics = check_source(map, id);
    std::vector<Expectation> wanted = expectations(chunk.text);
    for (const auto& d : diagnostics.items()) {
      std::uint32_t line = map.file(id).line_col(d.span.offset).line;
      std::string text = std::string(grammar::code_name(d.code)) + ": " + d.message;
      bool found = false;
      for (Expectation& e : wanted) {
        if (e.line == line && !e.matched && std::regex_search(text, std::regex(e.pattern))) {
          e.matched = found = true;
          break;
        }
      }
      EXPECT_TRUE(found) << "unexpected diagnostic in chunk at " << where << ":\n"
                         << grammar::render_text(map, d);
    }
    for (const Expectation& e : wanted) {
      EXPECT_TRUE(e.matched) << "chunk at " << where << ", line " << e.line
                             << ": no diagnostic matching \"" << e.pattern << "\"";
    }
  }
}

std::vector<std::string> star_files(const std::string& relative) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(source_dir() / relative)) {
    if (entry.path().extension() == ".star") names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param.substr(0, info.param.size() - 5);
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Files, ErrorCorpus,
                         ::testing::ValuesIn(star_files("tests/spec/check/errors")), test_name);

class ValidCorpus : public ::testing::TestWithParam<std::string> {};

TEST_P(ValidCorpus, HasNoFindings) {
  fs::path path = source_dir() / "tests/spec/check/valid" / GetParam();
  grammar::SourceMap map;
  auto id = map.add(GetParam(), read_file(path));
  grammar::DiagnosticList diagnostics;
  auto module = compiler::analyze(map.file(id), diagnostics);
  for (const auto& d : diagnostics.items()) ADD_FAILURE() << grammar::render_text(map, d);
  // A clean spec also lowers to bytecode that the verifier accepts.
  auto problems = ir::verify(compiler::lower(*module, map.file(id)));
  EXPECT_TRUE(problems.empty()) << problems.front();
}

std::vector<std::string> valid_files() {
  std::vector<std::string> names = star_files("tests/spec/check/valid");
  for (const std::string& lib : star_files("tests/spec/check/valid/lib"))
    names.push_back("lib/" + lib);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Files, ValidCorpus, ::testing::ValuesIn(valid_files()), test_name);

}  // namespace
}  // namespace fb

namespace fb {
namespace {

/// Inputs that nest far beyond any real spec must end in an error, not a stack overflow.
TEST(HostileInput, DeepNestingIsAnErrorNotACrash) {
  auto repeat = [](const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  std::vector<std::string> inputs = {
      "x = " + repeat("1 + ", 100000) + "1\n",  // left-recursive chain
      "x = a" + repeat(".b", 50000) + "\n",     // attribute chain
      "x = f" + repeat("()", 50000) + "\n",     // call chain
      "x = " + repeat("-", 50000) + "1\n",      // prefix operators
      "x = " + repeat("(", 5000) + "\n",        // brackets
      "x = " + repeat("lambda: ", 3000) + "1\n",
  };
  for (const std::string& text : inputs) {
    grammar::SourceMap map;
    auto id = map.add("deep.star", text);
    grammar::DiagnosticList diagnostics = check_source(map, id);
    EXPECT_TRUE(diagnostics.has_errors()) << text.substr(0, 40);
  }
}

/// 201 balanced parentheses: "nests too deeply" at the one past the limit, and nothing
/// about brackets never closed (they are, further on).
TEST(HostileInput, BalancedBracketsPastTheLimitSayTheyNestTooDeeply) {
  for (const char* open : {"(", "[", "{"}) {
    const char* close = *open == '(' ? ")" : *open == '[' ? "]" : "}";
    std::string text = "x = ";
    for (std::size_t i = 0; i <= grammar::kMaxBracketDepth; ++i) text += open;
    text += "1";
    for (std::size_t i = 0; i <= grammar::kMaxBracketDepth; ++i) text += close;
    text += "\n";
    grammar::SourceMap map;
    auto id = map.add("deep.star", text);
    grammar::DiagnosticList diagnostics = check_source(map, id);
    ASSERT_EQ(diagnostics.items().size(), 1u) << open;
    const auto& d = diagnostics.items().front();
    EXPECT_EQ(d.message, "the spec nests too deeply here: brackets more than 200 levels deep");
    EXPECT_EQ(map.file(id).line_col(d.span.offset).col, 5 + grammar::kMaxBracketDepth);
  }
}

}  // namespace
}  // namespace fb

namespace fb {
namespace {

TEST(SyntaxErrors, ReportedPerLineUpToTheLimit) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "x" + std::to_string(i) + " = (1 +)\n";
  grammar::SourceMap map;
  auto id = map.add("many.star", text);
  grammar::DiagnosticList diagnostics = check_source(map, id);
  ASSERT_EQ(diagnostics.items().size(), grammar::kMaxSyntaxErrors + 1);
  for (std::size_t i = 0; i < grammar::kMaxSyntaxErrors; ++i) {
    EXPECT_EQ(map.file(id).line_col(diagnostics.items()[i].span.offset).line, i + 1);
  }
  EXPECT_EQ(diagnostics.items().back().message, "too many syntax errors; stopping here");
}

}  // namespace
}  // namespace fb
