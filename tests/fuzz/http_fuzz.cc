// libFuzzer target for the proxy's HTTP/1.1 framing. Build with tools/bootstrap --fuzz.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/http_fuzz_body.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fb::fuzz::run_http_framing(data, size);
  return 0;
}
