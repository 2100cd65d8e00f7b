// Fault rules without the OS: globs, durations, deterministic draws, --fault parsing.
#include "runtime/rules.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace fb::runtime {
namespace {

using namespace std::chrono_literals;

TEST(Glob, StarStaysInASegmentDoubleStarCrosses) {
  EXPECT_TRUE(glob_match("/tmp/*.wal", "/tmp/orders.wal"));
  EXPECT_FALSE(glob_match("/tmp/*.wal", "/tmp/db/orders.wal"));
  EXPECT_TRUE(glob_match("/tmp/**.wal", "/tmp/db/orders.wal"));
  EXPECT_TRUE(glob_match("/data/**", "/data/a/b/c"));
  EXPECT_TRUE(glob_match("/data/*/x", "/data/a/x"));
  EXPECT_FALSE(glob_match("/data/*/x", "/data/a/b/x"));
  EXPECT_TRUE(glob_match("/data/**/x", "/data/a/b/x"));
  EXPECT_TRUE(glob_match("file?.log", "file1.log"));
  EXPECT_FALSE(glob_match("file?.log", "file/.log"));
  EXPECT_TRUE(glob_match("", "/anything"));
  EXPECT_FALSE(glob_match("/tmp/a", "/tmp/ab"));
  EXPECT_TRUE(glob_match("*", "name"));
  EXPECT_FALSE(glob_match("*", "dir/name"));
}

TEST(Glob, APathGlobWithoutSlashMatchesTheNameInAnyFolder) {
  EXPECT_TRUE(path_glob_match("*.wal", "/var/lib/app/orders.wal"));
  EXPECT_TRUE(path_glob_match("orders.wal", "/var/lib/app/orders.wal"));
  EXPECT_TRUE(path_glob_match("*.wal", "orders.wal"));
  EXPECT_FALSE(path_glob_match("*.wal", "/var/lib/app.wal/orders.log"));
  EXPECT_FALSE(path_glob_match("/*.wal", "/var/lib/orders.wal")) << "with '/', the whole path";
  EXPECT_TRUE(path_glob_match("**/*.wal", "/var/lib/orders.wal"));
  EXPECT_TRUE(path_glob_match("", "/anything"));
}

TEST(Glob, PathologicalPatternsStayFast) {
  std::string path(200, 'a');
  std::string pattern;
  for (int i = 0; i < 20; ++i) pattern += "*a";
  pattern += "b";
  EXPECT_FALSE(glob_match(pattern, path));  // would take forever with naive backtracking
}

TEST(Duration, GoSyntax) {
  std::string error;
  EXPECT_EQ(parse_duration("500ms", error), 500ms);
  EXPECT_EQ(parse_duration("1.5s", error), 1500ms);
  EXPECT_EQ(parse_duration("1h30m", error), 90min);
  EXPECT_EQ(parse_duration("2us", error), 2us);
  EXPECT_EQ(parse_duration("2µs", error), 2us);
  EXPECT_EQ(parse_duration("-1s", error), -1s);
  EXPECT_EQ(parse_duration("0", error), 0ns);
  EXPECT_FALSE(parse_duration("10", error));
  EXPECT_EQ(error, "invalid duration \"10\": missing unit (ns, us, ms, s, m, h)");
  EXPECT_FALSE(parse_duration("5 days", error));
  EXPECT_FALSE(parse_duration("", error));
  EXPECT_EQ(format_duration(500ms), "500ms");
  EXPECT_EQ(format_duration(1500ms), "1.5s");
  EXPECT_EQ(format_duration(90s), "1m30s");
  EXPECT_EQ(format_duration(2us), "2µs");
}

TEST(Draw, DeterministicPerInputsAndUniformEnough) {
  EXPECT_EQ(draw(1, "db", "write", 7), draw(1, "db", "write", 7));
  EXPECT_NE(draw(1, "db", "write", 7), draw(2, "db", "write", 7));
  EXPECT_NE(draw(1, "db", "write", 7), draw(1, "api", "write", 7));
  EXPECT_NE(draw(1, "db", "write", 7), draw(1, "db", "write", 8));
  int below = 0;
  for (std::uint64_t i = 0; i < 100000; ++i) {
    double d = draw(42, "svc", "rule", i);
    ASSERT_GE(d, 0.0);
    ASSERT_LT(d, 1.0);
    below += d < 0.3;
  }
  EXPECT_NEAR(below / 100000.0, 0.3, 0.01);
}

TEST(FaultSpec, DenyAndDelayForms) {
  std::string error;
  auto deny = parse_fault("write=EIO:30%:/data/*.wal:after=2", Arch::kX86_64, error);
  ASSERT_TRUE(deny) << error;
  EXPECT_EQ(deny->action, FaultRule::Action::kDeny);
  EXPECT_EQ(deny->error, EIO);
  EXPECT_EQ(deny->syscalls.size(), 5u);
  EXPECT_DOUBLE_EQ(deny->probability, 0.3);
  EXPECT_EQ(deny->path_glob, "/data/*.wal");
  EXPECT_EQ(deny->after, 2u);
  auto delay = parse_fault("connect=delay:500ms:50:nth=3", Arch::kX86_64, error);
  ASSERT_TRUE(delay) << error;
  EXPECT_EQ(delay->action, FaultRule::Action::kDelay);
  EXPECT_EQ(delay->delay, 500ms);
  EXPECT_DOUBLE_EQ(delay->probability, 0.5);
  // A bare number is a percentage, as in the reference: "1" is 1%, never 100%.
  EXPECT_DOUBLE_EQ(parse_fault("write=EIO:1", Arch::kX86_64, error)->probability, 0.01);
  EXPECT_DOUBLE_EQ(parse_fault("write=EIO:0.5", Arch::kX86_64, error)->probability, 0.005);
  EXPECT_EQ(delay->nth, 3u);
  auto glob_delay = parse_fault("fsync=delay:1s:/var/*.db", Arch::kX86_64, error);
  ASSERT_TRUE(glob_delay) << error;  // the reference dropped globs on delays
  EXPECT_EQ(glob_delay->path_glob, "/var/*.db");
  EXPECT_TRUE(parse_fault("openat=enoent", Arch::kX86_64, error));
}

TEST(FaultSpec, EveryMalformedPartIsNamed) {
  std::string error;
  EXPECT_FALSE(parse_fault("write", Arch::kX86_64, error));
  EXPECT_EQ(error, "fault \"write\": expected SYSCALL=ERRNO or SYSCALL=delay:DURATION");
  EXPECT_FALSE(parse_fault("wrte=EIO", Arch::kX86_64, error));
  EXPECT_EQ(error, "fault \"wrte=EIO\": unknown syscall \"wrte\" on x86_64");
  EXPECT_FALSE(parse_fault("open=EIO", Arch::kAarch64, error) && false);
  EXPECT_FALSE(parse_fault("write=EBOGUS", Arch::kX86_64, error));
  EXPECT_EQ(error, "fault \"write=EBOGUS\": unknown errno \"EBOGUS\"");
  EXPECT_FALSE(parse_fault("write=EIO:150%", Arch::kX86_64, error));
  EXPECT_EQ(error,
            "fault \"write=EIO:150%\", part 2 \"150%\": probability \"150%\" is outside 0%..100%");
  EXPECT_FALSE(parse_fault("write=EIO:nth=0", Arch::kX86_64, error));
  EXPECT_EQ(error, "fault \"write=EIO:nth=0\", part 2 \"nth=0\": nth= wants a count from 1");
  EXPECT_FALSE(parse_fault("write=EIO:nth=1:after=2", Arch::kX86_64, error));
  EXPECT_FALSE(parse_fault("write=delay", Arch::kX86_64, error));
  EXPECT_EQ(error, "fault \"write=delay\": delay needs a duration (delay:500ms)");
  EXPECT_FALSE(parse_fault("write=delay:fast", Arch::kX86_64, error));
  EXPECT_FALSE(parse_fault("write=EIO:/a:/b", Arch::kX86_64, error));
  EXPECT_EQ(
      error,
      "fault \"write=EIO:/a:/b\", part 3 \"/b\": a second path glob (a glob cannot contain ':')");
}

}  // namespace
}  // namespace fb::runtime

namespace fb::runtime {
namespace {

TEST(Glob, ManyDoubleStarsStayPolynomial) {
  std::string path = "/" + std::string(3000, 'a');
  std::string pattern;
  for (int i = 0; i < 30; ++i) pattern += "**a";
  pattern += "b";
  EXPECT_FALSE(glob_match(pattern, path));
  EXPECT_TRUE(glob_match("x**y", "x/a/b/y"));
  EXPECT_TRUE(glob_match("/a/**/b/*.log", "/a/x/y/b/app.log"));
  EXPECT_FALSE(glob_match("/a/**/b/*.log", "/a/x/y/b/sub/app.log"));
}

}  // namespace
}  // namespace fb::runtime
