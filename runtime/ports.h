#pragma once
/// Who listens on a TCP port, and ports claimed by a run.
///
/// Until services get a network namespace per leaf, the ports a spec declares are
/// machine-wide. Two things keep one run from testing another's services: a run claims
/// its ports for its lifetime (a lock file per port, which the kernel releases when the
/// run dies), and a healthcheck counts only when the listener it reached belongs to the
/// service it checks (the socket's inode, from /proc/net/tcp and tcp6, among the fds of
/// the service's processes).

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/output_dir.h"

namespace fb::runtime {

/// A process holding a listening socket.
struct PortOwner {
  pid_t pid = 0;
  std::string command;  // its command line, arguments joined by spaces
};

/// The inodes of the sockets listening on TCP `port` on a wildcard or loopback address
/// (IPv4 and IPv6): the listeners a connection to localhost can reach.
std::vector<unsigned long> listening_sockets(int port);

/// The processes that hold one of `inodes` (scanning /proc/*/fd; processes faultbox may
/// not read are skipped).
std::vector<PortOwner> socket_owners(const std::vector<unsigned long>& inodes);

/// `root` and every process below it: its descendants and the members of its process
/// group (a service's workers, even those whose parent has exited).
std::vector<pid_t> process_tree(pid_t root);

/// Whether some process in `pids` holds a socket among `inodes`.
bool holds_any(const std::vector<pid_t>& pids, const std::vector<unsigned long>& inodes);

/// "pid 1234 (redis-server --port 6379)", or "another program" when none is known.
std::string describe_owners(const std::vector<PortOwner>& owners);

/// The folder of the port locks: $FAULTBOX_LOCK_DIR, else /tmp/faultbox-locks (shared by
/// every user, like /tmp itself).
std::string lock_dir();

/// The ports a run has claimed, held until it ends.
class PortClaims {
 public:
  /// Claims `port` for this run unless it holds it already. False with `error` naming
  /// the holder ("port 17001 is claimed by another faultbox run (pid 4321: faultbox
  /// test spec.star)") when another live run holds it, or when the lock cannot be taken.
  bool claim(int port, std::string_view who, std::string& error);
  bool holds(int port) const;

 private:
  std::vector<std::pair<int, FileLock>> locks_;
};

}  // namespace fb::runtime
