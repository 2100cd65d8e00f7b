#include "grammar/names.h"

#include <cstdio>

namespace fb::grammar {
namespace {

bool identifier_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

/// The character at `at` as a message shows it: 'x', or \xNN for one that would not print.
std::string shown(unsigned char c) {
  if (c >= 0x21 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
  if (c == ' ') return "a space";
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02x", c);
  return buf;
}

std::string check_label(std::string_view name) {
  if (name.size() > kMaxLabelLength)
    return "a label has at most " + std::to_string(kMaxLabelLength) + " bytes, this one has " +
           std::to_string(name.size());
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f)
      return "a label is printable text on one line; it has " + shown(c) + " at position " +
             std::to_string(i + 1);
  }
  return "";
}

}  // namespace

std::string_view name_kind_text(NameKind kind) {
  switch (kind) {
    case NameKind::kService: return "service";
    case NameKind::kInterface: return "interface";
    case NameKind::kOp: return "op";
    case NameKind::kTest: return "test";
    case NameKind::kAssumption: return "fault_assumption";
    case NameKind::kScenario: return "fault_scenario";
    case NameKind::kLabel: return "label";
  }
  return "name";
}

std::string check_name(NameKind kind, std::string_view name) {
  if (kind == NameKind::kLabel) return check_label(name);
  bool vowel = kind == NameKind::kInterface || kind == NameKind::kOp;
  std::string what = (vowel ? "an " : "a ") + std::string(name_kind_text(kind)) + " name";
  const char* rule =
      "names may use letters, digits, '_', '-' and '.', and do not start with '.' or '-'";
  if (name.empty()) return what + " must not be empty";
  std::size_t longest = kind == NameKind::kTest ? kMaxTestNameLength : kMaxNameLength;
  if (name.size() > longest)
    return what + " has at most " + std::to_string(longest) + " characters, this one has " +
           std::to_string(name.size());
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (!identifier_char(c))
      return what + " may not contain " + shown(c) + " (at position " + std::to_string(i + 1) +
             "): " + rule;
  }
  if (name[0] == '.' || name[0] == '-')
    return what + " may not start with " + shown(static_cast<unsigned char>(name[0])) + ": " + rule;
  return "";
}

}  // namespace fb::grammar
