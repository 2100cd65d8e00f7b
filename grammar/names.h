#pragma once
/// The rules for the names a spec gives things: services, interfaces, ops, tests, fault
/// assumptions and scenarios, and labels. Names become file names (a test's log folder,
/// a service's log file), environment variables and report keys, so they are checked
/// where they are written: statically by `faultbox check` when the name is a literal,
/// and by the builtin when the spec runs.

#include <string>
#include <string_view>

namespace fb::grammar {

enum class NameKind {
  kService,
  kInterface,
  kOp,
  kTest,
  kAssumption,  // fault_assumption(): its name is part of matrix test names
  kScenario,    // fault_scenario()
  kLabel,       // label= of a fault or rule: free text on one line
};

/// "service", "interface", ... as the messages say it.
std::string_view name_kind_text(NameKind kind);

/// "" when `name` is a valid name of its kind; otherwise why not, in a sentence that
/// names the allowed characters. Identifiers (services and tests) may use letters,
/// digits, '_', '-' and '.', not start with '.' or '-', and have at most
/// kMaxNameLength characters (tests kMaxTestNameLength); labels may hold any printable text up to
/// kMaxLabelLength bytes on one line.
std::string check_name(NameKind kind, std::string_view name);

inline constexpr std::size_t kMaxNameLength = 128;
/// Tests are longer: fault_matrix() names a cell test_matrix_<scenario>_<fault>.
inline constexpr std::size_t kMaxTestNameLength = 240;
inline constexpr std::size_t kMaxLabelLength = 200;

}  // namespace fb::grammar
