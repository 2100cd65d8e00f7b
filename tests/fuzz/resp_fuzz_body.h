#pragma once
/// The RESP framing fuzz body, shared by the libFuzzer target and the corpus replay.

#include <cstddef>
#include <cstdint>

namespace fb::fuzz {

/// Frames `data` as a stream of RESP values. Every prefix of a value shorter than it
/// must be incomplete (never a shorter complete value, never malformed), and the
/// command extracted from each must not read past it. Aborts otherwise.
void run_resp_framing(const std::uint8_t* data, std::size_t size);

}  // namespace fb::fuzz
