#pragma once
/// parallel(fn, ...): branches on threads of their own, and the VM lock that lets them
/// share the interpreter safely.
///
/// Values are reference-counted without atomics, so only one thread may run Starlark
/// code at a time: a branch holds the VM lock while it runs, and gives it up while it
/// waits on the network (a step), so that the branches' steps really overlap. A leaf of
/// `parallel(..., interleavings=...)` fixes the order of the branches' steps: they go
/// in rounds, one step per branch per round in the leaf's permutation, each answered,
/// and the services settled (no trapped call for settle=), before the next is sent.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "vm/memory.h"
#include "vm/objects.h"

namespace fb::stdlib {

/// Gives up the VM lock for the lifetime of the object, when this thread holds it (a
/// parallel branch); a no-op otherwise. For waits that touch no VM value.
class VmUnlocked {
 public:
  VmUnlocked();
  ~VmUnlocked();
  VmUnlocked(const VmUnlocked&) = delete;
  VmUnlocked& operator=(const VmUnlocked&) = delete;

 private:
  bool released_ = false;
  /// The memory budget this thread charged: none is charged while it waits, since
  /// another thread may run Starlark against the same budget meanwhile.
  vm::MemoryBudget* budget_ = nullptr;
};

/// Holds the VM lock for the lifetime of the object, unless this thread holds it
/// already. A test body runs under one, so that monitors, which run on a thread of
/// their own, evaluate only while the body waits (a step, a sleep, an await).
class VmLocked {
 public:
  VmLocked();
  ~VmLocked();
  VmLocked(const VmLocked&) = delete;
  VmLocked& operator=(const VmLocked&) = delete;

 private:
  bool acquired_ = false;
};

/// Brackets one step of a test: in a branch of an ordered parallel(), the step waits
/// for its turn and passes the turn on when it is answered.
class StepTurn {
 public:
  explicit StepTurn(const std::atomic<bool>& cancelled);
  ~StepTurn();
  StepTurn(const StepTurn&) = delete;
  StepTurn& operator=(const StepTurn&) = delete;
  /// False when the test was cancelled while this step waited for its turn.
  bool ok() const { return ok_; }

 private:
  const std::atomic<bool>* cancelled_;
  bool ok_ = true;
};

/// The event lane of the steps this thread takes: "test" in a test body, and
/// "test/2" in the second branch of a parallel() there ("test/2/1" nested). Branches
/// are lanes of their own because their steps are concurrent; a branch's lane starts
/// after what its parent did, and the parent continues after all its branches.
const std::string& step_lane();

/// n!: the orderings of n branches (saturating).
std::uint64_t factorial(std::uint64_t n);
/// The `index`-th permutation of 0..n-1 in lexicographic order (Lehmer code).
std::vector<std::size_t> permutation(std::size_t n, std::uint64_t index);

void add_parallel(const std::function<void(std::string_view, vm::NativeFn)>& add);

}  // namespace fb::stdlib
