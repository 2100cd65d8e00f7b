// PostgreSQL wire framing: message extents, the fields the proxy matches on, and the
// messages it synthesizes.
#include "proxy/pg_framing.h"

#include <cctype>

#include "proxy/rules.h"

namespace fb::proxy::pg {

std::uint32_t read_u32(std::string_view b) {
  if (b.size() < 4) return 0;
  return (std::uint32_t{static_cast<unsigned char>(b[0])} << 24) |
         (std::uint32_t{static_cast<unsigned char>(b[1])} << 16) |
         (std::uint32_t{static_cast<unsigned char>(b[2])} << 8) |
         std::uint32_t{static_cast<unsigned char>(b[3])};
}

void put_u32(std::string& out, std::uint32_t v) {
  out += static_cast<char>(v >> 24);
  out += static_cast<char>(v >> 16);
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v);
}

std::string typed_message(char type, std::string_view body) {
  std::string out(1, type);
  put_u32(out, static_cast<std::uint32_t>(body.size() + 4));
  out += body;
  return out;
}

namespace {

/// Type bytes each side may send after the startup phase.
constexpr std::string_view kClientTypes = "BCdcfDEHFPpQSX";
constexpr std::string_view kServerTypes = "RK23CdcGHWDIEVnNAtS1sZTv";

/// The NUL-terminated string at `at`, advancing past it; false when there is no NUL.
bool cstring(std::string_view body, std::size_t& at, std::string& out) {
  auto end = body.find('\0', at);
  if (end == std::string_view::npos) return false;
  out.assign(body.substr(at, end - at));
  at = end + 1;
  return true;
}

}  // namespace

Parse startup_size(std::string_view data, std::size_t& size, std::string& error) {
  if (data.size() < 8) return Parse::kIncomplete;
  std::uint32_t length = read_u32(data);
  // The server refuses startup packets over 10000 bytes; so does the proxy.
  if (length < 8 || length > 10000) {
    error = "startup message length " + std::to_string(length) + " is outside 8..10000";
    return Parse::kMalformed;
  }
  if (data.size() < length) return Parse::kIncomplete;
  size = length;
  return Parse::kComplete;
}

std::vector<std::pair<std::string, std::string>> startup_params(std::string_view message) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t at = 8;
  std::string name, value;
  while (at < message.size() && message[at] != '\0') {
    if (!cstring(message, at, name) || !cstring(message, at, value)) break;
    params.emplace_back(std::move(name), std::move(value));
  }
  return params;
}

Parse message_size(std::string_view data, bool from_client, std::size_t& size, std::string& error) {
  if (data.empty()) return Parse::kIncomplete;
  char type = data[0];
  if ((from_client ? kClientTypes : kServerTypes).find(type) == std::string_view::npos) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(type));
    error =
        std::string("unknown ") + (from_client ? "frontend" : "backend") + " message type " + hex;
    return Parse::kMalformed;
  }
  if (data.size() < 5) return Parse::kIncomplete;
  std::uint32_t length = read_u32(data.substr(1));
  if (length < 4 || length > kMaxMessage) {
    error = std::string("message '") + type + "' has length " + std::to_string(length);
    return Parse::kMalformed;
  }
  if (data.size() - 1 < length) return Parse::kIncomplete;
  size = std::size_t{length} + 1;
  return Parse::kComplete;
}

bool query_sql(std::string_view message, std::string& sql) {
  std::size_t at = 5;
  return message.size() > 5 && cstring(message, at, sql);
}

bool parse_statement(std::string_view message, std::string& name, std::string& sql) {
  std::size_t at = 5;
  return message.size() > 5 && cstring(message, at, name) && cstring(message, at, sql);
}

bool bind_statement(std::string_view message, std::string& statement) {
  std::size_t at = 5;
  std::string portal;
  return message.size() > 5 && cstring(message, at, portal) && cstring(message, at, statement);
}

