#include "runtime/rules.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace fb::runtime {

// ---- globs --------------------------------------------------------------------------------

namespace {

/// Dynamic programming over (pattern token, path position): O(|p|·|s|) for any pattern,
/// however many stars it has. After processing token k, `next[j]` says whether tokens
/// k.. match s[j..].
bool glob_from(std::string_view p, std::string_view s) {
  enum : int { kDoubleStar = -3, kStar = -2, kAny = -1 };
  std::vector<int> tokens;  // a byte (0..255) or one of the kinds above
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '*' && i + 1 < p.size() && p[i + 1] == '*') {
      tokens.push_back(kDoubleStar);
      ++i;
    } else if (p[i] == '*') {
      tokens.push_back(kStar);
    } else if (p[i] == '?') {
      tokens.push_back(kAny);
    } else {
      tokens.push_back(static_cast<unsigned char>(p[i]));
    }
  }
  std::size_t n = s.size();
  std::vector<char> next(n + 1, 0), row(n + 1, 0);
  next[n] = 1;  // no tokens left matches only the end of the path
  for (std::size_t k = tokens.size(); k-- > 0;) {
    int t = tokens[k];
    for (std::size_t j = n + 1; j-- > 0;) {
      bool more = j < n;
      switch (t) {
        case kDoubleStar: row[j] = next[j] || (more && row[j + 1]); break;
        case kStar: row[j] = next[j] || (more && s[j] != '/' && row[j + 1]); break;
        case kAny: row[j] = more && s[j] != '/' && next[j + 1]; break;
        default: row[j] = more && static_cast<unsigned char>(s[j]) == t && next[j + 1]; break;
      }
    }
    next.swap(row);
  }
  return next[0] != 0;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) {
  return pattern.empty() || glob_from(pattern, path);
}

bool path_glob_match(std::string_view pattern, std::string_view path) {
  if (pattern.find('/') != std::string_view::npos) return glob_match(pattern, path);
  std::size_t slash = path.rfind('/');
  return glob_match(pattern, slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// ---- durations ------------------------------------------------------------------------------

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text, std::string& error) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) {
    error = "empty duration";
    return std::nullopt;
  }
  long double total = 0;
  while (!s.empty()) {
    std::size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == 0) {
      error = "invalid duration \"" + std::string(text) + "\": expected a number";
      return std::nullopt;
    }
    std::string number(s.substr(0, i));
    s.remove_prefix(i);
    std::size_t u = 0;
    while (u < s.size() && !std::isdigit(static_cast<unsigned char>(s[u])) && s[u] != '.') ++u;
    std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    long double scale = unit == "ns"                     ? 1
                        : (unit == "us" || unit == "µs") ? 1e3
                        : unit == "ms"                   ? 1e6
                        : unit == "s"                    ? 1e9
                        : unit == "m"                    ? 60e9
                        : unit == "h"                    ? 3600e9
                                                         : 0;
    if (scale == 0) {
      error = unit.empty() ? "invalid duration \"" + std::string(text) +
                                 "\": missing unit (ns, us, ms, s, m, h)"
                           : "invalid duration \"" + std::string(text) + "\": unknown unit \"" +
                                 std::string(unit) + "\"";
      return std::nullopt;
    }
    char* end = nullptr;
    long double value = std::strtold(number.c_str(), &end);
    if (*end != '\0') {
      error = "invalid duration \"" + std::string(text) + "\"";
      return std::nullopt;
    }
    total += value * scale;
  }
  if (total > 9.2e18L) {
    error = "duration \"" + std::string(text) + "\" is too long";
    return std::nullopt;
  }
  auto ns = static_cast<std::int64_t>(std::llround(static_cast<double>(total)));
  return std::chrono::nanoseconds(negative ? -ns : ns);
}

std::string format_duration(std::chrono::nanoseconds d) {
  std::int64_t ns = d.count();
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  std::uint64_t v = ns < 0 ? 0 - static_cast<std::uint64_t>(ns) : static_cast<std::uint64_t>(ns);
  auto fixed = [](std::uint64_t value, std::uint64_t unit, const char* suffix) {
    std::string whole = std::to_string(value / unit);
    std::uint64_t frac = value % unit;
    if (frac == 0) return whole + suffix;
    std::string digits = std::to_string(frac + unit).substr(1);  // zero-padded
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    return whole + "." + digits + suffix;
  };
  if (v < 1000) return sign + std::to_string(v) + "ns";
  if (v < 1000000) return sign + fixed(v, 1000, "µs");
  if (v < 1000000000) return sign + fixed(v, 1000000, "ms");
  std::uint64_t seconds = v / 1000000000, rest = v % 1000000000;
  std::string out;
  if (seconds >= 3600) out += std::to_string(seconds / 3600) + "h";
  if (seconds >= 60) out += std::to_string(seconds / 60 % 60) + "m";
  out += fixed((seconds % 60) * 1000000000 + rest, 1000000000, "s");
  return sign + out;
}

// ---- deterministic draws ----------------------------------------------------------------------

namespace {
std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
std::uint64_t fnv(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}
}  // namespace

