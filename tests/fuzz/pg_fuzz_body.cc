#include "tests/fuzz/pg_fuzz_body.h"

#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/pg_framing.h"

namespace fb::fuzz {

namespace pg = proxy::pg;

void run_pg_framing(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  int stream_kind = data[0] % 3;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  while (!stream.empty()) {
    std::size_t length = 0;
    std::string error;
    auto frame = [&](std::string_view bytes, std::size_t& out, std::string& why) {
      return stream_kind == 0 ? pg::startup_size(bytes, out, why)
                              : pg::message_size(bytes, stream_kind == 1, out, why);
    };
    if (frame(stream, length, error) != pg::Parse::kComplete) return;
    if (length == 0 || length > stream.size()) std::abort();
    for (std::size_t cut = 0; cut < length; cut += 1 + cut / 8) {
      std::size_t shorter = 0;
      std::string why;
      if (frame(stream.substr(0, cut), shorter, why) == pg::Parse::kComplete) std::abort();
    }
    std::string_view message = stream.substr(0, length);
    if (stream_kind == 0) {
      for (const auto& [name, value] : pg::startup_params(message))
        if (name.size() + value.size() > length) std::abort();
    } else if (stream_kind == 1) {
      std::string sql, name;
      bool read = message[0] == 'Q'   ? pg::query_sql(message, sql)
                  : message[0] == 'P' ? pg::parse_statement(message, name, sql)
                  : message[0] == 'B' ? pg::bind_statement(message, name)
                                      : false;
      if (read && sql.size() + name.size() > length) std::abort();
      // A text always matches itself as a pattern without '*'.
      if (read && sql.find('*') == std::string::npos && !pg::sql_match(sql, sql)) std::abort();
      (void)pg::canonical_sql(sql);
    } else {
      for (const auto& [code, value] : pg::error_fields(message)) {
        if (value.size() > length) std::abort();
        auto parts = pg::split_error_text(value, "XX000");
        if (parts.sqlstate.size() != 5 || parts.message.size() > value.size()) std::abort();
      }
    }
    stream.remove_prefix(length);
  }
}

}  // namespace fb::fuzz
