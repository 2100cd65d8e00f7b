#pragma once
/// How a service's output lines become event fields, for service(observe=[...]): a
/// JSON object's members, logfmt's key=value pairs, or a regular expression's named
/// groups. A line a decoder cannot read is never dropped: its event carries the text in
/// `raw` and the reason in `decode_error`.

#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/event_log.h"

namespace fb::runtime {

class LineDecoder {
 public:
  enum class Kind { kRaw, kJson, kLogfmt, kRegex };

  /// The longest line a regex is run on: std::regex recurses per character, and a
  /// service's output is not a place to find its stack's end.
  static constexpr std::size_t kMaxRegexLine = 4096;
  /// The longest `raw` text an event keeps; the rest is cut and `truncated` set.
  static constexpr std::size_t kMaxRaw = 65536;

  /// A decoder; for kRegex, `pattern` in the reference's (RE2) syntax, of which named
  /// groups `(?P<name>...)`/`(?<name>...)`, `(?:...)`, lookahead and a leading `(?i)` are
  /// understood. nullopt with `error` when the pattern cannot be used.
  static std::optional<LineDecoder> make(Kind kind, std::string_view pattern, std::string& error);

  /// The fields of one line (without its newline).
  EventLog::Fields decode(std::string_view line) const;

  Kind kind() const { return kind_; }

 private:
  explicit LineDecoder(Kind kind) : kind_(kind) {}
  Kind kind_;
  std::shared_ptr<const std::regex> regex_;
  std::vector<std::string> group_names_;  // by group number - 1; "" for unnamed groups
};

/// The deepest nesting of arrays and objects in JSON text (brackets inside strings do
/// not count). Decoding recurses per level, so text nested beyond a limit is refused
/// before it is parsed.
std::size_t json_nesting(std::string_view text);
/// How deeply nested JSON faultbox decodes (service output, step responses).
inline constexpr std::size_t kMaxJsonNesting = 1000;

}  // namespace fb::runtime
