// Golden tests for the frontend: for each tests/golden/frontend/NAME.star, the token
// dump (NAME.tokens), the resolved AST (NAME.ast), the disassembled bytecode (NAME.ir,
// which must also pass the IR verifier) and the rendered diagnostics (NAME.diag) must
// match the checked-in files.
//
// To regenerate after an intended change, run: tools/update-goldens
#include <gtest/gtest.h>

#include "tests/unit/test_support.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "grammar/ast_dump.h"
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

fs::path golden_dir() { return source_dir() / "tests/golden/frontend"; }

bool updating() { return std::getenv("FB_UPDATE_GOLDENS") != nullptr; }

void compare(const fs::path& path, const std::string& actual) {
  if (updating()) {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(fs::exists(path)) << path << " is missing; run tools/update-goldens";
  EXPECT_EQ(read_file(path), actual)
      << "golden " << path.filename()
      << " differs; if the change is intended, run tools/update-goldens";
}

class FrontendGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(FrontendGolden, TokensAstAndDiagnostics) {
  fs::path star = golden_dir() / (GetParam() + ".star");
  grammar::SourceMap map;
  // Paths are relative so goldens do not depend on the checkout location.
  auto id = map.add(GetParam() + ".star", read_file(star));
  const grammar::SourceFile& file = map.file(id);

  grammar::DiagnosticList lex_diagnostics;
  compare(golden_dir() / (GetParam() + ".tokens"),
          grammar::dump_tokens(file, grammar::lex(file, lex_diagnostics)));

  grammar::DiagnosticList diagnostics;
  auto module = compiler::analyze(file, diagnostics);
  compare(golden_dir() / (GetParam() + ".ast"),
          module->syntax_ok ? ast::dump(*module, file) : "(syntax errors)\n");

  compare(
      golden_dir() / (GetParam() + ".ir"),
      diagnostics.has_errors() ? "(errors)\n" : ir::disassemble(compiler::lower(*module, file)));
  if (!diagnostics.has_errors()) {
    auto problems = ir::verify(compiler::lower(*module, file));
    EXPECT_TRUE(problems.empty()) << problems.front();
  }

  diagnostics.sort_by_location();
  std::string rendered;
  for (const auto& d : diagnostics.items()) rendered += grammar::render_text(map, d);
  compare(golden_dir() / (GetParam() + ".diag"), rendered);
}

std::vector<std::string> cases() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(golden_dir())) {
    if (entry.path().extension() == ".star") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string case_name(const ::testing::TestParamInfo<std::string>& param_info) {
  return param_info.param;
}

INSTANTIATE_TEST_SUITE_P(Files, FrontendGolden, ::testing::ValuesIn(cases()), case_name);

}  // namespace
}  // namespace fb
