#pragma once
/// Execution state: a loaded program, the thread that runs Starlark code, and errors
/// with their backtraces.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ir/module.h"
#include "vm/memory.h"
#include "vm/objects.h"
#include "vm/value.h"

namespace fb::vm {

/// A module loaded for execution: its code, its constants as values, and its globals.
struct Program : std::enable_shared_from_this<Program> {
  ir::Module module;
  std::vector<Value> constants;
  std::vector<Value> globals;
  std::vector<bool> assigned;
  /// Universe and faultbox builtins by name index, looked up on first use.
  std::vector<Value> builtins;
};

/// Makes a Program from verified IR (constants become values, globals start unset).
std::shared_ptr<Program> load_program(ir::Module module);

/// One line of a Starlark backtrace.
struct TraceFrame {
  std::shared_ptr<Program> program;
  std::string function;
  ir::Span span;
};

/// Frame storage: locals and operand stacks of active calls, allocated and released in
/// LIFO order from large chunks, so a call allocates nothing from the heap.
class ValueArena {
 public:
  struct Mark {
    std::size_t chunk;
    std::size_t top;
  };
  Mark mark() const { return Mark{chunk_, top_}; }
  /// `n` values, all None.
  Value* allocate(std::size_t n);
  /// Drops every value allocated after `m` (they become None again).
  void release(Mark m);

 private:
  static constexpr std::size_t kChunk = 1 << 14;
  std::vector<std::unique_ptr<Value[]>> chunks_;
  std::vector<std::size_t> sizes_;
  std::size_t chunk_ = 0;
  std::size_t top_ = 0;
};

class Thread {
 public:
  ValueArena arena;
  /// Where print() writes (one call per printed line, without the newline).
  std::function<void(std::string_view)> print;
  /// Runs a load() statement of `from`: fills `symbols` with the values of the site's
  /// symbols, in order, or fails the thread. Installed by the embedder (the module
  /// loader compiles files, which the VM cannot do itself).
  std::function<bool(Thread& thread, const Program& from, const ir::LoadSite& site,
                     std::vector<Value>& symbols)>
      load;
  /// Resolves faultbox builtins (PREDECLARED names); the embedder installs stdlib's table.
  /// Returns None for a name it does not provide.
  std::function<Value(std::string_view)> predeclared;
  /// The embedding program's context for its builtins (faultbox: the stdlib::Session).
  void* host = nullptr;
  /// Steps so far (one per loop iteration, jump and call) and the limit; an exceeded
  /// limit is an error. Counting there, not per instruction, keeps dispatch lean while
  /// still bounding every run (the verifier lets only JUMP go backwards).
  std::uint64_t steps = 0;
  std::uint64_t max_steps = UINT64_MAX;
  /// Set from any thread to stop this one at its next instruction.
  std::atomic<bool> cancelled{false};
  /// Where the running builtin was called from (set at every CALL, three stores): a
  /// builtin that needs a name stable across runs (a plan axis) takes its call site.
  const Program* site_program = nullptr;
  const ir::Function* site_code = nullptr;
  std::uint32_t site_pc = 0;
  /// "file:line:col" of that call site, or "" outside any call.
  std::string call_site() const;
  /// When set, asked before every call of a builtin function (not of a method such as
  /// list.append): false, with the thread's error set, refuses the call. Monitors run
  /// their functions under one that refuses what would change the run they judge.
  bool (*guard)(Thread& thread, const Builtin& builtin) = nullptr;
  /// What this thread's Starlark code may allocate (vm/memory.h); unlimited unless the
  /// embedder sets a limit. Threads that run parts of one program (parallel()
  /// branches) share their caller's.
  std::shared_ptr<MemoryBudget> memory = std::make_shared<MemoryBudget>();
  /// Nesting of Starlark calls; deep recursion is an error, not a crash.
  int depth = 0;
  static constexpr int kMaxDepth = 800;

  /// Records an error and returns false, so failing operations can `return thread.fail(...)`.
  bool fail(std::string message);
  /// fail() for a program stopped by one of the VM's limits rather than by its own
  /// error: the step, memory, call-depth and nesting budgets. An embedder may treat
  /// these apart (a test that hit one neither passed nor failed).
  bool fail_limit(std::string message);
  bool failed() const { return !error_.empty(); }
  /// Whether the error is one of fail_limit()'s.
  bool limit_exceeded() const { return limit_; }
  const std::string& error() const { return error_; }
  const std::vector<TraceFrame>& backtrace() const { return backtrace_; }
  void add_frame(TraceFrame frame) { backtrace_.push_back(std::move(frame)); }
  void clear_error();

 private:
  std::string error_;
  bool limit_ = false;
  std::vector<TraceFrame> backtrace_;  // innermost first
};

/// Runs a program's top level, then freezes its globals. False on error (see thread).
bool run_program(Thread& thread, const std::shared_ptr<Program>& program);

/// Makes a value and everything it holds immutable (module globals after the top level).
void freeze(const Value& v);

/// Calls any callable value.
bool call(Thread& thread, const Value& callee, Args& args, Value& result);

/// "Traceback (most recent call last):\n  file:line:col in fn\n    source\n    ^\nError: msg".
std::string format_error(const Thread& thread);

}  // namespace fb::vm
