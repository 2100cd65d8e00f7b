#include "tests/fuzz/resp_fuzz_body.h"

#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/resp_framing.h"

namespace fb::fuzz {

void run_resp_framing(const std::uint8_t* data, std::size_t size) {
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  while (!stream.empty()) {
    std::size_t length = 0;
    std::string error;
    auto parsed = proxy::resp::value_size(stream, length, error);
    if (parsed != proxy::resp::Parse::kComplete) return;
    if (length == 0 || length > stream.size()) std::abort();
    // A value is only complete once all of it has arrived.
    for (std::size_t cut = 0; cut < length; cut += 1 + cut / 8) {
      std::size_t shorter = 0;
      std::string why;
      if (proxy::resp::value_size(stream.substr(0, cut), shorter, why) ==
          proxy::resp::Parse::kComplete)
        std::abort();
    }
    std::string command, key;
    proxy::resp::command_of(stream.substr(0, length), command, key);
    if (command.size() > length || key.size() > length) std::abort();
    stream.remove_prefix(length);
  }
}

}  // namespace fb::fuzz
