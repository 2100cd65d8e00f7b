// libFuzzer target for the spec frontend (lexer, parser, AST builder, resolver,
// diagnostics). Build with tools/bootstrap --fuzz, then run tools/fuzz.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/frontend_fuzz_body.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fb::fuzz::run_frontend(data, size);
  return 0;
}
