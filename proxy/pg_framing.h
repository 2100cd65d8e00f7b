#pragma once
/// PostgreSQL wire framing (protocol 3.0) for the proxy and the step client: where a
/// message ends, what a query names, and the messages the proxy writes itself. Pure
/// functions, fuzzed alone.
///
/// A connection opens with untyped messages from the client (length, then a code:
/// SSLRequest, GSSENCRequest, CancelRequest or the StartupMessage); everything after is
/// a type byte, a length that counts itself, and the body.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/http_framing.h"  // Parse

namespace fb::proxy::pg {

using http::Parse;

constexpr std::uint32_t kSslRequest = 80877103;
constexpr std::uint32_t kGssEncRequest = 80877104;
constexpr std::uint32_t kCancelRequest = 80877102;
constexpr std::uint32_t kProtocol3 = 196608;  // 3.0; minor versions negotiate upward

/// The largest message either side may send (the server's own limit is 1 GiB).
constexpr std::size_t kMaxMessage = std::size_t{1} << 30;

std::uint32_t read_u32(std::string_view bytes);
void put_u32(std::string& out, std::uint32_t value);
/// A typed message: the type byte, the length (counting itself), the body.
std::string typed_message(char type, std::string_view body);

/// The extent of one untyped startup-phase message at the start of `data`.
Parse startup_size(std::string_view data, std::size_t& size, std::string& error);
/// The code of a complete startup-phase message (its second word).
inline std::uint32_t startup_code(std::string_view message) { return read_u32(message.substr(4)); }
/// The name/value parameters of a StartupMessage (user, database, ...).
std::vector<std::pair<std::string, std::string>> startup_params(std::string_view message);

/// The extent of one typed message at the start of `data`; `from_client` picks which
/// type bytes are valid.
Parse message_size(std::string_view data, bool from_client, std::size_t& size, std::string& error);

/// The SQL of a Query ('Q') message. False when it is not NUL-terminated.
bool query_sql(std::string_view message, std::string& sql);
/// The statement name and SQL of a Parse ('P') message.
bool parse_statement(std::string_view message, std::string& name, std::string& sql);
/// The statement a Bind ('B') message binds.
bool bind_statement(std::string_view message, std::string& statement);

/// The fields of an ErrorResponse or NoticeResponse, as (code letter, value).
std::vector<std::pair<char, std::string>> error_fields(std::string_view message);

/// An ErrorResponse with severity, SQLSTATE and message.
std::string error_response(std::string_view severity, std::string_view sqlstate,
                           std::string_view message);
std::string ready_for_query(char status);

/// An error text in the shape the recipes use, "ERROR: text (SQLSTATE 40P01)", taken
/// apart: the severity and code when present (else ERROR and `fallback_code`), and the
/// text without them.
struct ErrorText {
  std::string severity, sqlstate, message;
};
ErrorText split_error_text(std::string_view text, std::string_view fallback_code);

/// The reference's SQL canonical form for matching: trimmed, trailing ';' dropped,
/// lower case outside '...' literals, `?` and `$N` as `$?`, spaces around = < > != <>
/// <= >= , ( ), whitespace runs collapsed.
std::string canonical_sql(std::string_view sql);
/// Whether `pattern` matches `sql` once both are canonical: exact without '*', else
/// the proxy glob.
bool sql_match(std::string_view pattern, std::string_view sql);

}  // namespace fb::proxy::pg
