#pragma once
/// The frontend fuzz body, shared by the libFuzzer target and the corpus replay test.

#include <cstddef>
#include <cstdint>

namespace fb::fuzz {

/// Lexes, parses, resolves and renders every diagnostic (text and JSON) of `data` taken
/// as a spec file. Aborts (so the fuzzer reports it) if a diagnostic points outside the
/// file or a rendered JSON report is not valid JSON.
void run_frontend(const std::uint8_t* data, std::size_t size);

}  // namespace fb::fuzz
