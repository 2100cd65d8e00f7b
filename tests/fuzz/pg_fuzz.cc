// libFuzzer target for the proxy's PostgreSQL framing. Build with tools/bootstrap --fuzz.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/pg_fuzz_body.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fb::fuzz::run_pg_framing(data, size);
  return 0;
}
