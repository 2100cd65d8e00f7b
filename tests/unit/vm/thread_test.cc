// Thread controls: the step budget and cancellation from another thread.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "vm/thread.h"

namespace fb {
namespace {

std::shared_ptr<vm::Program> compile(const std::string& text) {
  grammar::SourceMap map;
  auto id = map.add("thread.star", text);
  grammar::DiagnosticList diagnostics;
  auto module = compiler::analyze(map.file(id), diagnostics);
  EXPECT_FALSE(diagnostics.has_errors());
  return vm::load_program(compiler::lower(*module, map.file(id)));
}

constexpr const char* kForever = R"(
def spin():
    n = 0
    while True:
        n += 1

spin()
)";

TEST(VmThread, StepBudgetStopsAnEndlessLoopWithAClearError) {
  vm::Thread thread;
  thread.max_steps = 100000;
  EXPECT_FALSE(vm::run_program(thread, compile(kForever)));
  EXPECT_EQ(thread.error(), "step budget of 100000 exceeded");
  ASSERT_FALSE(thread.backtrace().empty());
  EXPECT_EQ(thread.backtrace().front().function, "spin");
  EXPECT_GE(thread.steps, 100000u);
}

TEST(VmThread, CancellationFromAnotherThreadStopsTheRun) {
  vm::Thread thread;
  auto program = compile(kForever);
  bool finished = false, ok = true;
  std::thread runner([&] {
    ok = vm::run_program(thread, program);
    finished = true;
  });
  // The run cannot end by itself; cancelling is the only way out.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  thread.cancelled = true;
  runner.join();
  EXPECT_TRUE(finished);
  EXPECT_FALSE(ok);
  EXPECT_EQ(thread.error(), "cancelled");
}

TEST(VmThread, StepsAreCountedAcrossCalls) {
  vm::Thread thread;
  thread.max_steps = 1000;
  auto program = compile(R"(
def f(n):
    return n + 1

def loop():
    total = 0
    for i in range(10000):
        total = f(total)
    return total

loop()
)");
  EXPECT_FALSE(vm::run_program(thread, program));
  EXPECT_EQ(thread.error(), "step budget of 1000 exceeded");
}

}  // namespace
}  // namespace fb
