#pragma once
/// The frontend fuzz body, shared by the libFuzzer target and the corpus replay test.

#include <cstddef>
#include <cstdint>

namespace fb::fuzz {

/// Lexes, parses, resolves and renders every diagnostic (text and JSON) of `data` taken
/// as a spec file; when it is clean, also compiles, verifies, round-trips and runs it
/// under a step budget. Aborts (so the fuzzer reports it) when an invariant breaks.
void run_frontend(const std::uint8_t* data, std::size_t size);

}  // namespace fb::fuzz
