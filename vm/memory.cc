// Memory accounting: the replacement operator new and delete that charge the budget of
// the allocating OS thread (vm/memory.h). They are defined here, next to MemoryScope,
// so that every program that runs the VM links them; they keep malloc's semantics and
// cost one thread-local load when no budget is charged.
#include "vm/memory.h"

#include <malloc.h>

#include <cctype>
#include <cstdlib>
#include <new>

namespace fb::vm {
namespace {

// constinit: no guard for the thread-local, so operator new can read it at any time,
// even while the thread's own thread-locals are being set up.
constinit thread_local MemoryBudget* t_budget = nullptr;

/// What an allocation costs beyond the bytes asked for: glibc's chunk header and
/// rounding, on average. Counted alike both ways, so it cancels out when freed.
constexpr std::int64_t kAllocationOverhead = 16;

void charge(std::size_t size) {
  MemoryBudget* budget = t_budget;
  if (!budget) return;
  budget->used += static_cast<std::int64_t>(size) + kAllocationOverhead;
  if (budget->used > budget->peak) budget->peak = budget->used;
  if (budget->used > budget->limit) budget->exceeded = true;
}

/// A sized delete says what was asked for; an unsized one (rare: most C++ deletes are
/// sized) is credited what malloc reserved, which is at least as much.
void credit(void* p, std::size_t size) {
  MemoryBudget* budget = t_budget;
  if (!budget || !p) return;
  if (size == 0) size = ::malloc_usable_size(p);
  budget->used -= static_cast<std::int64_t>(size) + kAllocationOverhead;
}

void* allocate(std::size_t size) {
  for (;;) {
    if (void* p = std::malloc(size ? size : 1)) {
      charge(size);
      return p;
    }
    std::new_handler handler = std::get_new_handler();
    if (!handler) throw std::bad_alloc();
    handler();
  }
}

void release(void* p, std::size_t size = 0) noexcept {
  credit(p, size);
  std::free(p);
}

}  // namespace

MemoryScope::MemoryScope(MemoryBudget* budget) : previous_(t_budget) { t_budget = budget; }
MemoryScope::~MemoryScope() { t_budget = previous_; }

MemoryBudget* charged_budget() { return t_budget; }

MemoryBudget* exchange_charged_budget(MemoryBudget* budget) {
  MemoryBudget* previous = t_budget;
  t_budget = budget;
  return previous;
}

std::string format_bytes(std::int64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) value /= 1024, ++unit;
  char buf[32];
  if (unit == 0 || value >= 100 || value == static_cast<double>(static_cast<std::int64_t>(value)))
    std::snprintf(buf, sizeof buf, "%.0f %s", value, kUnits[unit]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", value, kUnits[unit]);
  return buf;
}

bool parse_bytes(const std::string& text, std::int64_t& out) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 15) return false;
  std::int64_t number = std::stoll(text.substr(0, digits));
  std::string unit = text.substr(digits);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int shift = 0;
  if (unit.empty() || unit == "b")
    shift = 0;
  else if (unit == "k" || unit == "kb" || unit == "kib")
    shift = 10;
  else if (unit == "m" || unit == "mb" || unit == "mib")
    shift = 20;
  else if (unit == "g" || unit == "gb" || unit == "gib")
    shift = 30;
  else
    return false;
  if (number > (INT64_MAX >> shift)) return false;
  out = number << shift;
  return out > 0;
}

}  // namespace fb::vm

// ---- LeakSanitizer ------------------------------------------------------------------------
// The VM counts references and has no cycle collector, so a reference cycle a Starlark
// program makes (a list that contains itself, a closure that refers to itself) is never
// freed (docs/vm.md). In sanitizer builds every program that runs the VM tells
// LeakSanitizer so: objects allocated while bytecode runs are not reported, leaks
// anywhere else still are. Leaks of the VM's own making show up in the memory budget's
// tests, which check that what a program frees is given back.
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define FB_LEAK_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(FB_LEAK_SANITIZER)
// (By the interpreter's function, and by its file, which is what names the frame when
// the compiler inlined it.)
extern "C" const char* __lsan_default_suppressions() {
  return "leak:fb::vm::*Frame::loop\nleak:vm/interp.cc\n";
}
#endif

// ---- the replacement allocation functions ------------------------------------------------
// The aligned forms are left to the library: nothing the VM allocates is over-aligned.

void* operator new(std::size_t size) { return fb::vm::allocate(size); }
void* operator new[](std::size_t size) { return fb::vm::allocate(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return fb::vm::allocate(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return fb::vm::allocate(size);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { fb::vm::release(p); }
void operator delete[](void* p) noexcept { fb::vm::release(p); }
void operator delete(void* p, std::size_t size) noexcept { fb::vm::release(p, size); }
void operator delete[](void* p, std::size_t size) noexcept { fb::vm::release(p, size); }
void operator delete(void* p, const std::nothrow_t&) noexcept { fb::vm::release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { fb::vm::release(p); }
