#include "runtime/redact.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace fb::runtime {
namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool starts_with_nocase(std::string_view text, std::size_t at, std::string_view word) {
  if (text.size() - at < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i)
    if (lower(text[at + i]) != lower(word[i])) return false;
  return true;
}

bool contains_nocase(std::string_view text, std::string_view word) {
  for (std::size_t at = 0; at + word.size() <= text.size(); ++at)
    if (starts_with_nocase(text, at, word)) return true;
  return false;
}

/// Where the line that starts at `at` ends: at a raw CR or LF, or at an escaped one
/// ("\r", "\n", "\x0d", "\x0a" as printed text shows them).
std::size_t line_end(std::string_view text, std::size_t at) {
  for (; at < text.size(); ++at) {
    if (text[at] == '\r' || text[at] == '\n') return at;
    if (text[at] == '\\' &&
        (text.substr(at, 2) == "\\r" || text.substr(at, 2) == "\\n" ||
         starts_with_nocase(text, at, "\\x0d") || starts_with_nocase(text, at, "\\x0a")))
      return at;
  }
  return text.size();
}

/// Whether `at` starts a line: the text's start, or just after a raw or escaped newline.
bool line_start(std::string_view text, std::size_t at) {
  if (at == 0) return true;
  if (text[at - 1] == '\n' || text[at - 1] == '\r') return true;
  return (at >= 2 && (text.substr(at - 2, 2) == "\\n" || text.substr(at - 2, 2) == "\\r")) ||
         (at >= 4 &&
          (starts_with_nocase(text, at - 4, "\\x0a") || starts_with_nocase(text, at - 4, "\\x0d")));
}

/// Header lines whose value is a credential.
void redact_headers(std::string& text) {
  static constexpr std::array<std::string_view, 3> kHeaders = {
      "authorization:", "proxy-authorization:", "cookie:"};
  for (std::size_t at = 0; at < text.size(); ++at) {
    if (!line_start(text, at)) continue;
    for (std::string_view header : kHeaders) {
      if (!starts_with_nocase(text, at, header)) continue;
      std::size_t value = at + header.size();
      while (value < text.size() && text[value] == ' ') ++value;
      std::size_t end = line_end(text, value);
      text.replace(value, end - value, kRedacted);
      at = value + kRedacted.size() - 1;
      break;
    }
  }
}

/// scheme://user:password@host: everything between "//" and the '@' of the authority.
void redact_userinfo(std::string& text) {
  for (std::size_t at = text.find("://"); at != std::string::npos; at = text.find("://", at + 1)) {
    std::size_t start = at + 3;
    std::size_t end = start;
    while (end < text.size() && text[end] != '/' && text[end] != '@' && text[end] != ' ' &&
           text[end] != '?' && text[end] != '#' && text[end] != '\r' && text[end] != '\n')
      ++end;
    if (end >= text.size() || text[end] != '@' || end == start) continue;
    text.replace(start, end - start, kRedacted);
  }
}

/// "AUTH <anything>" as a word at the start of the text, a line, or after HELLO's
/// arguments ("HELLO 3 AUTH user pw").
void redact_redis_auth(std::string& text) {
  for (std::size_t at = 0; at + 4 <= text.size(); ++at) {
    if (!starts_with_nocase(text, at, "auth")) continue;
    bool word_before = at == 0 || text[at - 1] == ' ' || line_start(text, at);
    if (!word_before) continue;
    std::size_t after = at + 4;
    if (after >= text.size()) continue;
    // Only where AUTH is a command: the text starts with it, or HELLO precedes it.
    bool command = line_start(text, at) || contains_nocase(text.substr(0, at), "hello ");
    if (!command) continue;
    if (text[after] == ' ') {  // inline: "AUTH user pw"
      std::size_t end = line_end(text, after + 1);
      text.replace(after + 1, end - after - 1, kRedacted);
      at = after + kRedacted.size();
    } else if (line_end(text, after) == after) {
      // RESP: "*3\r\n$4\r\nAUTH\r\n$4\r\nuser..." - every argument after it.
      std::size_t value = after;
      while (value < text.size() && (text[value] == '\r' || text[value] == '\n')) ++value;
      if (value == after) value = after + (text[after + 1] == 'x' ? 4 : 2);  // escaped
      if (value < text.size()) text.replace(value, std::string::npos, kRedacted);
      return;
    }
  }
}

}  // namespace

std::string redact(std::string_view text) {
  std::string out(text);
  if (out.find(':') != std::string::npos) {
    redact_headers(out);
    redact_userinfo(out);
  }
  redact_redis_auth(out);
  return out;
}

bool secret_name(std::string_view name) {
  // "pass" covers password, passwd and requirepass; a name it catches needlessly
  // (BYPASS_CACHE) only loses its value in what faultbox shows.
  for (std::string_view word : {"pass", "secret", "token", "key", "credential"})
    if (contains_nocase(name, word)) return true;
  return false;
}

std::string redact_command_line(std::string_view command) {
  std::string out;
  bool hide_next = false;
  std::size_t at = 0;
  while (at <= command.size()) {
    std::size_t end = std::min(command.find(' ', at), command.size());
    std::string_view word = command.substr(at, end - at);
    std::string shown(word);
    if (hide_next) {
      shown = kRedacted;
      hide_next = false;
    } else if (word.starts_with("-")) {
      std::size_t equals = word.find('=');
      std::string_view name = word.substr(0, equals);
      if (secret_name(name)) {
        if (equals == std::string_view::npos)
          hide_next = true;
        else
          shown = std::string(word.substr(0, equals + 1)) + std::string(kRedacted);
      }
    }
    out += (out.empty() && at == 0 ? "" : " ") + shown;
    at = end + 1;
  }
  return redact(out);
}

std::string redact_env(std::string_view name, std::string_view value) {
  return secret_name(name) ? std::string(kRedacted) : redact(value);
}

bool redis_setup_command(std::string_view command) {
  for (std::string_view setup : {"auth", "hello", "select", "client"})
    if (command.size() == setup.size() && starts_with_nocase(command, 0, setup)) return true;
  return false;
}

}  // namespace fb::runtime
