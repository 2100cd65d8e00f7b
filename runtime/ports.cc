#include "runtime/ports.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "runtime/redact.h"

namespace fb::runtime {
namespace {

/// Whether a /proc/net/tcp{,6} local address (hex, as the kernel prints it) is one a
/// connection to localhost reaches: a wildcard or a loopback address.
bool reachable_from_localhost(std::string_view hex) {
  if (hex.size() == 8) return hex == "00000000" || hex.ends_with("7F");  // 0.0.0.0, 127/8
  if (hex.size() != 32) return false;
  return hex == "00000000000000000000000000000000" ||  // ::
         hex == "00000000000000000000000001000000" ||  // ::1
         (hex.starts_with("0000000000000000FFFF0000") &&
          (hex.ends_with("7F") || hex.ends_with("00000000")));  // ::ffff:127/8, ::ffff:0.0.0.0
}

void read_listeners(const char* table, int port, std::vector<unsigned long>& out) {
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
    unsigned long inode = 0;
    if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> inode))
      continue;
    if (state != "0A") continue;  // TCP_LISTEN
    auto colon = local.find(':');
    if (colon == std::string::npos) continue;
    if (std::strtol(local.c_str() + colon + 1, nullptr, 16) != port) continue;
    if (!reachable_from_localhost(std::string_view(local).substr(0, colon))) continue;
    if (inode != 0) out.push_back(inode);
  }
}

/// The numeric entries of a /proc folder (processes, or a process's fds).
std::vector<long> numbers_in(const std::string& dir) {
  std::vector<long> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (const dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long n = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0') out.push_back(n);
  }
  ::closedir(d);
  return out;
}

/// Whether process `pid` holds a socket with one of `inodes`.
bool holds(pid_t pid, const std::vector<unsigned long>& inodes) {
  std::string fds = "/proc/" + std::to_string(pid) + "/fd";
  for (long fd : numbers_in(fds)) {
    char target[64];
    std::string link = fds + "/" + std::to_string(fd);
    ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n <= 8) continue;
    target[n] = '\0';
    unsigned long inode = 0;
    if (std::sscanf(target, "socket:[%lu]", &inode) == 1 &&
        std::find(inodes.begin(), inodes.end(), inode) != inodes.end())
      return true;
  }
  return false;
}

std::string command_line(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && text.back() == '\0') text.pop_back();
  std::replace(text.begin(), text.end(), '\0', ' ');
  if (text.size() > 200) text = text.substr(0, 200) + "...";
  return text;
}

/// Whether an address a listener is bound to is one a connection to localhost reaches.
bool reachable_from_localhost(int family, const std::uint32_t* address) {
  if (family == AF_INET) {
    std::uint32_t a = ntohl(address[0]);
    return a == 0 || (a >> 24) == 127;
  }
  bool zero_prefix = address[0] == 0 && address[1] == 0;
  if (zero_prefix && address[2] == 0) return address[3] == 0 || ntohl(address[3]) == 1;  // :: ::1
  if (zero_prefix && ntohl(address[2]) == 0xffff) {  // ::ffff:a.b.c.d
    std::uint32_t a = ntohl(address[3]);
    return a == 0 || (a >> 24) == 127;
  }
  return false;
}

/// The listeners of one address family on `port`, asked of the kernel's socket
/// diagnostics (what `ss -lt` uses): only listening sockets are sent, so the cost does
/// not grow with the machine's connections. False when the interface is unavailable.
bool diag_listeners(int family, int port, std::vector<unsigned long>& out) {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!fd) return false;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.request.sdiag_family = static_cast<std::uint8_t>(family);
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = 1u << 10;  // TCP_LISTEN
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd.get(), &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0)
    return false;
  alignas(nlmsghdr) char buffer[16384];
  for (;;) {
    ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    auto length = static_cast<unsigned>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, length);
         h = NLMSG_NEXT(h, length)) {
      if (h->nlmsg_type == NLMSG_DONE) return true;
      if (h->nlmsg_type == NLMSG_ERROR) return false;
      auto* diag =
          reinterpret_cast<const inet_diag_msg*>(reinterpret_cast<const char*>(h) + NLMSG_HDRLEN);
      if (ntohs(diag->id.idiag_sport) != port) continue;
      if (!reachable_from_localhost(family, diag->id.idiag_src)) continue;
      if (diag->idiag_inode != 0) out.push_back(diag->idiag_inode);
    }
  }
}

}  // namespace

