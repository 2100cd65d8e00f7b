#include "runtime/event_log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <thread>

namespace fb::runtime {
namespace {

TEST(EventLog, EachLaneTicksItsOwnClock) {
  EventLog log;
  log.append("a1", "api", {});
  log.append("d1", "db", {});
  log.append("a2", "api", {});
  auto events = log.snapshot();
  EXPECT_EQ(events[0].clock, (VectorClock{{"api", 1}}));
  EXPECT_EQ(events[1].clock, (VectorClock{{"db", 1}}));
  EXPECT_EQ(events[2].clock, (VectorClock{{"api", 2}}));
  EXPECT_FALSE(happens_before(events[0].clock, events[1].clock));
  EXPECT_TRUE(happens_before(events[0].clock, events[2].clock));
  EXPECT_FALSE(happens_before(events[1].clock, events[2].clock));
  EXPECT_FALSE(happens_before(events[2].clock, events[1].clock));
}

TEST(EventLog, MergingCarriesCausalityAcrossLanes) {
  EventLog log;
  log.append("step_send", "test", {});
  log.merge("api", "test");  // the request reaches api
  log.append("syscall", "api", {});
  log.merge("test", "api");  // the reply reaches the test
  log.append("step_recv", "test", {});
  log.append("other", "db", {});
  auto e = log.snapshot();
  EXPECT_EQ(e[1].clock, (VectorClock{{"api", 1}, {"test", 1}}));
  EXPECT_EQ(e[2].clock, (VectorClock{{"api", 1}, {"test", 2}}));
  EXPECT_TRUE(happens_before(e[0].clock, e[1].clock));
  EXPECT_TRUE(happens_before(e[1].clock, e[2].clock));
  EXPECT_FALSE(happens_before(e[3].clock, e[2].clock));
  EXPECT_FALSE(happens_before(e[2].clock, e[3].clock));
  EXPECT_FALSE(happens_before(e[2].clock, e[2].clock)) << "an event does not precede itself";
  log.merge("api", "nobody");  // an unknown lane changes nothing
  log.append("syscall", "api", {});
  EXPECT_EQ(log.snapshot().back().clock, (VectorClock{{"api", 2}, {"test", 1}}));
}

TEST(EventLog, JsonLinesKeepTypesAndLeaveOutEmptyMaps) {
  EventLog log;
  log.append("syscall", "db", {{"pid", std::int64_t{42}}, {"path", std::string("/x/\"q\"\n\xff")}});
  log.append("note", "", {});
  auto events = log.snapshot();
  std::string line = to_json_line(events[0]);
  EXPECT_TRUE(line.starts_with("{\"seq\":1,\"time\":\"")) << line;
  EXPECT_NE(line.find("Z\",\"type\":\"syscall\",\"service\":\"db\",\"fields\":{\"pid\":42,"
                      "\"path\":\"/x/\\\"q\\\"\\n\xEF\xBF\xBD\"},\"vector_clock\":{\"db\":1}}"),
            std::string::npos)
      << line;
  std::string bare = to_json_line(events[1]);
  EXPECT_EQ(bare.find("fields"), std::string::npos) << bare;
  EXPECT_EQ(bare.find("vector_clock"), std::string::npos) << bare;
  EXPECT_EQ(bare.find("service"), std::string::npos) << bare;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(EventLog, JsonLinesAreValidJsonForAnyBytes) {
  EventLog log;
  std::string bytes = "ctl\x01 tab\t é \xED\xA0\x80 cut\xC3 \xF4\x90\x80\x80 \xC0\xAF 😀";
  log.append("syscall", "s", {{"path", bytes}});
  std::string line = to_json_line(log.snapshot()[0]);
  auto parsed = nlohmann::json::parse(line);  // throws on invalid UTF-8 or escapes
  std::string path = parsed["fields"]["path"];
  const std::string r = "\xEF\xBF\xBD";  // U+FFFD
  EXPECT_EQ(path,
            "ctl\x01 tab\t é " + r + r + r + " cut" + r + " " + r + r + r + r + " " + r + r + " 😀");
  EXPECT_NE(line.find("\\u0001"), std::string::npos) << line;
}

TEST(EventLog, ConcurrentAppendsGetDistinctSequenceNumbersInOrder) {
  EventLog log;
  std::vector<std::uint64_t> seen;
  log.subscribe([&](const Event& e) { seen.push_back(e.seq); });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) log.append("tick", "lane" + std::to_string(t), {});
    });
  for (auto& t : threads) t.join();
  ASSERT_EQ(seen.size(), 4000u);
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i + 1);
  std::map<std::string, std::uint64_t> last;
  for (const auto& e : log.snapshot()) {
    auto tick = e.clock.at(e.service);
    EXPECT_EQ(tick, last[e.service] + 1) << "a lane's own entry counts its events";
    last[e.service] = tick;
  }
}

