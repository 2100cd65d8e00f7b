// Memory behaviour of the VM: dropped values are freed (bounded memory over millions of
// allocations), and dropping deeply nested values does not recurse.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "vm/thread.h"

namespace fb {
namespace {

bool run_source(const std::string& text, std::string& error) {
  grammar::SourceMap map;
  auto id = map.add("memory.star", text);
  grammar::DiagnosticList diagnostics;
  auto module = compiler::analyze(map.file(id), diagnostics);
  if (diagnostics.has_errors()) {
    error = diagnostics.items().front().message;
    return false;
  }
  vm::Thread thread;
  bool ok = vm::run_program(thread, vm::load_program(compiler::lower(*module, map.file(id))));
  error = thread.error();
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

}  // namespace
}  // namespace fb