std::vector<unsigned long> listening_sockets(int port) {
  std::vector<unsigned long> inodes;
  if (diag_listeners(AF_INET, port, inodes) && diag_listeners(AF_INET6, port, inodes))
    return inodes;
  // Without socket diagnostics (a kernel built without them): the text tables, which
  // list every socket and cost more the busier the machine is.
  inodes.clear();
  read_listeners("/proc/net/tcp", port, inodes);
  read_listeners("/proc/net/tcp6", port, inodes);
  return inodes;
}

std::vector<PortOwner> socket_owners(const std::vector<unsigned long>& inodes) {
  std::vector<PortOwner> owners;
  if (inodes.empty()) return owners;
  for (long pid : numbers_in("/proc"))
    if (holds(static_cast<pid_t>(pid), inodes))
      owners.push_back({static_cast<pid_t>(pid), command_line(static_cast<pid_t>(pid))});
  return owners;
}

std::vector<pid_t> process_tree(pid_t root) {
  // Every process's parent and process group, from /proc/<pid>/stat: "pid (comm) state
  // ppid pgrp ...", where comm may hold spaces and parentheses.
  std::multimap<pid_t, pid_t> children;
  std::vector<pid_t> tree{root};
  for (long pid : numbers_in("/proc")) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (!(rest >> state >> ppid >> pgrp)) continue;
    children.emplace(static_cast<pid_t>(ppid), static_cast<pid_t>(pid));
    if (pgrp == root && pid != root) tree.push_back(static_cast<pid_t>(pid));
  }
  for (std::size_t i = 0; i < tree.size(); ++i) {
    auto [from, to] = children.equal_range(tree[i]);
    for (auto it = from; it != to; ++it)
      if (std::find(tree.begin(), tree.end(), it->second) == tree.end()) tree.push_back(it->second);
  }
  return tree;
}

bool holds_any(const std::vector<pid_t>& pids, const std::vector<unsigned long>& inodes) {
  return std::any_of(pids.begin(), pids.end(), [&](pid_t pid) { return holds(pid, inodes); });
}

std::string describe_owners(const std::vector<PortOwner>& owners) {
  if (owners.empty()) return "another program";
  std::string out;
  for (const auto& o : owners)
    out += (out.empty() ? "" : ", ") + std::string("pid ") + std::to_string(o.pid) + " (" +
           (o.command.empty() ? "?" : redact_command_line(o.command)) + ")";
  return out;
}

std::string lock_dir() {
  if (const char* dir = std::getenv("FAULTBOX_LOCK_DIR"); dir && *dir) return dir;
  return "/tmp/faultbox-locks";
}

bool PortClaims::holds(int port) const {
  return std::any_of(locks_.begin(), locks_.end(), [&](const auto& l) { return l.first == port; });
}

bool PortClaims::claim(int port, std::string_view who, std::string& error) {
  if (holds(port)) return true;
  std::string dir = lock_dir();
  // Shared by every user, like /tmp: made world-writable with the sticky bit, so that
  // each user's lock files are their own.
  if (::mkdir(dir.c_str(), 01777) == 0) ::chmod(dir.c_str(), 01777);
  std::string holder;
  auto lock =
      FileLock::try_take(dir + "/port-" + std::to_string(port) + ".lock", who, holder, error);
  if (!lock) {
    if (error.empty())
      error = "port " + std::to_string(port) + " is claimed by another faultbox run (" +
              (holder.empty() ? "starting up" : holder) + ")";
    return false;
  }
  locks_.emplace_back(port, std::move(*lock));
  return true;
}

}  // namespace fb::runtime
