// Where faultbox writes: encoded names, private modes, refused symlinks, and the locks
// that keep two runs apart.
#include "runtime/output_dir.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "runtime/ports.h"

namespace fb::runtime {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("fb-outdir-" + std::to_string(::getpid()));
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

TEST(OutputDir, NamesBecomeOnePathComponent) {
  EXPECT_EQ(path_component("test_put"), "test_put");
  EXPECT_EQ(path_component("my.svc-1"), "my.svc-1");
  EXPECT_EQ(path_component("../x"), "%2E.%2Fx");
  EXPECT_EQ(path_component(".."), "%2E.");
  EXPECT_EQ(path_component("."), "%2E");
  EXPECT_EQ(path_component(""), "%");
  EXPECT_EQ(path_component("a b/c"), "a%20b%2Fc");
}

TEST(OutputDir, FoldersAndFilesArePrivateWhateverTheUmask) {
  TempDir tmp;
  mode_t old = ::umask(0);
  std::string error;
  std::string dir = (tmp.path / "a" / "b").string();
  ASSERT_TRUE(make_private_dir(dir, error)) << error;
  EXPECT_EQ(mode_of(tmp.path / "a"), 0700u);
  EXPECT_EQ(mode_of(dir), 0700u);
  auto sub = private_subdir(dir, "test_x", error);
  ASSERT_TRUE(sub) << error;
  EXPECT_EQ(mode_of(*sub), 0700u);
  UniqueFd fd = create_private_file(*sub + "/svc.stdout", error);
  ASSERT_TRUE(fd) << error;
  EXPECT_EQ(mode_of(*sub + "/svc.stdout"), 0600u);
  ::umask(old);
  EXPECT_FALSE(make_private_dir("/proc/forbidden", error));
  EXPECT_NE(error.find("cannot create '/proc/forbidden'"), std::string::npos) << error;
}

TEST(OutputDir, SymlinksPlantedInsideAreRefused) {
  TempDir tmp;
  fs::create_directories(tmp.path / "outside");
  fs::create_directories(tmp.path / "logs");
  fs::create_directory_symlink(tmp.path / "outside", tmp.path / "logs" / "test_x");
  std::string error;
  EXPECT_FALSE(private_subdir((tmp.path / "logs").string(), "test_x", error));
  EXPECT_NE(error.find("a symlink"), std::string::npos) << error;
  fs::create_symlink(tmp.path / "outside" / "target", tmp.path / "logs" / "file");
  EXPECT_FALSE(create_private_file((tmp.path / "logs" / "file").string(), error));
  EXPECT_NE(error.find("is a symlink"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(tmp.path / "outside" / "target"));
  // A path the user names may be one (--output /dev/stdout).
  error.clear();
  EXPECT_TRUE(create_private_file((tmp.path / "logs" / "file").string(), error, Symlinks::kFollow))
      << error;
}

TEST(OutputDir, ALockIsHeldUntilItsHolderLetsGoAndSaysWhoHoldsIt) {
  TempDir tmp;
  std::string lock = (tmp.path / "x.lock").string(), holder, error;
  {
    auto first = FileLock::try_take(lock, "pid 1, run A", holder, error);
    ASSERT_TRUE(first) << error;
    EXPECT_FALSE(FileLock::try_take(lock, "pid 2, run B", holder, error));
    EXPECT_EQ(holder, "pid 1, run A");
    EXPECT_EQ(error, "");
  }
  holder.clear();
  EXPECT_TRUE(FileLock::try_take(lock, "pid 2, run B", holder, error));
}

TEST(OutputDir, EachRunGetsAFolderOfItsOwn) {
  TempDir tmp;
  std::string error;
  auto a = RunFolder::create(tmp.path.string(), error);
  auto b = RunFolder::create(tmp.path.string(), error);
  ASSERT_TRUE(a && b) << error;
  EXPECT_NE(a->path(), b->path());
  EXPECT_EQ(fs::read_symlink(tmp.path / "runs" / "latest"), b->id());
  EXPECT_EQ(mode_of(a->path()), 0700u);
}

TEST(Ports, APortIsClaimedByOneRunAtATime) {
  TempDir tmp;
  ::setenv("FAULTBOX_LOCK_DIR", tmp.path.c_str(), 1);
  std::string error;
  {
    PortClaims mine, theirs;
    EXPECT_TRUE(mine.claim(18499, "pid 7, run R", error)) << error;
    EXPECT_TRUE(mine.claim(18499, "pid 7, run R", error)) << "a claim it holds is kept";
    EXPECT_FALSE(theirs.claim(18499, "pid 8, run S", error));
    EXPECT_EQ(error, "port 18499 is claimed by another faultbox run (pid 7, run R)");
  }
  PortClaims later;
  EXPECT_TRUE(later.claim(18499, "pid 9", error)) << "a claim ends with its run";
  ::unsetenv("FAULTBOX_LOCK_DIR");
}

TEST(Ports, AListenerIsFoundWithItsProcess) {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(s.get(), 1), 0);
  ASSERT_EQ(::getsockname(s.get(), reinterpret_cast<sockaddr*>(&address), &length), 0);
  int port = ntohs(address.sin_port);
  auto inodes = listening_sockets(port);
  ASSERT_EQ(inodes.size(), 1u);
  EXPECT_TRUE(holds_any({::getpid()}, inodes));
  auto owners = socket_owners(inodes);
  ASSERT_EQ(owners.size(), 1u);
  EXPECT_EQ(owners[0].pid, ::getpid());
  EXPECT_NE(describe_owners(owners).find("pid " + std::to_string(::getpid()) + " ("),
            std::string::npos);
  auto tree = process_tree(::getppid());
  EXPECT_NE(std::find(tree.begin(), tree.end(), ::getpid()), tree.end());
  s = UniqueFd();
  EXPECT_TRUE(listening_sockets(port).empty());
}

}  // namespace
}  // namespace fb::runtime
