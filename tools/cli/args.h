#pragma once
/// Command-line flag parsing shared by every subcommand, so all of them accept the same
/// forms (`--flag value`, `--flag=value`, `--` to end flags) and fail the same way.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fb::cli {

enum class FlagKind { kSwitch, kValue, kRepeated };  // kRepeated: a value, collected each time

struct FlagSpec {
  std::string_view name;  // without dashes: "format"
  FlagKind kind;
  std::string_view value_name;  // "text|json"; empty for switches
  std::string_view help;
};

struct ParsedArgs {
  std::vector<std::string> positionals;
  std::map<std::string, std::string, std::less<>> values;  // last occurrence wins
  std::vector<std::string> switches;
  std::map<std::string, std::vector<std::string>, std::less<>> lists;  // kRepeated, in order

  bool has(std::string_view name) const;
  std::optional<std::string> value(std::string_view name) const;
  /// Every value a kRepeated flag was given, in order.
  std::vector<std::string> all(std::string_view name) const;
};

/// A non-negative decimal integer (a --seed), or nullopt for anything else.
std::optional<std::uint64_t> parse_unsigned(std::string_view text);

/// The flag every command that runs Starlark takes: --max-memory SIZE ("512MiB", "2G",
/// bytes), the budget of what a program (or each test body) may allocate.
inline constexpr FlagSpec kMaxMemoryFlag{
    "max-memory", FlagKind::kValue, "SIZE",
    "stop a program that allocates more than SIZE (default 1GiB; e.g. 512MiB, 2G)"};
/// --max-memory's value (vm::kDefaultMemoryLimit when absent); nullopt with `error`
/// when it is not a size.
std::optional<std::int64_t> max_memory(const ParsedArgs& args, std::string& error);

/// Parses `args` against `flags`. On a bad flag returns nullopt and sets `error` to a
/// one-line message naming the flag ("unknown flag '--fromat' (did you mean '--format'?)").
/// With `stop_at_positional`, the first positional ends the flags: it and everything
/// after it are positionals (a command line to run, whose flags are its own).
std::optional<ParsedArgs> parse_args(const std::vector<std::string>& args,
                                     const std::vector<FlagSpec>& flags, std::string& error,
                                     bool stop_at_positional = false);

}  // namespace fb::cli
