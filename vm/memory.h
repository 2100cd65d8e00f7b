#pragma once
/// Memory accounting for Starlark programs.
///
/// A spec can ask for any amount of memory (`x = x + x` a hundred times), and a step
/// budget does not bound it: a few steps can double a list thirty times. So the VM
/// charges a MemoryBudget for the heap memory allocated while Starlark runs, and a
/// program that goes over its budget stops with an error at the line that allocated.
///
/// Charging happens in the process's operator new and delete (vm/memory.cc), which ask
/// a thread-local pointer which budget, if any, the allocating OS thread charges now.
/// The VM sets it while it runs a program or a call (MemoryScope) and embedders clear
/// it while a builtin waits outside the VM (MemoryPause), so what a budget counts is
/// the memory its Starlark code allocated, whichever OS threads ran it. A budget is
/// touched only by the thread that holds the VM (the embedder's VM lock), so its
/// counters need no atomics.

#include <cstdint>
#include <string>

namespace fb::vm {

struct MemoryBudget {
  /// Bytes allocated minus bytes freed while charged (negative when a program frees
  /// what was allocated before it started). Only the limit makes it matter.
  std::int64_t used = 0;
  /// The most `used` has been since the last reset.
  std::int64_t peak = 0;
  std::int64_t limit = INT64_MAX;
  /// Set by the allocator once `used` passes `limit`; the VM checks it and fails.
  bool exceeded = false;

  void reset() {
    used = peak = 0;
    exceeded = false;
  }
  /// Whether `bytes` more would still fit (checked before one large allocation). A
  /// negative `used` counts as nothing used.
  bool fits(std::uint64_t bytes) const {
    std::int64_t room = used <= 0 ? limit : limit - used;
    return room > 0 && bytes <= static_cast<std::uint64_t>(room);
  }
};

/// The default budget of a program run by `eval`, `check`, `plan`, and of each test body.
inline constexpr std::int64_t kDefaultMemoryLimit = std::int64_t{1} << 30;

/// "1 GiB", "512 MiB", "10 KiB", "300 B".
std::string format_bytes(std::int64_t bytes);
/// Reads "1GiB", "512MiB", "512M", "2G", "100000" (bytes); false when it is not one.
bool parse_bytes(const std::string& text, std::int64_t& out);

/// While alive, allocations on this OS thread charge `budget` (nullptr: none). Nests:
/// the previous budget comes back when it ends.
class MemoryScope {
 public:
  explicit MemoryScope(MemoryBudget* budget);
  ~MemoryScope();
  MemoryScope(const MemoryScope&) = delete;
  MemoryScope& operator=(const MemoryScope&) = delete;

 private:
  MemoryBudget* previous_;
};

/// While alive, this OS thread charges no budget: for a builtin that gives up the VM
/// while it waits, so that what it allocates meanwhile (and what another thread running
/// Starlark allocates) is not counted twice or raced on.
class MemoryPause : public MemoryScope {
 public:
  MemoryPause() : MemoryScope(nullptr) {}
};

/// The budget this OS thread charges now, or nullptr.
MemoryBudget* charged_budget();
/// Makes this OS thread charge `budget` (nullptr: none) and returns the one it charged;
/// for scopes that cannot be a block (MemoryScope is the usual way).
MemoryBudget* exchange_charged_budget(MemoryBudget* budget);

}  // namespace fb::vm
