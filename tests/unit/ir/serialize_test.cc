// The bytecode file format: lossless round trips, version checks, and corrupt input
// that is refused (or verified and run safely), never a crash.
#include <gtest/gtest.h>

#include "tests/unit/test_support.h"

#include <filesystem>
#include <random>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "ir/serialize.h"
#include "vm/thread.h"

namespace fb {
namespace {

namespace fs = std::filesystem;
using testing::Chunk;
using testing::read_file;
using testing::source_dir;
using testing::split_chunks;

ir::Module compile(const fs::path& path) {
  grammar::SourceMap map;
  auto id = map.add(path.string(), read_file(path));
  grammar::DiagnosticList diagnostics;
  auto module = compiler::analyze(map.file(id), diagnostics);
  EXPECT_FALSE(diagnostics.has_errors()) << path;
  return compiler::lower(*module, map.file(id));
}

std::vector<fs::path> corpus() {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(source_dir() / "tests/spec/check/valid")) {
    if (e.path().extension() == ".star") files.push_back(e.path());
  }
  files.push_back(source_dir() / "tests/golden/frontend/closures.star");
  files.push_back(source_dir() / "tests/golden/frontend/statements.star");
  return files;
}

TEST(Bytecode, RoundTripIsLossless) {
  for (const fs::path& path : corpus()) {
    ir::Module original = compile(path);
    std::string bytes = ir::serialize(original);
    std::string error;
    auto back = ir::deserialize(bytes, error);
    ASSERT_TRUE(back) << path << ": " << error;
    EXPECT_TRUE(*back == original) << path;
    EXPECT_EQ(ir::serialize(*back), bytes) << path;
  }
}

TEST(Bytecode, RefusesOtherFilesAndVersions) {
  std::string error;
  EXPECT_FALSE(ir::deserialize("print('hi')\n", error));
  EXPECT_EQ(error, "not a faultbox bytecode file");
  std::string bytes = ir::serialize(compile(source_dir() / "tests/golden/frontend/closures.star"));
  bytes[4] = static_cast<char>(ir::kFormatVersion + 1);
  EXPECT_FALSE(ir::deserialize(bytes, error));
  EXPECT_EQ(error, "written by bytecode format version " + std::to_string(ir::kFormatVersion + 1) +
                       "; this faultbox reads version " + std::to_string(ir::kFormatVersion) +
                       " (recompile the spec)");
}

TEST(Bytecode, TruncatedFilesAreRefused) {
  std::string bytes = ir::serialize(compile(source_dir() / "tests/golden/frontend/closures.star"));
  for (std::size_t n = 0; n < bytes.size(); n += 7) {
    std::string error;
    EXPECT_FALSE(ir::deserialize(std::string_view(bytes).substr(0, n), error)) << n;
    EXPECT_FALSE(error.empty());
  }
}

/// Random byte flips: each mutant is refused, or it verifies and then runs under a step
/// budget without crashing (the sanitizer build checks that strictly).
TEST(Bytecode, CorruptedFilesNeverCrash) {
  std::string bytes = ir::serialize(compile(source_dir() / "tests/golden/frontend/closures.star"));
  std::mt19937 random(12345);
  int accepted = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string mutant = bytes;
    int flips = 1 + static_cast<int>(random() % 3);
    for (int k = 0; k < flips; ++k) {
      std::size_t at = 5 + random() % (mutant.size() - 5);
      mutant[at] = static_cast<char>(random() & 0xFF);
    }
    std::string error;
    auto module = ir::deserialize(mutant, error);
    if (!module) {
      EXPECT_FALSE(error.empty());
      continue;
    }
    ++accepted;
    vm::Thread thread;
    thread.max_steps = 100000;
    vm::run_program(thread, vm::load_program(std::move(*module)));  // success or a clean error
  }
  // Some flips land in strings or spans and still verify: those ran above.
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace fb
