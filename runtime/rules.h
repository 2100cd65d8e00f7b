#pragma once
/// Fault rules as plain data, and the pieces that decide them without touching the OS:
/// path globs, Go-style durations, deterministic probability draws, and the
/// `faultbox run --fault` grammar.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/syscalls.h"

namespace fb::runtime {

/// Glob match over paths: `*` and `?` stay within one segment, `**` crosses `/`.
/// An empty pattern matches every path.
bool glob_match(std::string_view pattern, std::string_view path);
/// A file path glob as .gitignore reads one: a pattern without '/' matches the file's
/// name in any folder (`*.wal` matches /var/lib/app/orders.wal); one with '/' is
/// matched against the whole path, as glob_match does.
bool path_glob_match(std::string_view pattern, std::string_view path);

/// Parses a Go duration ("500ms", "1.5s", "1h30m", "-2us"); units ns us µs ms s m h.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text, std::string& error);
/// "500ms", "1.5s", "1m30s": the shortest Go-style spelling of a duration.
std::string format_duration(std::chrono::nanoseconds d);

/// A uniform draw in [0, 1) that depends only on its inputs: the same seed gives the
/// same decisions whatever the thread timing (counter-based, SplitMix64 mixing).
double draw(std::uint64_t seed, std::string_view service, std::string_view rule,
            std::uint64_t occurrence);

struct FaultRule {
  enum class Action { kDeny, kDelay, kAllow, kTrace, kHold } action = Action::kDeny;
  std::vector<std::string> syscalls;  // expanded family members
  int error = 0;                      // errno for kDeny
  std::chrono::nanoseconds delay{0};  // for kDelay
  double probability = 1.0;
  std::string path_glob;        // empty: any path
  std::uint64_t nth = 0;        // fire only on the nth match (1-based), 0: off
  std::uint64_t after = 0;      // fire on every match after the first `after`
  std::uint64_t max_fires = 0;  // stop firing after this many fires, 0: no limit
  /// An exhaustive plan leaf's decisions: whether the rule fires on its 1st, 2nd, ...
  /// matching call. Calls past the end are drawn as usual; empty: every call is drawn.
  std::vector<bool> pinned;
  /// An exhaustive probability site (max_fires= with probability < 1, not stochastic):
  /// whoever installs the rule pins its first max_fires decisions from the plan leaf.
  bool exhaustive = false;
  std::string label;
  std::string op;      // the service's named operation this rule came from, if any
  std::string source;  // the text the rule came from, for messages and events
};

/// Proposes the candidate a misspelt word was meant to be (the CLI passes the frontend's
/// did-you-mean; the runtime has none of its own).
using Suggester = std::optional<std::string> (*)(std::string_view word,
                                                 const std::vector<std::string>& candidates);

/// Parses `SYSCALL=ERRNO[:PROB%][:GLOB][:nth=N|after=N]` or
/// `SYSCALL=delay:DUR[:PROB%][:GLOB][:nth=N|after=N]` for `arch`. On failure returns
/// nullopt and sets `error` to a message naming the faulty part, with a suggestion for
/// an unknown syscall or errno when `suggest` is given.
std::optional<FaultRule> parse_fault(std::string_view spec, Arch arch, std::string& error,
                                     Suggester suggest = nullptr);

}  // namespace fb::runtime
