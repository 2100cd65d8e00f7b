// Runs the evaluation spec tests (tests/spec/eval/*.star; format in its README).
#include <gtest/gtest.h>

#include "tests/unit/test_support.h"

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "grammar/render.h"
#include "stdlib/builtins.h"
#include "tools/cli/loader.h"
#include "vm/thread.h"

namespace fb {
namespace {

namespace fs = std::filesystem;
using testing::Chunk;
using testing::read_file;
using testing::source_dir;
using testing::split_chunks;

fs::path spec_dir() { return source_dir() / "tests/spec/eval"; }

struct Outcome {
  bool ok = true;
  std::string message;
  std::uint32_t line = 0;  // where the error is
};

std::uint32_t line_of(const std::string& text, std::uint32_t offset) {
  return 1 + static_cast<std::uint32_t>(std::count(
                 text.begin(), text.begin() + std::min<std::size_t>(offset, text.size()), '\n'));
}

/// Runs one chunk as if it were the file `path` (so its relative loads resolve there).
Outcome run(const std::string& path, const std::string& text) {
  grammar::SourceMap map;
  auto id = map.add(path, text);
  grammar::DiagnosticList diagnostics;
  auto module = compiler::analyze(map.file(id), diagnostics);
  if (diagnostics.has_errors()) {
    const auto& d = diagnostics.items().front();
    return {false, std::string(grammar::code_name(d.code)) + ": " + d.message,
            line_of(text, d.span.offset)};
  }
  vm::Thread thread;
  thread.predeclared = stdlib::lookup;
  thread.max_steps = 50'000'000;
  auto program = vm::load_program(compiler::lower(*module, map.file(id)));
  cli::ModuleLoader loader(path);
  loader.attach(thread);
  if (loader.run(thread, path, program)) return {};
  // The innermost frame in the chunk's own file (an error may surface in a loaded module).
  std::uint32_t line = 0;
  for (const auto& frame : thread.backtrace()) {
    if (frame.program->module.files[frame.span.file].path != path) continue;
    line = line_of(text, frame.span.offset);
    break;
  }
  return {false, thread.error(), line};
}

class EvalSpec : public ::testing::TestWithParam<std::string> {};

TEST_P(EvalSpec, ChunksBehaveAsMarked) {
  static const std::regex marker(R"re(###\s*"((?:[^"\\]|\\.)*)")re");
  for (const Chunk& chunk : split_chunks(read_file(spec_dir() / GetParam()))) {
    std::string where = GetParam() + ":" + std::to_string(chunk.first_line);
    std::smatch m;
    std::uint32_t marked_line = 0;
    std::string pattern;
    std::istringstream in(chunk.text);
    std::string line;
    for (std::uint32_t n = 1; std::getline(in, line); ++n) {
      if (std::regex_search(line, m, marker)) {
        marked_line = n;
        pattern = m[1].str();
      }
    }
    Outcome out = run((spec_dir() / GetParam()).string(), chunk.text);
    if (marked_line == 0) {
      EXPECT_TRUE(out.ok) << "chunk at " << where << " failed at its line " << out.line << ": "
                          << out.message;
      continue;
    }
    ASSERT_FALSE(out.ok) << "chunk at " << where << " should fail with \"" << pattern << "\"";
    EXPECT_EQ(out.line, marked_line)
        << "chunk at " << where << ": error \"" << out.message << "\" on the wrong line";
    EXPECT_TRUE(std::regex_search(out.message, std::regex(pattern)))
        << "chunk at " << where << ": error \"" << out.message << "\" does not match \"" << pattern
        << "\"";
  }
}

std::vector<std::string> files() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(spec_dir())) {
    if (e.path().extension() == ".star") names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string case_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param.substr(0, info.param.size() - 5);
}

INSTANTIATE_TEST_SUITE_P(Files, EvalSpec, ::testing::ValuesIn(files()), case_name);

}  // namespace
}  // namespace fb
