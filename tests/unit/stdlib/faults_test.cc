// deny(), delay() and allow() as values, and the trap set computed from static facts.
#include <gtest/gtest.h>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "runtime/syscalls.h"
#include "stdlib/builtins.h"
#include "stdlib/faults.h"
#include "stdlib/protocol_faults.h"
#include "stdlib/queries.h"
#include "tests/unit/spec_run.h"
#include "vm/ops.h"
#include "vm/thread.h"

namespace fb::stdlib {
namespace {

using Run = testing::SpecRun;

std::unique_ptr<Run> run(const std::string& text) { return testing::run_spec(text, lookup); }

const runtime::FaultRule& rule_of(const Run& r, std::string_view name) {
  return r.global(name).as<FaultValue>()->rule;
}

TEST(Faults, ValuesCarryTheirRule) {
  auto r = run(R"(
a = deny("eio", probability = "20%", label = "wal")
b = delay("1.5s", probability = 0.5)
c = allow()
d = deny("ENOSPC", probability = 20)
e = deny("EIO", nth = 2)
shown = repr(a)
kind = type(a)
)");
  ASSERT_TRUE(r->ok) << r->thread.error();
  EXPECT_EQ(rule_of(*r, "a").action, runtime::FaultRule::Action::kDeny);
  EXPECT_EQ(rule_of(*r, "a").error, 5);
  EXPECT_DOUBLE_EQ(rule_of(*r, "a").probability, 0.2);
  EXPECT_EQ(rule_of(*r, "a").label, "wal");
  EXPECT_EQ(rule_of(*r, "b").delay, std::chrono::milliseconds(1500));
  EXPECT_DOUBLE_EQ(rule_of(*r, "b").probability, 0.5);
  EXPECT_EQ(rule_of(*r, "c").action, runtime::FaultRule::Action::kAllow);
  EXPECT_DOUBLE_EQ(rule_of(*r, "d").probability, 0.2) << "a number above 1 is a percentage";
  EXPECT_EQ(rule_of(*r, "e").nth, 2u);
  EXPECT_EQ(vm::str(r->global("shown")), R"(deny("EIO", probability="20%", label="wal"))");
  EXPECT_EQ(vm::str(r->global("kind")), "fault");
}

TEST(Faults, ProtocolRulesKeepTheirMatchersAndPayload) {
  auto r = run(R"(
a = error(path = "/orders/*", method = "POST", status = 503, message = "down", probability = "50%")
b = response(op = "GET", body = "cached", status = 200)
c = delay(delay = "250ms", subject = "orders.*", nth = 2)
d = drop(collection = "users", after = 1, label = "x")
shown = repr(a)
kind = type(d)
)");
  ASSERT_TRUE(r->ok) << r->thread.error();
  auto rule = [&](const char* name) { return r->global(name).as<stdlib::ProxyRuleValue>()->rule; };
  EXPECT_EQ(rule("a").action, proxy::Rule::Action::kError);
  EXPECT_EQ(rule("a").path, "/orders/*");
  EXPECT_EQ(rule("a").method, "POST");
  EXPECT_EQ(rule("a").status, 503);
  EXPECT_EQ(rule("a").message, "down");
  EXPECT_DOUBLE_EQ(rule("a").probability, 0.5);
  EXPECT_EQ(rule("b").method, "GET") << "op= is method=";
  EXPECT_EQ(rule("b").body, "cached");
  EXPECT_EQ(rule("c").delay, std::chrono::milliseconds(250));
  EXPECT_EQ(rule("c").topic, "orders.*") << "subject= is topic=";
  EXPECT_EQ(rule("c").nth, 2u);
  EXPECT_EQ(rule("d").key, "users") << "collection= is key=";
  EXPECT_EQ(rule("d").after, 1u);
  EXPECT_EQ(
      vm::str(r->global("shown")),
      R"(error(path="/orders/*", method="POST", status=503, message="down", probability="50%"))");
  EXPECT_EQ(vm::str(r->global("kind")), "proxy_fault");
}

TEST(Faults, BadFaultsAreErrorsNamingWhatIsWrong) {
  struct Case {
    const char* spec;
    const char* error;
  } cases[] = {
      {R"(deny("EIOO"))", "deny: unknown errno \"EIOO\" (did you mean \"EIO\"?)"},
      {R"(deny(5))", "deny: errno must be a string like \"EIO\", got int"},
      {R"(deny("EIO", probability = "lots"))",
       "deny: probability \"lots\" is not a number (write \"20%\" or 0.2)"},
      {R"(deny("EIO", probability = "150%"))", "deny: probability \"150%\" is outside 0%..100%"},
      {R"(deny("EIO", max_fires = 2))", "deny: max_fires= is only meaningful with probability < 1"},
      {R"(deny("EIO", mode = "sometimes"))", "deny: mode must be \"exhaustive\" or \"stochastic\""},
      {R"(delay(500))", "delay: the duration must be a string like \"500ms\", got int"},
      {R"(delay("soon"))", "delay: invalid duration \"soon\""},
      {R"(delay())", "delay: want delay(\"500ms\") for a syscall or delay(delay=\"500ms\""},
      {R"(delay(delay = "soon"))", "delay: delay=: invalid duration \"soon\""},
      {R"(error(status = 42))", "error: status must be 100..999"},
      {R"(response(body = 3))", "response: body must be a string, got int"},
      {R"(drop(probability = 0))", "drop: probability must be above 0%"},
  };
  for (const auto& c : cases) {
    auto r = run(c.spec);
    EXPECT_FALSE(r->ok) << c.spec;
    EXPECT_EQ(r->thread.error().substr(0, std::string(c.error).size()), c.error) << c.spec;
  }
}

std::set<std::string> names(const std::set<int>& numbers) {
  std::set<std::string> out;
  for (int n : numbers) out.insert(std::string(runtime::syscall_name(runtime::host_arch(), n)));
  return out;
}

/// The trap sets of a spec with two services: `svc` is "s", `db` is "d" (with an op
/// "persist" over write and fsync).
std::map<std::string, std::set<std::string>> traps_of(const std::string& text) {
  grammar::SourceMap map;
  auto id = map.add("spec.star",
                    "svc = service('s', '/bin/true')\ndb = service('d', '/bin/true')\n" + text);
  grammar::DiagnosticList diagnostics;
  auto module = compiler::analyze(map.file(id), diagnostics);
  std::vector<ServiceDecl> services(2);
  services[0].name = "s";
  services[1].name = "d";
  services[1].ops["persist"] = OpDecl{{"write", "fsync"}, "*.wal"};
  auto sets = trap_sets(compiler::lower(*module, map.file(id)).facts, services,
                        [](std::string_view global) -> std::string {
                          return global == "svc" ? "s" : global == "db" ? "d" : "";
                        });
  std::map<std::string, std::set<std::string>> out;
  for (const auto& [service, numbers] : sets) out[service] = names(numbers);
  return out;
}

TEST(Faults, TheTrapSetIsWhatTheSpecNamesPerService) {
  auto none = traps_of("x = 1\n");
  EXPECT_TRUE(none["s"].empty() && none["d"].empty()) << "no fault, no filter";
  auto literal = traps_of(R"(
def test_a():
    fault(svc, fsync = deny("EIO"), connect = delay("1s"), run = lambda: None)
)");
  EXPECT_EQ(literal["s"], (std::set<std::string>{"fsync", "fdatasync", "connect"}));
  EXPECT_TRUE(literal["d"].empty()) << "a fault on one service traps nothing in another";
  auto op = traps_of(R"(
def test_a():
    fault(db, persist = deny("EIO"), run = lambda: None)
)");
  EXPECT_TRUE(op["d"].contains("write") && op["d"].contains("pwrite64") &&
              op["d"].contains("fdatasync"))
      << "an op traps its syscalls, family-expanded";
  EXPECT_TRUE(op["s"].empty());
  auto computed = traps_of(R"(
def test_a(**kw):
    fault(svc, run = lambda: None, **kw)
)");
  EXPECT_TRUE(computed["s"].contains("write") && computed["s"].contains("pwritev2") &&
              computed["s"].contains("openat") && computed["s"].contains("close"))
      << "computed faults trap the whole faultable set";
  EXPECT_TRUE(computed["d"].empty());
  auto helper = traps_of(R"(
def crash(target):
    fault(target, fsync = deny("EIO"), run = lambda: None)
)");
  EXPECT_TRUE(helper["s"].contains("fsync") && helper["d"].contains("fsync"))
      << "a computed target may be any service";
  auto all = traps_of(R"(
def test_a():
    fault_all([svc, db], connect = deny("ECONNREFUSED"), run = lambda: None)
    trace_start(db, syscalls = ["openat"])
)");
  EXPECT_TRUE(all["s"].contains("connect") && all["d"].contains("connect"));
  EXPECT_FALSE(all["s"].contains("openat")) << "trace_start(db) traps only db";
  EXPECT_TRUE(all["d"].contains("openat"));
}

}  // namespace
}  // namespace fb::stdlib

namespace fb::stdlib {
namespace {

TEST(Queries, FiltersAreGlobsWithTheReferencesPrefixAndSuffixForms) {
  EXPECT_TRUE(filter_match("", "anything"));
  EXPECT_TRUE(filter_match("fsync", "fsync"));
  EXPECT_FALSE(filter_match("fsync", "fdatasync"));
  EXPECT_TRUE(filter_match("*.wal", "orders.wal"));
  EXPECT_FALSE(filter_match("/data/*.wal", "/data/x/orders.wal"));
  EXPECT_TRUE(filter_match("/data/**.wal", "/data/x/orders.wal"));
  EXPECT_TRUE(filter_match("deny*", "deny(input/output error)")) << "a prefix, across '/'";
  EXPECT_TRUE(filter_match("*orders.wal", "/tmp/x/orders.wal")) << "a suffix, across '/'";
  EXPECT_FALSE(filter_match("delay*", "deny(input/output error)"));
}

}  // namespace
}  // namespace fb::stdlib

namespace fb::stdlib {
namespace {

TEST(Asserts, TheMessageIsPositionalMsgOrMessage) {
  for (std::string call : {"assert_eq(1, 2, 'why')", "assert_eq(1, 2, msg = 'why')",
                           "assert_eq(1, 2, message = 'why')"}) {
    auto r = testing::run_spec(call + "\n", lookup);
    EXPECT_FALSE(r->ok) << call;
    EXPECT_EQ(r->thread.error(), "assert_eq failed: 1 != 2 (why)") << call;
  }
  for (std::string call : {"assert_true(False, 'why')", "assert_true(False, message = 'why')"}) {
    auto r = testing::run_spec(call + "\n", lookup);
    EXPECT_EQ(r->thread.error(), "why") << call;
  }
  auto r = testing::run_spec("assert_true(False, 'a', message = 'b')\n", lookup);
  EXPECT_EQ(r->thread.error(), "assert_true: give the message once, as msg or message=");
}

}  // namespace
}  // namespace fb::stdlib
