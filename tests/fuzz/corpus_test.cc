// Replays the checked-in fuzz corpus (tests/fuzz/corpus/frontend/) through the same
// body as the fuzzer, so every input the fuzzer once found interesting stays covered
// by the ordinary test suite.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/fuzz/frontend_fuzz_body.h"
#include "tests/fuzz/http_fuzz_body.h"
#include "tests/fuzz/resp_fuzz_body.h"

namespace {

namespace fs = std::filesystem;

TEST(FuzzCorpus, FrontendReplaysEveryInput) {
  fs::path dir = fs::path(FB_SOURCE_DIR_DEFAULT) / "tests/fuzz/corpus/frontend";
  if (const char* env = std::getenv("FB_SOURCE_DIR"))
    dir = fs::path(env) / "tests/fuzz/corpus/frontend";
  std::size_t count = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    std::string bytes = s.str();
    SCOPED_TRACE(entry.path().filename().string());
    fb::fuzz::run_frontend(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    ++count;
  }
  EXPECT_GT(count, 100u) << "the corpus should hold the fuzzer's minimized findings";
}

TEST(FuzzCorpus, HttpFramingReplaysEveryInput) {
  fs::path dir = fs::path(FB_SOURCE_DIR_DEFAULT) / "tests/fuzz/corpus/http";
  if (const char* env = std::getenv("FB_SOURCE_DIR"))
    dir = fs::path(env) / "tests/fuzz/corpus/http";
  std::size_t count = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    std::string bytes = s.str();
    SCOPED_TRACE(entry.path().filename().string());
    fb::fuzz::run_http_framing(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    ++count;
  }
  EXPECT_GE(count, 15u) << "the seeds, and what the fuzzer adds to them";
}

TEST(FuzzCorpus, RespFramingReplaysEveryInput) {
  fs::path dir = fs::path(FB_SOURCE_DIR_DEFAULT) / "tests/fuzz/corpus/resp";
  if (const char* env = std::getenv("FB_SOURCE_DIR"))
    dir = fs::path(env) / "tests/fuzz/corpus/resp";
  std::size_t count = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    std::string bytes = s.str();
    SCOPED_TRACE(entry.path().filename().string());
    fb::fuzz::run_resp_framing(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    ++count;
  }
  EXPECT_GE(count, 9u) << "the seeds, and what the fuzzer adds to them";
}

}  // namespace
