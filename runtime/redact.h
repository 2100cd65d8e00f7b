#pragma once
/// Credentials never reach an event, a report or a trace: what a proxy or a step saw
/// of a message is scrubbed of them before it is recorded. Service output is the
/// service's own and stays as written, in files only its owner may read.

#include <string>
#include <string_view>

namespace fb::runtime {

/// What stands where a credential was.
inline constexpr std::string_view kRedacted = "<redacted>";

/// `text` (the first bytes of a message, a request line, a URL, a connection string)
/// with credentials replaced by kRedacted: the value of an `Authorization`,
/// `Proxy-Authorization` or `Cookie` header (on its line, raw or escaped as \r\n), the
/// user and password of a URL (`redis://user:pw@host` becomes `redis://<redacted>@host`),
/// and the arguments of a Redis AUTH (inline or as it prints).
std::string redact(std::string_view text);

/// A command line (words joined by spaces) with the value of every option whose name
/// looks secret redacted: `--requirepass pw`, `--password=pw`, `-token pw`.
std::string redact_command_line(std::string_view command);

/// Whether an environment variable's (or an option's) name says its value is a secret:
/// it holds PASS (PASSWORD, PASSWD, requirepass), SECRET, TOKEN, KEY or CREDENTIAL, in
/// any case.
bool secret_name(std::string_view name);

/// An environment value as faultbox may show it: kRedacted for a secret name, else the
/// value with any URL's credentials redacted.
std::string redact_env(std::string_view name, std::string_view value);

/// Redis commands that set a connection up: AUTH, HELLO, SELECT and CLIENT. A proxy
/// rule matches them only when its command= names one (not through a wildcard or a
/// key=), so a fault meant for the traffic does not break the client's log-in, and a
/// password never becomes a key in an event.
bool redis_setup_command(std::string_view command);

}  // namespace fb::runtime
