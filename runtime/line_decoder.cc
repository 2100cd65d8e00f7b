// Output-line decoders: JSON, logfmt and regex named groups into event fields.
#include "runtime/line_decoder.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace fb::runtime {

namespace {

EventLog::Fields undecodable(std::string_view line, std::string why) {
  EventLog::Fields fields;
  if (line.size() > LineDecoder::kMaxRaw) {
    fields.emplace_back("raw", std::string(line.substr(0, LineDecoder::kMaxRaw)));
    fields.emplace_back("truncated", std::int64_t{1});
  } else {
    fields.emplace_back("raw", std::string(line));
  }
  if (!why.empty()) fields.emplace_back("decode_error", std::move(why));
  return fields;
}

/// A JSON value as an event field: text, as the reference gives every field (specs
/// compare `e.stock == "3"`, and `int(e.stock)` works as well): a string as itself,
/// anything else (numbers, booleans, null, arrays, objects) as its JSON text.
FieldValue json_field(const nlohmann::ordered_json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

EventLog::Fields decode_json(std::string_view line) {
  if (json_nesting(line) > kMaxJsonNesting)
    return undecodable(line,
                       "JSON nested more than " + std::to_string(kMaxJsonNesting) + " levels deep");
  // ordered_json: the fields keep the order the line gives them.
  auto j = nlohmann::ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return undecodable(line, "not JSON");
  if (!j.is_object()) return undecodable(line, "JSON, but not an object");
  EventLog::Fields fields;
  for (const auto& [key, value] : j.items()) fields.emplace_back(key, json_field(value));
  return fields;
}

/// logfmt: `key=value` pairs separated by spaces; a value may be "quoted" with
/// backslash escapes; a key alone has the value "true".
EventLog::Fields decode_logfmt(std::string_view line) {
  EventLog::Fields fields;
  std::size_t at = 0;
  auto space = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; };
  while (at < line.size()) {
    while (at < line.size() && space(line[at])) ++at;
    if (at >= line.size()) break;
    std::size_t key_start = at;
    while (at < line.size() && !space(line[at]) && line[at] != '=' && line[at] != '"') ++at;
    if (at == key_start)
      return undecodable(line, "logfmt: expected a key at column " + std::to_string(at + 1));
    std::string key(line.substr(key_start, at - key_start));
    if (at >= line.size() || line[at] != '=') {
      if (at < line.size() && line[at] == '"')
        return undecodable(line, "logfmt: a quote inside key '" + key + "'");
      fields.emplace_back(std::move(key), std::string("true"));
      continue;
    }
    ++at;  // '='
    std::string value;
    if (at < line.size() && line[at] == '"') {
      bool closed = false;
      for (++at; at < line.size(); ++at) {
        char ch = line[at];
        if (ch == '"') {
          closed = true;
          ++at;
          break;
        }
        if (ch == '\\' && at + 1 < line.size()) {
          char next = line[++at];
          value += next == 'n' ? '\n' : next == 't' ? '\t' : next;
          continue;
        }
        value += ch;
      }
      if (!closed) return undecodable(line, "logfmt: unterminated quote in '" + key + "'");
      if (at < line.size() && !space(line[at]))
        return undecodable(line, "logfmt: text right after the quoted value of '" + key + "'");
    } else {
      while (at < line.size() && !space(line[at])) value += line[at++];
    }
    fields.emplace_back(std::move(key), std::move(value));
  }
  if (fields.empty()) return undecodable(line, "logfmt: no key=value pairs");
  return fields;
}

/// Rewrites an RE2-style pattern for std::regex (ECMAScript): named groups become plain
/// groups whose names are noted by number. False with `error` for what has no
/// ECMAScript form.
bool translate(std::string_view pattern, std::string& out, std::vector<std::string>& names,
               bool& icase, std::string& error) {
  if (pattern.starts_with("(?i)")) {
    icase = true;
    pattern.remove_prefix(4);
  }
  bool in_class = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char ch = pattern[i];
    if (ch == '\\') {
      out += ch;
      if (i + 1 < pattern.size()) out += pattern[++i];
      continue;
    }
    if (in_class) {
      if (ch == ']') in_class = false;
      out += ch;
      continue;
    }
    if (ch == '[') {
      in_class = true;
      out += ch;
      // A ']' first in a class is a literal.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (ch != '(') {
      out += ch;
      continue;
    }
    std::string_view rest = pattern.substr(i);
    if (rest.starts_with("(?P<") || rest.starts_with("(?<")) {
      std::size_t name_start = i + (rest.starts_with("(?P<") ? 4 : 3);
      std::size_t name_end = pattern.find('>', name_start);
      if (name_end == std::string_view::npos || name_end == name_start) {
        error = "a named group without its name's closing '>'";
        return false;
      }
      names.emplace_back(pattern.substr(name_start, name_end - name_start));
      out += '(';
      i = name_end;
      continue;
    }
    if (rest.starts_with("(?:") || rest.starts_with("(?=") || rest.starts_with("(?!")) {
      out += ch;
      continue;
    }
    if (rest.starts_with("(?")) {
      error = "the group '" + std::string(rest.substr(0, 4)) +
              "...' is not supported (named groups, (?:...), lookahead and a leading (?i) are)";
      return false;
    }
    names.emplace_back();  // an unnamed capturing group
    out += ch;
  }
  return true;
}

}  // namespace

std::optional<LineDecoder> LineDecoder::make(Kind kind, std::string_view pattern,
                                             std::string& error) {
  LineDecoder decoder(kind);
  if (kind != Kind::kRegex) return decoder;
  std::string translated;
  bool icase = false;
  if (!translate(pattern, translated, decoder.group_names_, icase, error)) return std::nullopt;
  bool named = false;
  for (const auto& n : decoder.group_names_) named = named || !n.empty();
  if (!named) {
    error =
        "the pattern has no named group like (?P<level>\\w+): its matches would have no "
        "fields";
    return std::nullopt;
  }
  try {
    auto flags = std::regex::ECMAScript | std::regex::optimize;
    if (icase) flags |= std::regex::icase;
    decoder.regex_ = std::make_shared<const std::regex>(translated, flags);
  } catch (const std::regex_error& e) {
    error = std::string("not a valid regular expression: ") + e.what();
    return std::nullopt;
  }
  return decoder;
}

EventLog::Fields LineDecoder::decode(std::string_view line) const {
  switch (kind_) {
    case Kind::kRaw: return undecodable(line, "");
    case Kind::kJson: return decode_json(line);
    case Kind::kLogfmt: return decode_logfmt(line);
    case Kind::kRegex: break;
  }
  if (line.size() > kMaxRegexLine)
    return undecodable(line, "longer than " + std::to_string(kMaxRegexLine) +
                                 " bytes, which a regex decoder does not read");
  std::match_results<std::string_view::const_iterator> m;
  try {
    if (!std::regex_search(line.begin(), line.end(), m, *regex_))
      return undecodable(line, "the pattern does not match");
  } catch (const std::regex_error& e) {
    return undecodable(line, std::string("the pattern could not be run: ") + e.what());
  }
  EventLog::Fields fields;
  for (std::size_t g = 0; g < group_names_.size() && g + 1 < m.size(); ++g)
    if (!group_names_[g].empty() && m[g + 1].matched)
      fields.emplace_back(group_names_[g], m[g + 1].str());
  return fields;
}

std::size_t json_nesting(std::string_view text) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace fb::runtime
