#include "proxy/rules.h"

#include <cctype>
#include <optional>

namespace fb::proxy {

namespace {

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

/// One character class at the start of `p` ("[a-z]", "[^0-9]"), matched against `c`.
/// nullopt for a malformed class; `used` is how much of `p` it took.
std::optional<bool> match_class(std::string_view p, char c, std::size_t& used) {
  std::size_t i = 1;
  bool negate = i < p.size() && p[i] == '^';
  if (negate) ++i;
  bool matched = false, first = true;
  while (i < p.size() && (first || p[i] != ']')) {
    first = false;
    char lo = p[i];
    if (lo == '\\') {
      if (++i >= p.size()) return std::nullopt;
      lo = p[i];
    }
    ++i;
    char hi = lo;
    if (i + 1 < p.size() && p[i] == '-' && p[i + 1] != ']') {
      hi = p[i + 1];
      if (hi == '\\') {
        if (i + 2 >= p.size()) return std::nullopt;
        hi = p[i + 2];
        ++i;
      }
      i += 2;
    }
    if (lo <= c && c <= hi) matched = true;
  }
  if (i >= p.size()) return std::nullopt;  // no closing ']'
  used = i + 1;
  return matched != negate;
}

/// A shell-style match in which `*` and `?` do not cross '/'. nullopt for a malformed
/// pattern.
std::optional<bool> segment_match(std::string_view p, std::string_view s) {
  if (p.empty()) return s.empty();
  switch (p[0]) {
    case '*': {
      // The longest run of '*' is one; it may take any number of non-'/' characters.
      std::size_t stars = p.find_first_not_of('*');
      std::string_view rest = stars == std::string_view::npos ? "" : p.substr(stars);
      for (std::size_t take = 0;; ++take) {
        auto m = segment_match(rest, s.substr(take));
        if (!m) return std::nullopt;
        if (*m) return true;
        if (take >= s.size() || s[take] == '/') return false;
      }
    }
    case '?':
      if (s.empty() || s[0] == '/') return false;
      return segment_match(p.substr(1), s.substr(1));
    case '[': {
      if (s.empty() || s[0] == '/') {
        std::size_t used = 0;
        if (!match_class(p, 'a', used)) return std::nullopt;
        return false;
      }
      std::size_t used = 0;
      auto m = match_class(p, s[0], used);
      if (!m) return std::nullopt;
      return *m && segment_match(p.substr(used), s.substr(1)).value_or(false);
    }
    case '\\':
      if (p.size() < 2) return std::nullopt;
      if (s.empty() || s[0] != p[1]) return false;
      return segment_match(p.substr(2), s.substr(1));
    default:
      if (s.empty() || s[0] != p[0]) return false;
      return segment_match(p.substr(1), s.substr(1));
  }
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return true;
  if (pattern.find('*') == std::string_view::npos) return iequal(pattern, text);
  if (segment_match(pattern, text).value_or(false)) return true;
  // A trailing '*' also matches as a prefix test, a leading one as a suffix test, so
  // that "/api/*" reaches any depth.
  if (pattern.back() == '*') {
    std::string_view prefix = pattern.substr(0, pattern.find_last_not_of('*') + 1);
    if (pattern.find_last_not_of('*') == std::string_view::npos) return true;
    if (text.starts_with(prefix)) return true;
  }
  if (pattern.front() == '*') {
    std::string_view suffix = pattern.substr(pattern.find_first_not_of('*'));
    if (text.ends_with(suffix)) return true;
  }
  return false;
}

bool matches(const Rule& rule, const Message& message, unsigned own, bool strict) {
  auto one = [&](Field field, const std::string& pattern, const std::string& value) {
    if (pattern.empty()) return true;
    if (own & field) return glob_match(pattern, value);
    return !strict || glob_match(pattern, "");
  };
  return one(kMethod, rule.method, message.method) && one(kPath, rule.path, message.path) &&
         one(kQuery, rule.query, message.query) && one(kCommand, rule.command, message.command) &&
         one(kKey, rule.key, message.key) && one(kTopic, rule.topic, message.topic);
}

const char* action_name(Rule::Action action) {
  switch (action) {
    case Rule::Action::kRespond: return "respond";
    case Rule::Action::kError: return "error";
    case Rule::Action::kDelay: return "delay";
    case Rule::Action::kDrop: return "drop";
    case Rule::Action::kDuplicate: return "duplicate";
  }
  return "?";
}

}  // namespace fb::proxy