TEST(EventLog, AStreamingLogKeepsNothingButStillNumbersAndTells) {
  EventLog log(/*retain=*/false);
  std::vector<std::string> seen;
  log.subscribe([&](const Event& e) { seen.push_back(std::to_string(e.seq) + e.type); });
  log.append("a", "s", {});
  log.append("b", "s", {});
  EXPECT_EQ(seen, (std::vector<std::string>{"1a", "2b"}));
  EXPECT_EQ(log.size(), 2u);
  EXPECT_TRUE(log.snapshot().empty());
}

TEST(EventLog, AnUnobservedEventStillCounts) {
  EventLog log(/*retain=*/false);
  EXPECT_FALSE(log.observed());
  log.tick("db");  // built by nobody, seen by nobody
  log.tick("db");
  std::vector<Event> seen;
  log.subscribe([&](const Event& e) { seen.push_back(e); });
  EXPECT_TRUE(log.observed());
  log.append("syscall", "db", {});
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].seq, 3u);
  EXPECT_EQ(seen[0].clock, (VectorClock{{"db", 3}}));
  EXPECT_TRUE(EventLog().observed()) << "a log that keeps its events is always observed";
}

TEST(EventLog, FieldsReadBackAsText) {
  Event e;
  e.fields = {{"code", std::int64_t{-3}}, {"signal", std::string("SIGKILL")}};
  EXPECT_EQ(e.text("code"), "-3");
  EXPECT_EQ(e.text("signal"), "SIGKILL");
  EXPECT_EQ(e.text("missing"), "");
  EXPECT_EQ(e.field("missing"), nullptr);
}

TEST(EventLog, SharedReadersSeeTheLogsOwnEventsUntilTheyUnsubscribe) {
  EventLog log;
  std::vector<EventLog::Shared> seen;
  auto id = log.subscribe_shared([&](const EventLog::Shared& e) { seen.push_back(e); });
  log.append("a", "s", {{"k", std::string("v")}});
  log.append("b", "s", {});
  auto kept = log.since(0);
  ASSERT_EQ(seen.size(), 2u);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(seen[0].get(), kept[0].get()) << "one event, shared, not copied";
  EXPECT_EQ(seen[1]->seq, 2u);
  EXPECT_EQ(log.since(1).size(), 1u);
  EXPECT_TRUE(log.since(5).empty());
  log.unsubscribe(id);
  log.append("c", "s", {});
  EXPECT_EQ(seen.size(), 2u) << "an unsubscribed reader is not called";
  EXPECT_EQ(log.snapshot().back().type, "c");
  EventLog streaming(/*retain=*/false);
  auto other = streaming.subscribe_shared([](const EventLog::Shared&) {});
  EXPECT_TRUE(streaming.observed());
  streaming.unsubscribe(other);
  EXPECT_FALSE(streaming.observed()) << "nobody sees its events any more";
}

}  // namespace
}  // namespace fb::runtime
