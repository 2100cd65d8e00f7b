// What a monitor costs per event, end to end: EventLog::append, the engine's listener
// (a shared copy of the event into its queue), the engine's thread taking the batch
// under the VM lock, the on= matcher, the event value, and the check's call in the VM.
//
// Each benchmark appends `n` events to a log from the benchmark thread and waits until
// the engine has judged them all; items/s is events judged per second. The variants
// add one stage at a time, so that their differences say where the time goes:
//   BM_Append                   the log alone (retained, nobody listening)
//   BM_Monitor/matcher_only     + the engine, with a monitor whose on= never matches
//   BM_Monitor/check_true       + on= matching every event, check=lambda e, s: True
//   BM_Monitor/check_stock      + the issue's check: int(e.stock) >= 0
//   BM_Monitor/update_and_check + a counting state: update=lambda e, s: s + 1
// and BM_Judging_* time the engine's thread alone on events already queued: the rate
// at which a monitor keeps up, whatever produces the events.
// Run: build/tests/bench/monitor_bench (tests/bench/monitor/run.sh pins it to one core).
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <string>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "grammar/source.h"
#include "runtime/event_log.h"
#include "stdlib/builtins.h"
#include "stdlib/parallel.h"
#include "stdlib/session.h"
#include "stdlib/temporal.h"
#include "vm/thread.h"

namespace {

using namespace fb;

/// Runs a spec's top level and returns its session (with its monitor() values).
struct Spec {
  stdlib::Session session;
  vm::Thread thread;
  std::shared_ptr<vm::Program> program;
  explicit Spec(const std::string& text) {
    grammar::SourceMap sources;
    auto id = sources.add("bench.star", text);
    grammar::DiagnosticList diagnostics;
    auto module = compiler::analyze(sources.file(id), diagnostics);
    if (diagnostics.has_errors()) throw std::runtime_error("the bench spec does not compile");
    program = vm::load_program(compiler::lower(*module, sources.file(id)));
    thread.predeclared = stdlib::lookup;
    session.attach(thread);
    if (!vm::run_program(thread, program)) throw std::runtime_error(thread.error());
  }
};

runtime::EventLog::Fields stock_fields(std::int64_t i) {
  return {{"event", std::string("reserved")},
          {"qty", std::string("1")},
          {"stock", std::to_string(i % 1000)}};
}

void BM_Append(benchmark::State& state) {
  const auto n = static_cast<std::int64_t>(state.range(0));
  for (auto _ : state) {
    runtime::EventLog log;
    for (std::int64_t i = 0; i < n; ++i) log.append("stdout", "api", stock_fields(i));
    benchmark::DoNotOptimize(log.size());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Append)->Arg(200000)->Unit(benchmark::kMillisecond)->UseRealTime();

/// `judging_only`: the events are queued while the engine cannot judge (the benchmark
/// holds the VM lock), and only the judging is timed: the engine thread's own rate.
void run_monitor(benchmark::State& state, const std::string& monitor, bool judging_only = false) {
  Spec spec(monitor);
  const auto n = static_cast<std::int64_t>(state.range(0));
  for (auto _ : state) {
    runtime::EventLog log;
    vm::Thread body;
    body.predeclared = stdlib::lookup;
    body.host = spec.thread.host;
    {
      stdlib::Temporal engine(log, body);
      {
        stdlib::VmLocked vm;
        for (const auto& m : spec.session.monitors) engine.add_monitor(m);
      }
      engine.start();
      if (judging_only) {
        {
          stdlib::VmLocked held;  // the engine waits for it with whatever it took
          for (std::int64_t i = 0; i < n; ++i) log.append("stdout", "api", stock_fields(i));
        }
        auto started = std::chrono::steady_clock::now();
        engine.catch_up();
        state.SetIterationTime(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      } else {
        for (std::int64_t i = 0; i < n; ++i) log.append("stdout", "api", stock_fields(i));
        engine.catch_up();
      }
      if (engine.failed()) state.SkipWithError(engine.failure().c_str());
      engine.stop();
      benchmark::DoNotOptimize(engine.judgements());
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_Monitor_MatcherOnly(benchmark::State& state) {
  run_monitor(state,
              R"(monitor("m", on = match.event(type = "stderr"), check = lambda e, s: True))");
}
void BM_Monitor_CheckTrue(benchmark::State& state) {
  run_monitor(state,
              R"(monitor("m", on = match.event(type = "stdout"), check = lambda e, s: True))");
}
void BM_Monitor_CheckStock(benchmark::State& state) {
  run_monitor(
      state,
      R"(monitor("m", on = match.event(type = "stdout"), check = lambda e, s: int(e.stock) >= 0))");
}
void BM_Monitor_UpdateAndCheck(benchmark::State& state) {
  run_monitor(state, R"(monitor("m", on = match.event(type = "stdout"), state_init = 0,
    update = lambda e, s: s + 1, check = lambda e, s: int(e.stock) >= 0 and s > 0))");
}
void BM_Judging_CheckStock(benchmark::State& state) {
  run_monitor(
      state,
      R"(monitor("m", on = match.event(type = "stdout"), check = lambda e, s: int(e.stock) >= 0))",
      true);
}
void BM_Judging_CheckTrue(benchmark::State& state) {
  run_monitor(
      state, R"(monitor("m", on = match.event(type = "stdout"), check = lambda e, s: True))", true);
}
void BM_Judging_MatcherOnly(benchmark::State& state) {
  run_monitor(
      state, R"(monitor("m", on = match.event(type = "stderr"), check = lambda e, s: True))", true);
}
BENCHMARK(BM_Judging_MatcherOnly)->Arg(200000)->Unit(benchmark::kMillisecond)->UseManualTime();
BENCHMARK(BM_Judging_CheckTrue)->Arg(200000)->Unit(benchmark::kMillisecond)->UseManualTime();
BENCHMARK(BM_Judging_CheckStock)->Arg(200000)->Unit(benchmark::kMillisecond)->UseManualTime();
BENCHMARK(BM_Monitor_MatcherOnly)->Arg(200000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Monitor_CheckTrue)->Arg(200000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Monitor_CheckStock)->Arg(200000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Monitor_UpdateAndCheck)->Arg(200000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
