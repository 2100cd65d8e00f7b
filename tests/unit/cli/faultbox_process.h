#pragma once
/// Running the real faultbox binary from a test, as a user would: in a folder of the
/// test's, its stdout and stderr going to files there.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/unit/test_support.h"

namespace fb::testing {

/// How a finished faultbox ended: its exit code (128+N for signal N) and its output.
struct Finished {
  int code = -1;
  std::string out, err;
};

/// Starts `binary ARGS` in `dir`, its stdout going to dir/out.txt and stderr to
/// dir/err.txt (or to `out` and `err` when given).
inline pid_t start_in(const std::filesystem::path& dir, const std::string& binary,
                      std::vector<std::string> args, std::string out = "", std::string err = "") {
  if (out.empty()) out = (dir / "out.txt").string();
  if (err.empty()) err = (dir / "err.txt").string();
  args.insert(args.begin(), binary);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    if (!std::freopen(out.c_str(), "w", stdout) || !std::freopen(err.c_str(), "w", stderr))
      ::_exit(126);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

/// Waits for `pid` and reads what it wrote to `out` and `err`.
inline Finished finish(pid_t pid, const std::filesystem::path& out,
                       const std::filesystem::path& err) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), read_file(out),
          read_file(err)};
}

/// Runs `binary ARGS` in `dir` to its end (output in dir/out.txt and dir/err.txt).
inline Finished run_in(const std::filesystem::path& dir, const std::string& binary,
                       std::vector<std::string> args) {
  return finish(start_in(dir, binary, std::move(args)), dir / "out.txt", dir / "err.txt");
}

}  // namespace fb::testing
