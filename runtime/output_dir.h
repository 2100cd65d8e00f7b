#pragma once
/// Where faultbox writes: every run gets a folder of its own, and every file in it is
/// named from an encoded name and checked to stay inside.
///
/// Test and service names become folder and file names. They are validated when the
/// spec declares them (grammar/names.h), and encoded here again, so that no name can
/// reach outside the folder it belongs in ("../../x" is "%2E.%2F..." here), and a
/// symlink planted where faultbox will write is refused rather than followed. Files
/// that may hold service output are created 0600 and folders 0700, whatever the umask.

#include <optional>
#include <string>
#include <string_view>

#include "runtime/process.h"

namespace fb::runtime {

/// `name` as one path component: letters, digits, '_', '-' and '.' are kept, any other
/// byte (and a leading '.') becomes %XX, so the result is never "", "." or "..", and
/// never holds '/'.
std::string path_component(std::string_view name);

/// Makes `path` (and missing parents) a directory, new ones with mode 0700. False with
/// `error` when it cannot be made or written, or when it is a symlink or not a directory.
bool make_private_dir(const std::string& path, std::string& error);

/// `dir/<path_component(name)>`, made 0700 when missing and checked to be a real
/// directory directly inside `dir`; nullopt with `error` otherwise.
std::optional<std::string> private_subdir(const std::string& dir, std::string_view name,
                                          std::string& error);

/// Whether a file faultbox opens may be a symlink: never inside its own folders, where
/// one can only have been planted; a path the user gave (`--output /dev/stdout`) may.
enum class Symlinks { kRefuse, kFollow };

/// Opens `path` to write; a new file is created 0600 whatever the umask, an existing one
/// keeps its contents until written. An invalid fd with `error` when it cannot be opened
/// (or is a refused symlink).
UniqueFd open_private_file(const std::string& path, std::string& error,
                           Symlinks symlinks = Symlinks::kRefuse);

/// open_private_file, emptied.
UniqueFd create_private_file(const std::string& path, std::string& error,
                             Symlinks symlinks = Symlinks::kRefuse);

/// Writes all of `text` to `fd`; false with `error` (naming `path`) when it cannot.
bool write_all(int fd, std::string_view text, const std::string& path, std::string& error);

/// A lock on a file that lives as long as this object, or as long as the process: the
/// kernel drops it when its holder dies, so a crashed run leaves nothing to clean up.
/// The file says who holds it, for the message of whoever finds it taken.
class FileLock {
 public:
  /// Takes the lock on `path` (creating the file 0644) without waiting. nullopt when it
  /// is held: `holder` is then what its holder wrote into it ("" if unknown), and
  /// `error` is set only when the file could not be opened at all.
  static std::optional<FileLock> try_take(const std::string& path, std::string_view who,
                                          std::string& holder, std::string& error);

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

/// One run's own folder, `<state>/runs/<id>` (state is the `.faultbox` folder next to
/// the spec), made fresh and locked for the run's lifetime, so that two runs of one
/// spec at once never write to, or delete, each other's files. `<state>/runs/latest`
/// points at the newest run that started.
class RunFolder {
 public:
  static std::optional<RunFolder> create(const std::string& state_dir, std::string& error);

  /// "20261207-224512-48213": when it started, and the pid.
  const std::string& id() const { return id_; }
  const std::string& path() const { return path_; }

 private:
  RunFolder(std::string id, std::string path, FileLock lock)
      : id_(std::move(id)), path_(std::move(path)), lock_(std::move(lock)) {}
  std::string id_;
  std::string path_;
  FileLock lock_;
};

}  // namespace fb::runtime
