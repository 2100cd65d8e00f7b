#include "runtime/output_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace fb::runtime {
namespace {

std::string why(const std::string& path, const char* what) {
  return "cannot " + std::string(what) + " '" + path + "': " + std::strerror(errno);
}

/// mkdir with mode 0700 whatever the umask; true when made or already there.
bool make_dir(const std::string& path, bool& made) {
  made = ::mkdir(path.c_str(), 0700) == 0;
  if (made) return ::chmod(path.c_str(), 0700) == 0;
  return errno == EEXIST;
}

/// Whether faultbox can create files in `dir`: tried, since a root process passes
/// access() on a read-only file system too.
bool writable(const std::string& dir, std::string& error) {
  std::string probe = dir + "/.faultbox-write-test-" + std::to_string(::getpid());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    error = "cannot write in '" + dir + "': " + std::strerror(errno);
    return false;
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return true;
}

std::string timestamp() {
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &utc);
  return buf;
}

}  // namespace

std::string path_component(std::string_view name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || (c == '.' && i > 0);
    if (plain) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out.empty() ? "%" : out;
}

bool make_private_dir(const std::string& path, std::string& error) {
  if (path.empty()) {
    error = "an empty folder name";
    return false;
  }
  // Each missing ancestor is made in turn, so that all of them get mode 0700.
  for (std::size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1)) {
    bool made = false;
    if (!make_dir(path.substr(0, at), made))
      return error = why(path.substr(0, at), "create"), false;
  }
  bool made = false;
  if (!make_dir(path, made)) return error = why(path, "create"), false;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return error = why(path, "read"), false;
  if (!S_ISDIR(st.st_mode)) {
    error = "'" + path + "' is not a folder";
    return false;
  }
  return writable(path, error);
}

std::optional<std::string> private_subdir(const std::string& dir, std::string_view name,
                                          std::string& error) {
  std::string path = dir + "/" + path_component(name);
  bool made = false;
  if (!make_dir(path, made)) {
    error = why(path, "create");
    return std::nullopt;
  }
  // One planted there (a symlink to elsewhere) would take faultbox's writes with it.
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    error = "'" + path + "' is not a folder faultbox can write in (a symlink or a file)";
    return std::nullopt;
  }
  return path;
}

UniqueFd open_private_file(const std::string& path, std::string& error, Symlinks symlinks) {
  if (symlinks == Symlinks::kFollow) {
    // O_EXCL would refuse any symlink; without it a new file still gets 0600 at most.
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) error = why(path, "write");
    return fd;
  }
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd) {
    if (::fchmod(fd.get(), 0600) != 0) error = why(path, "set the mode of");
    return error.empty() ? std::move(fd) : UniqueFd();
  }
  if (errno == EEXIST) {
    // Already there: it keeps its mode.
    fd = UniqueFd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd) return fd;
  }
  error = errno == ELOOP ? "'" + path + "' is a symlink; faultbox does not write through one"
                         : why(path, "write");
  return UniqueFd();
}

UniqueFd create_private_file(const std::string& path, std::string& error, Symlinks symlinks) {
  UniqueFd fd = open_private_file(path, error, symlinks);
  if (fd && ::ftruncate(fd.get(), 0) != 0 && errno != EINVAL) {  // EINVAL: a pipe or a tty
    error = why(path, "truncate");
    return UniqueFd();
  }
  return fd;
}

bool write_all(int fd, std::string_view text, const std::string& path, std::string& error) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = why(path, "write");
      return false;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::optional<FileLock> FileLock::try_take(const std::string& path, std::string_view who,
                                           std::string& holder, std::string& error) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  // Another user's lock file in a shared folder may only be readable: that is enough
  // to lock it, though not to say who holds it.
  if (!fd && errno == EACCES)
    fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    error = why(path, "open the lock");
    return std::nullopt;
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) {
      error = why(path, "lock");
      return std::nullopt;
    }
    // A holder that has just taken the lock may not have said who it is yet.
    for (int attempt = 0; attempt < 20 && holder.empty(); ++attempt) {
      if (attempt) ::usleep(10'000);
      char buf[512];
      ssize_t n = ::pread(fd.get(), buf, sizeof buf, 0);
      holder.assign(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
    }
    return std::nullopt;
  }
  // Written before the old text is cut off, so that a reader never finds it empty.
  std::string text = std::string(who) + "\n";
  if (::pwrite(fd.get(), text.data(), text.size(), 0) == static_cast<ssize_t>(text.size()))
    (void)!::ftruncate(fd.get(), static_cast<off_t>(text.size()));
  return FileLock(std::move(fd));
}

std::optional<RunFolder> RunFolder::create(const std::string& state_dir, std::string& error) {
  std::string runs = state_dir + "/runs";
  if (!make_private_dir(runs, error)) return std::nullopt;
  std::string base = timestamp() + "-" + std::to_string(::getpid());
  std::string id = base;
  bool made = false;
  for (int n = 2; !made; ++n) {
    if (!make_dir(runs + "/" + id, made)) {
      error = why(runs + "/" + id, "create");
      return std::nullopt;
    }
    if (!made) id = base + "-" + std::to_string(n);
  }
  std::string path = runs + "/" + id;
  std::string holder;
  auto lock =
      FileLock::try_take(path + "/.lock", "pid " + std::to_string(::getpid()), holder, error);
  if (!lock) {
    if (error.empty()) error = "run folder '" + path + "' is locked by " + holder;
    return std::nullopt;
  }
  // runs/latest names the newest run: replaced in one rename, so a reader never finds
  // it missing, and two runs starting together leave one of them there.
  std::string temporary = runs + "/.latest-" + std::to_string(::getpid());
  ::unlink(temporary.c_str());
  if (::symlink(id.c_str(), temporary.c_str()) == 0)
    (void)::rename(temporary.c_str(), (runs + "/latest").c_str());
  return RunFolder(std::move(id), std::move(path), std::move(*lock));
}

}  // namespace fb::runtime