std::vector<std::pair<char, std::string>> error_fields(std::string_view message) {
  std::vector<std::pair<char, std::string>> fields;
  std::size_t at = 5;
  std::string value;
  while (at < message.size() && message[at] != '\0') {
    char code = message[at++];
    if (!cstring(message, at, value)) break;
    fields.emplace_back(code, std::move(value));
  }
  return fields;
}

std::string error_response(std::string_view severity, std::string_view sqlstate,
                           std::string_view message) {
  std::string body;
  auto field = [&](char code, std::string_view value) {
    body += code;
    // A NUL would end the field early and shift every later one.
    for (char ch : value) body += ch == '\0' ? ' ' : ch;
    body += '\0';
  };
  field('S', severity);
  field('V', severity);  // the untranslated severity, as servers since 9.6 send
  field('C', sqlstate);
  field('M', message);
  body += '\0';
  return typed_message('E', body);
}

std::string ready_for_query(char status) { return typed_message('Z', std::string(1, status)); }

ErrorText split_error_text(std::string_view text, std::string_view fallback_code) {
  ErrorText e{"ERROR", std::string(fallback_code), std::string(text)};
  for (std::string_view severity : {"PANIC", "FATAL", "ERROR"}) {
    if (text.starts_with(severity) && text.substr(severity.size()).starts_with(": ")) {
      e.severity = std::string(severity);
      text.remove_prefix(severity.size() + 2);
      break;
    }
  }
  // "... (SQLSTATE 40P01)": five characters of digits and upper-case letters.
  constexpr std::string_view kTag = " (SQLSTATE ";
  if (text.size() >= kTag.size() + 6 && text.ends_with(")") &&
      text.substr(text.size() - kTag.size() - 6, kTag.size()) == kTag) {
    std::string_view code = text.substr(text.size() - 6, 5);
    bool valid = true;
    for (char ch : code)
      valid = valid && (std::isdigit(static_cast<unsigned char>(ch)) ||
                        std::isupper(static_cast<unsigned char>(ch)));
    if (valid) {
      e.sqlstate = std::string(code);
      text.remove_suffix(kTag.size() + 6);
    }
  }
  e.message = std::string(text);
  return e;
}

std::string canonical_sql(std::string_view sql) {
  auto space = [](char ch) { return std::isspace(static_cast<unsigned char>(ch)) != 0; };
  while (!sql.empty() && space(sql.front())) sql.remove_prefix(1);
  for (;;) {
    while (!sql.empty() && space(sql.back())) sql.remove_suffix(1);
    if (sql.empty() || sql.back() != ';') break;
    sql.remove_suffix(1);
  }
  std::string spaced;
  spaced.reserve(sql.size() + 16);
  bool literal = false;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    char ch = sql[i];
    if (ch == '\'') {
      literal = !literal;
      spaced += ch;
      continue;
    }
    if (literal) {
      spaced += ch;
      continue;
    }
    std::string_view two = sql.substr(i, 2);
    if (two == "!=" || two == "<>" || two == "<=" || two == ">=") {
      spaced += ' ';
      spaced += two;
      spaced += ' ';
      ++i;
      continue;
    }
    if (ch == '=' || ch == '<' || ch == '>' || ch == ',' || ch == '(' || ch == ')') {
      spaced += ' ';
      spaced += ch;
      spaced += ' ';
      continue;
    }
    if (ch == '?') {
      spaced += "$?";
      continue;
    }
    if (ch == '$' && i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      spaced += "$?";
      while (i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) ++i;
      continue;
    }
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    spaced += ch;
  }
  // Whitespace runs collapse to one space, even inside literals (as the reference's
  // final field split does).
  std::string out;
  out.reserve(spaced.size());
  for (char ch : spaced) {
    if (space(ch)) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += ch;
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool sql_match(std::string_view pattern, std::string_view sql) {
  if (pattern.empty()) return true;
  std::string p = canonical_sql(pattern);
  std::string s = canonical_sql(sql);
  if (p.find('*') == std::string::npos) return p == s;
  return glob_match(p, s);
}

}  // namespace fb::proxy::pg
