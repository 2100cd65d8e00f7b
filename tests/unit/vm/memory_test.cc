// Memory behaviour of the VM: dropped values are freed (bounded memory over millions of
// allocations), dropping deeply nested values does not recurse, and a program that
// allocates more than its budget stops with an error at the line that allocated.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "vm/thread.h"

namespace fb {
namespace {

/// Runs `text`; on failure `error` is the message and `line` the innermost frame's line.
bool run_source(const std::string& text, std::string& error, std::int64_t memory_limit = INT64_MAX,
                std::uint32_t* line = nullptr) {
  grammar::SourceMap map;
  auto id = map.add("memory.star", text);
  grammar::DiagnosticList diagnostics;
  auto module = compiler::analyze(map.file(id), diagnostics);
  if (diagnostics.has_errors()) {
    error = diagnostics.items().front().message;
    return false;
  }
  vm::Thread thread;
  thread.memory->limit = memory_limit;
  auto program = vm::load_program(compiler::lower(*module, map.file(id)));
  bool ok = vm::run_program(thread, program);
  error = thread.error();
  if (!ok && line && !thread.backtrace().empty()) {
    std::uint32_t offset = thread.backtrace().front().span.offset;
    *line = 1 + static_cast<std::uint32_t>(std::count(text.begin(), text.begin() + offset, '\n'));
  }
  return ok;
}

long max_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

TEST(VmMemory, TenMillionDroppedListsStayBounded) {
  if (kSanitized) GTEST_SKIP() << "AddressSanitizer's quarantine holds freed memory on purpose";
  long before = max_rss_kb();
  std::string error;
  ASSERT_TRUE(run_source(R"(
def churn(n):
    total = 0
    for i in range(n):
        pair = [i, i + 1]
        total += len(pair)
    return total

result = churn(10000000)
)",
                         error))
      << error;
  // 10^7 lists of two would need hundreds of MB if none were freed.
  EXPECT_LT(max_rss_kb() - before, 32 * 1024);
}

TEST(VmMemory, DroppingADeeplyNestedValueDoesNotRecurse) {
  std::string error;
  EXPECT_TRUE(run_source(R"(
def nest(n):
    x = []
    for i in range(n):
        x = [x]
    return 1

done = nest(1000000)
)",
                         error))
      << error;
}

constexpr std::int64_t kMiB = 1 << 20;

TEST(VmMemoryBudget, DoublingAListStopsAtTheBudgetOnItsLine) {
  long before = max_rss_kb();
  std::string error;
  std::uint32_t line = 0;
  EXPECT_FALSE(
      run_source("x = [0]\nfor i in range(100):\n    x = x + x\n", error, 64 * kMiB, &line));
  EXPECT_NE(error.find("memory budget of 64 MiB exceeded"), std::string::npos) << error;
  EXPECT_EQ(line, 3u);
  // Unbounded, the hundredth doubling would need 2^100 elements.
  if (!kSanitized) {
    EXPECT_LT(max_rss_kb() - before, 256 * 1024);
  }
}

TEST(VmMemoryBudget, DoublingAStringStopsAtTheBudget) {
  std::string error;
  std::uint32_t line = 0;
  EXPECT_FALSE(run_source("s = 'ab'\nfor i in range(100):\n    s += s\n", error, 64 * kMiB, &line));
  EXPECT_NE(error.find("memory budget of 64 MiB exceeded"), std::string::npos) << error;
  EXPECT_EQ(line, 3u);
}

TEST(VmMemoryBudget, GrowingAComprehensionStopsAtTheBudget) {
  std::string error;
  std::uint32_t line = 0;
  EXPECT_FALSE(
      run_source("n = 3\nl = [str(i) for i in range(100000000)]\n", error, 64 * kMiB, &line));
  EXPECT_NE(error.find("memory budget of 64 MiB exceeded: the program holds"), std::string::npos)
      << error;
  EXPECT_EQ(line, 2u);
}

TEST(VmMemoryBudget, MemoryFreedAgainIsNotCounted) {
  // A hundred times 8 MiB allocated and dropped stays within a 32 MiB budget.
  std::string error;
  EXPECT_TRUE(run_source(R"(
def churn(times):
    total = 0
    for i in range(times):
        block = [i] * 500000
        total += len(block)
    return total

result = churn(100)
)",
                         error, 32 * kMiB))
      << error;
}

TEST(VmMemoryBudget, ParsesAndPrintsSizes) {
  std::int64_t bytes = 0;
  EXPECT_TRUE(vm::parse_bytes("512MiB", bytes));
  EXPECT_EQ(bytes, 512 * kMiB);
  EXPECT_TRUE(vm::parse_bytes("2G", bytes));
  EXPECT_EQ(bytes, 2048 * kMiB);
  EXPECT_TRUE(vm::parse_bytes("100000", bytes));
  EXPECT_EQ(bytes, 100000);
  for (const char* bad : {"", "MiB", "3X", "-1", "0", "1.5G", "99999999999999999G"})
    EXPECT_FALSE(vm::parse_bytes(bad, bytes)) << bad;
  EXPECT_EQ(vm::format_bytes(1 << 30), "1 GiB");
  EXPECT_EQ(vm::format_bytes(1536 * kMiB), "1.5 GiB");
  EXPECT_EQ(vm::format_bytes(300), "300 B");
}

}  // namespace
}  // namespace fb
