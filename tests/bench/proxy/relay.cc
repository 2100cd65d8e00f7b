// A proxy on its own, for benchmarking it with real clients (redis-benchmark, pgbench):
//
//   proxy_relay PROTOCOL UPSTREAM_PORT
//
// starts one listener relaying to 127.0.0.1:UPSTREAM_PORT through the PROTOCOL filter,
// prints its port on stdout, and runs until stdin closes or a signal ends it. No rules
// are installed: this measures pass-through.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "proxy/proxy.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: proxy_relay PROTOCOL UPSTREAM_PORT\n");
    return 2;
  }
  long port = std::strtol(argv[2], nullptr, 10);
  if (port <= 0 || port > 65535) {
    std::fprintf(stderr, "proxy_relay: '%s' is not a port\n", argv[2]);
    return 2;
  }
  fb::runtime::EventLog log(/*retain=*/false);
  fb::proxy::Manager proxies(log, 1);
  std::string error;
  auto listening = proxies.listen(
      "bench", {"upstream", "main", argv[1], "127.0.0.1", static_cast<std::uint16_t>(port)}, error);
  if (!listening) {
    std::fprintf(stderr, "proxy_relay: %s\n", error.c_str());
    return 1;
  }
  std::printf("%u\n", static_cast<unsigned>(*listening));
  std::fflush(stdout);
  char byte;
  while (::read(0, &byte, 1) > 0) {
  }
  return 0;
}
