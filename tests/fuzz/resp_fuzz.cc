// libFuzzer target for the proxy's RESP framing. Build with tools/bootstrap --fuzz.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/resp_fuzz_body.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fb::fuzz::run_resp_framing(data, size);
  return 0;
}