double draw(std::uint64_t seed, std::string_view service, std::string_view rule,
            std::uint64_t occurrence) {
  std::uint64_t h = splitmix(seed);
  h = splitmix(h ^ fnv(service));
  h = splitmix(h ^ fnv(rule));
  h = splitmix(h ^ occurrence);
  return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);  // 53 bits
}

// ---- the --fault grammar --------------------------------------------------------------------

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

bool parse_count(std::string_view text, std::uint64_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

/// "50%" and "50" -> 0.5: on the command line a probability is always a percentage, as
/// in the reference ("1" is 1%, not 100%; "0.5" is half a percent).
bool parse_probability(std::string_view text, double& out, std::string& error) {
  std::string_view number = text;
  bool percent = !number.empty() && number.back() == '%';
  if (percent) number.remove_suffix(1);
  std::string copy(number);
  char* end = nullptr;
  double v = std::strtod(copy.c_str(), &end);
  if (copy.empty() || *end != '\0' || std::isnan(v)) {
    error = "probability \"" + std::string(text) + "\" is not a number (write 50% or 50)";
    return false;
  }
  v /= 100;
  if (v < 0 || v > 1) {
    error = "probability \"" + std::string(text) + "\" is outside 0%..100%";
    return false;
  }
  out = v;
  return true;
}

bool looks_like_probability(std::string_view part) {
  return !part.empty() &&
         (part.back() == '%' || std::isdigit(static_cast<unsigned char>(part[0])) ||
          part[0] == '.') &&
         part.find('/') == std::string_view::npos && part.find('*') == std::string_view::npos;
}

}  // namespace

std::optional<FaultRule> parse_fault(std::string_view spec, Arch arch, std::string& error,
                                     Suggester suggest) {
  auto hint = [&](std::string_view word, std::vector<std::string> candidates) -> std::string {
    if (!suggest) return "";
    auto near = suggest(word, candidates);
    return near ? " (did you mean \"" + *near + "\"?)" : "";
  };
  FaultRule rule;
  rule.source = std::string(spec);
  auto eq = spec.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    error = "fault \"" + std::string(spec) + "\": expected SYSCALL=ERRNO or SYSCALL=delay:DURATION";
    return std::nullopt;
  }
  std::string_view name = spec.substr(0, eq);
  rule.syscalls = expand(arch, name);
  if (rule.syscalls.empty()) {
    std::vector<std::string> names = syscall_names(arch);
    for (auto& family : family_names()) names.push_back(family);
    error = "fault \"" + std::string(spec) + "\": unknown syscall \"" + std::string(name) +
            "\" on " + std::string(arch_name(arch)) + hint(name, names);
    return std::nullopt;
  }
  std::vector<std::string_view> parts = split(spec.substr(eq + 1), ':');
  std::size_t next = 1;
  if (parts[0] == "delay") {
    rule.action = FaultRule::Action::kDelay;
    if (parts.size() < 2) {
      error = "fault \"" + std::string(spec) + "\": delay needs a duration (delay:500ms)";
      return std::nullopt;
    }
    std::string why;
    auto d = parse_duration(parts[1], why);
    if (!d || d->count() < 0) {
      error = "fault \"" + std::string(spec) + "\": " + (d ? "a delay cannot be negative" : why);
      return std::nullopt;
    }
    rule.delay = *d;
    next = 2;
  } else {
    const ErrnoInfo* e = find_errno(parts[0]);
    if (!e) {
      error = "fault \"" + std::string(spec) + "\": unknown errno \"" + std::string(parts[0]) +
              "\"" + hint(parts[0], errno_names());
      return std::nullopt;
    }
    rule.error = e->number;
  }
  for (std::size_t i = next; i < parts.size(); ++i) {
    std::string_view part = parts[i];
    std::string where = "fault \"" + std::string(spec) + "\", part " + std::to_string(i + 1) +
                        " \"" + std::string(part) + "\": ";
    if (part.starts_with("nth=") || part.starts_with("after=")) {
      if (rule.nth || rule.after) {
        error = where + "nth= and after= can be given once, not both";
        return std::nullopt;
      }
      bool nth = part.starts_with("nth=");
      std::uint64_t n = 0;
      if (!parse_count(part.substr(nth ? 4 : 6), n) || (nth && n == 0)) {
        error = where + (nth ? "nth= wants a count from 1" : "after= wants a count from 0");
        return std::nullopt;
      }
      (nth ? rule.nth : rule.after) = n;
      if (!nth && n == 0) rule.after = 0;
      continue;
    }
    if (looks_like_probability(part)) {
      std::string why;
      if (!parse_probability(part, rule.probability, why)) {
        error = where + why;
        return std::nullopt;
      }
      continue;
    }
    if (part.empty()) {
      error = where + "empty part";
      return std::nullopt;
    }
    if (!rule.path_glob.empty()) {
      error = where + "a second path glob (a glob cannot contain ':')";
      return std::nullopt;
    }
    rule.path_glob = std::string(part);
  }
  return rule;
}

}  // namespace fb::runtime
