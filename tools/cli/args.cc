#include "tools/cli/args.h"

#include <algorithm>
#include <charconv>

#include "grammar/suggest.h"
#include "vm/memory.h"

namespace fb::cli {

bool ParsedArgs::has(std::string_view name) const {
  return std::find(switches.begin(), switches.end(), name) != switches.end() ||
         values.find(name) != values.end() || lists.find(name) != lists.end();
}

std::vector<std::string> ParsedArgs::all(std::string_view name) const {
  auto it = lists.find(name);
  return it == lists.end() ? std::vector<std::string>{} : it->second;
}

std::optional<std::string> ParsedArgs::value(std::string_view name) const {
  auto it = values.find(name);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::int64_t> max_memory(const ParsedArgs& args, std::string& error) {
  auto text = args.value("max-memory");
  if (!text) return vm::kDefaultMemoryLimit;
  std::int64_t bytes = 0;
  if (vm::parse_bytes(*text, bytes)) return bytes;
  error = "--max-memory wants a size such as 512MiB, 2G or a number of bytes, got '" + *text + "'";
  return std::nullopt;
}

namespace {

const FlagSpec* find_flag(const std::vector<FlagSpec>& flags, std::string_view name) {
  for (const FlagSpec& flag : flags) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

std::string unknown_flag_message(const std::vector<FlagSpec>& flags, const std::string& name) {
  std::vector<std::string> names;
  for (const FlagSpec& flag : flags) names.emplace_back(flag.name);
  std::string message = "unknown flag '--" + name + "'";
  if (auto near = grammar::closest_match(name, names))
    message += " (did you mean '--" + *near + "'?)";
  return message;
}

}  // namespace

std::optional<ParsedArgs> parse_args(const std::vector<std::string>& args,
                                     const std::vector<FlagSpec>& flags, std::string& error,
                                     bool stop_at_positional) {
  ParsedArgs parsed;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      parsed.positionals.insert(parsed.positionals.end(), args.begin() + static_cast<long>(i) + 1,
                                args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      if (stop_at_positional) {
        parsed.positionals.insert(parsed.positionals.end(), args.begin() + static_cast<long>(i),
                                  args.end());
        break;
      }
      parsed.positionals.push_back(arg);
      continue;
    }
    // Accept both -flag and --flag, as Go-style tools do; split "--flag=value".
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::optional<std::string> inline_value;
    if (auto eq = body.find('='); eq != std::string::npos) {
      inline_value = body.substr(eq + 1);
      body.resize(eq);
    }
    const FlagSpec* spec = find_flag(flags, body);
    if (!spec) {
      error = unknown_flag_message(flags, body);
      return std::nullopt;
    }
    if (spec->kind == FlagKind::kSwitch) {
      if (inline_value) {
        error = "flag '--" + body + "' takes no value";
        return std::nullopt;
      }
      parsed.switches.push_back(body);
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) {
        error = "flag '--" + body + "' needs a value (" + std::string(spec->value_name) + ")";
        return std::nullopt;
      }
      inline_value = args[++i];
    }
    if (spec->kind == FlagKind::kRepeated)
      parsed.lists[body].push_back(*inline_value);
    else
      parsed.values[body] = *inline_value;
  }
  return parsed;
}

}  // namespace fb::cli
