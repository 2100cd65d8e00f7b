#pragma once
/// The PostgreSQL framing fuzz body, shared by the libFuzzer target and the corpus
/// replay.

#include <cstddef>
#include <cstdint>

namespace fb::fuzz {

/// The first byte picks the stream: 0 the client's startup phase, 1 the client's typed
/// messages, 2 the server's. The rest is framed message by message: every prefix of a
/// message must be incomplete, and what the proxy reads from each (SQL, statement
/// names, error fields, startup parameters) must stay within it. The SQL is also
/// canonicalised and matched against itself. Aborts otherwise.
void run_pg_framing(const std::uint8_t* data, std::size_t size);

}  // namespace fb::fuzz
