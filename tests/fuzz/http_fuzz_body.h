#pragma once
/// The HTTP/1.1 framing fuzz body, shared by the libFuzzer target and the corpus replay.

#include <cstddef>
#include <cstdint>

namespace fb::fuzz {

/// Takes `data` as the bytes one side of a connection sends (the first byte says which
/// side: even for a client's requests, odd for a server's responses) and frames them
/// message by message, once all at once and once a byte at a time. Aborts when the two
/// disagree on where any message ends, or when the framing consumes bytes it was not
/// given.
void run_http_framing(const std::uint8_t* data, std::size_t size);

}  // namespace fb::fuzz
