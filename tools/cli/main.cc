// The faultbox binary: hands its arguments to the CLI driver.
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "tools/cli/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool color = isatty(STDERR_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr;
  std::ios::sync_with_stdio(false);
  int code = fb::cli::run(args, std::cout, std::cerr, color);
  std::cout.flush();
  return code;
}
