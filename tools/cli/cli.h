#pragma once
/// Entry point of the `faultbox` command-line driver.

#include <iosfwd>
#include <string>
#include <vector>

namespace fb::cli {

/// Runs `faultbox ARGS...` (args without the program name) and returns the exit code.
/// Never throws: an unexpected exception is reported as an internal error (exit 70).
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, bool color);

/// The text of `faultbox --help`.
std::string main_help();

/// "faultbox 0.1.0".
std::string version_line();

}  // namespace fb::cli
