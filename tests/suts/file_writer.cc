// A system under test: for each path argument, opens it, writes a line, and prints "<path>: ok" or
// "<path>: <errno name>". Exits with the number of failures.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  int failures = 0;
  for (int i = 1; i < argc; ++i) {
    int fd = ::open(argv[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
      std::printf("%s: open %s\n", argv[i], strerrorname_np(errno));
      ++failures;
      continue;
    }
    const char line[] = "entry\n";
    if (::write(fd, line, sizeof line - 1) < 0) {
      std::printf("%s: %s\n", argv[i], strerrorname_np(errno));
      ++failures;
    } else {
      std::printf("%s: ok\n", argv[i]);
    }
    ::close(fd);
  }
  std::fflush(stdout);
  return failures;
}
