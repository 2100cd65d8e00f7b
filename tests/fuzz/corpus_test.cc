// Replays the checked-in fuzz corpora (tests/fuzz/corpus/<target>/) through the same
// bodies as the fuzzers, so every input a fuzzer once found interesting stays covered
// by the ordinary test suite.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/fuzz/frontend_fuzz_body.h"
#include "tests/fuzz/http_fuzz_body.h"
#include "tests/fuzz/pg_fuzz_body.h"
#include "tests/fuzz/resp_fuzz_body.h"

namespace {

namespace fs = std::filesystem;

/// Runs every file of tests/fuzz/corpus/`target` through `body`; how many there were.
std::size_t replay(const char* target, void (*body)(const std::uint8_t*, std::size_t)) {
  fs::path root = FB_SOURCE_DIR_DEFAULT;
  if (const char* env = std::getenv("FB_SOURCE_DIR")) root = env;
  std::size_t count = 0;
  for (const auto& entry : fs::directory_iterator(root / "tests/fuzz/corpus" / target)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    std::string bytes = s.str();
    SCOPED_TRACE(entry.path().filename().string());
    body(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    ++count;
  }
  return count;
}

TEST(FuzzCorpus, FrontendReplaysEveryInput) {
  EXPECT_GT(replay("frontend", fb::fuzz::run_frontend), 100u)
      << "the corpus should hold the fuzzer's minimized findings";
}

TEST(FuzzCorpus, HttpFramingReplaysEveryInput) {
  EXPECT_GE(replay("http", fb::fuzz::run_http_framing), 15u)
      << "the seeds, and what the fuzzer adds to them";
}

TEST(FuzzCorpus, RespFramingReplaysEveryInput) {
  EXPECT_GE(replay("resp", fb::fuzz::run_resp_framing), 9u)
      << "the seeds, and what the fuzzer adds to them";
}

TEST(FuzzCorpus, PgFramingReplaysEveryInput) {
  EXPECT_GE(replay("pg", fb::fuzz::run_pg_framing), 16u)
      << "the seeds, and what the fuzzer adds to them";
}

}  // namespace
