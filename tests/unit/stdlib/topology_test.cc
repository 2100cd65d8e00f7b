// The topology builtins as a spec's top level runs them: what they register with the
// session, the values they return, and the errors for bad declarations.
#include <gtest/gtest.h>

#include "stdlib/builtins.h"
#include "stdlib/session.h"
#include "tests/unit/spec_run.h"
#include "vm/ops.h"
#include "vm/thread.h"

namespace fb::stdlib {
namespace {

struct Run {
  Session session;
  std::unique_ptr<testing::SpecRun> spec;
  bool ok = false;
  std::string global(std::string_view name) const {
    vm::Value v = spec->global(name);
    return v.is(vm::Type::kNone) ? "<unset>" : vm::str(v);
  }
};

std::unique_ptr<Run> run(const std::string& text, bool with_session = true) {
  auto r = std::make_unique<Run>();
  r->spec = testing::run_spec(text, lookup, [&](vm::Thread& t) {
    if (with_session) r->session.attach(t);
  });
  r->ok = r->spec->ok;
  return r;
}

constexpr const char* kShop = R"(
db = service("db", "/usr/bin/kv", interface("main", "tcp", 5432),
             healthcheck = tcp("localhost:5432", timeout = "5s"), env = {"MODE": "wal"})
api = service("api", interface("public", "http", 8080), binary = "/usr/bin/api",
              args = ["--port", "8080"], depends_on = [db],
              healthcheck = http("localhost:8080/health"))
name = db.name
addr = db.main.addr
host = db.main.host
port = db.main.port
kind = type(db)
ref_kind = type(api.public)
shown = repr(db.main)
)";

TEST(Topology, ServicesRegisterWithTheirInterfacesAndAttributes) {
  auto r = run(kShop);
  ASSERT_TRUE(r->ok) << r->spec->thread.error();
  ASSERT_EQ(r->session.services.size(), 2u);
  const ServiceDecl& db = r->session.services[0];
  EXPECT_EQ(db.binary, "/usr/bin/kv");
  ASSERT_EQ(db.interfaces.size(), 1u);
  EXPECT_EQ(db.interfaces[0].port, 5432);
  EXPECT_EQ(db.healthcheck.kind, Healthcheck::Kind::kTcp);
  EXPECT_EQ(db.healthcheck.timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(db.env, (std::vector<std::pair<std::string, std::string>>{{"MODE", "wal"}}));
  const ServiceDecl& api = r->session.services[1];
  EXPECT_EQ(api.binary, "/usr/bin/api");
  EXPECT_EQ(api.args, (std::vector<std::string>{"--port", "8080"}));
  EXPECT_EQ(api.depends_on, (std::vector<std::string>{"db"}));
  EXPECT_EQ(api.healthcheck.target, "http://localhost:8080/health");
  EXPECT_EQ(api.healthcheck.timeout, std::chrono::milliseconds(10000)) << "the default";
  EXPECT_EQ(r->global("name"), "db");
  EXPECT_EQ(r->global("addr"), "localhost:5432");
  EXPECT_EQ(r->global("host"), "localhost");
  EXPECT_EQ(r->global("port"), "5432");
  EXPECT_EQ(r->global("kind"), "service");
  EXPECT_EQ(r->global("ref_kind"), "interface_ref");
  EXPECT_EQ(r->global("shown"), "<interface db.main tcp localhost:5432>");
}

TEST(Topology, EveryServiceLearnsEveryAddressThroughTheEnvironment) {
  auto r = run(R"(
a = service("my-db", "/bin/true", interface("main", "tcp", 7001))
b = service("api", "/bin/true", interface("http", "http", 8080), interface("admin", "http", 9090))
)");
  ASSERT_TRUE(r->ok) << r->spec->thread.error();
  auto env = r->session.wiring();
  auto has = [&](const std::string& k, const std::string& v) {
    return std::find(env.begin(), env.end(), std::pair(k, v)) != env.end();
  };
  EXPECT_TRUE(has("FAULTBOX_MY-DB_MAIN_ADDR", "localhost:7001")) << "upper-cased, dash kept";
  EXPECT_TRUE(has("FAULTBOX_MY-DB_MAIN_HOST", "localhost"));
  EXPECT_TRUE(has("FAULTBOX_MY-DB_MAIN_PORT", "7001"));
  EXPECT_TRUE(has("FAULTBOX_API_ADMIN_ADDR", "localhost:9090"));
  EXPECT_EQ(env.size(), 9u);
}

TEST(Topology, DependenciesComeFirstAndCyclesAreNamed) {
  auto r = run(R"(
web = service("web", "/bin/true", depends_on = ["api"])
api = service("api", "/bin/true", depends_on = ["db", "cache"])
cache = service("cache", "/bin/true")
db = service("db", "/bin/true")
)");
  ASSERT_TRUE(r->ok) << r->spec->thread.error();
  std::string error;
  auto order = r->session.start_order(error);
  ASSERT_TRUE(order) << error;
  std::vector<std::string> names;
  for (const auto* s : *order) names.push_back(s->name);
  EXPECT_EQ(names, (std::vector<std::string>{"db", "cache", "api", "web"}));

  r = run(R"(
a = service("a", "/bin/true", depends_on = ["b"])
b = service("b", "/bin/true", depends_on = ["c"])
c = service("c", "/bin/true", depends_on = ["a"])
)");
  ASSERT_TRUE(r->ok);
  EXPECT_FALSE(r->session.start_order(error));
  EXPECT_EQ(error, "depends_on has a cycle: a -> b -> c -> a");
  r = run(R"(a = service("a", "/bin/true", depends_on = ["ghost"]))");
  EXPECT_FALSE(r->session.start_order(error));
  EXPECT_EQ(error, "service \"a\" depends on \"ghost\", which is not declared");
}

TEST(Topology, BadDeclarationsAreErrorsNamingWhatIsWrong) {
  struct Case {
    const char* spec;
    const char* error;
  } cases[] = {
      {R"(service("db"))",
       "service(\"db\"): no binary given (a string after the name, or binary=)"},
      {R"(service("db", "/a", "/b"))", "service(\"db\"): two binaries given (\"/a\" and \"/b\")"},
      {R"(service("db", "/a", 42))",
       "service(\"db\"): positional argument 3 must be the binary (a string) or an interface(), "
       "got int"},
      {"service(\"db\", \"/a\")\nservice(\"db\", \"/b\")",
       "service(\"db\"): a service with this name is already declared"},
      {R"(service("db", "/a", interface("m", "tcp", 1), interface("m", "tcp", 2)))",
       "service(\"db\"): two interfaces named \"m\""},
      {R"(interface("m", "tcp", 70000))", "interface: port must be between 1 and 65535, got 70000"},
      {R"(interface("m", "tcp", "80"))", "interface: got string, want int"},
      {R"(tcp("localhost:1", timeout = "soon"))", "tcp: timeout: invalid duration \"soon\""},
      {R"(service("db", "/a", env = {"K": 1}))",
       "service(\"db\"): env must map strings to strings, got string: int"},
      {R"(service("db", "/a", healthcheck = "tcp"))",
       "service(\"db\"): healthcheck must be tcp(...), http(...) or ready(), got string"},
      {R"(service("db", "/a", healthcheck = ready()))",
       "service(\"db\"): ready() asks the service through its interface, and it has none"},
      {R"(ready(timeout = "0s"))", "ready: timeout"},
      {R"(service("db", image = "postgres:16"))",
       "service(\"db\"): image= services (containers and remote hosts) are not supported yet; use "
       "binary="},
      {R"(op(syscalls = ["wrte"]))", "op: unknown syscall \"wrte\" (did you mean \"write\"?)"},
      {R"(op(syscalls = []))", "op: syscalls= must name at least one syscall"},
      {R"(op(syscalls = "write"))", "op: syscalls must be a list of syscall names, got string"},
      {R"(op(syscalls = ["write"], path = 1))", "op: path must be a glob string, got int"},
      {R"(service("db", "/a", ops = {"run": op(syscalls = ["write"])}))",
       "service(\"db\"): an op cannot be named \"run\""},
      {R"(service("db", "/a", ops = {"persist": "write"}))",
       "service(\"db\"): ops[\"persist\"] must be op(syscalls = [...]), got string"},
      {R"(decoder("yaml"))", "decoder: unknown decoder \"yaml\" (json, logfmt or regex)"},
      {R"(decoder("json", pattern = "x"))",
       "decoder: pattern= is not a keyword of decoder(\"json\") (only regex takes a pattern)"},
      {R"(decoder("regex"))", "decoder: regex needs pattern="},
      {R"x(decoder("regex", pattern = "(\\d+)"))x",
       "decoder: pattern: the pattern has no named group"},
      {R"(decoder("regex", pattern = "(?P<x>[a-"))",
       "decoder: pattern: not a valid regular expression"},
      {R"(observe.stdout(decoder = "json"))",
       "observe.stdout: decoder must be decoder(\"json\"), decoder(\"logfmt\") or "
       "decoder(\"regex\", pattern=...), got string"},
      {R"(service("db", "/a", observe = observe.stdout()))",
       "service(\"db\"): observe must be a list like [observe.stdout()], got observe_source"},
      {R"(service("db", "/a", observe = [observe.stderr(), observe.stderr()]))",
       "service(\"db\"): stderr is observed twice; one decoder per stream"},
      {R"(service("db", "/a", observe = [decoder("json")]))",
       "service(\"db\"): observe items must be observe.stdout(...) or observe.stderr(...), got "
       "decoder"},
      {R"(match.event(type = 1))", "match.event: type= must be a string glob, got int"},
      {R"(match.any(match.event(), "x"))",
       "match.any: argument 2 must be a matcher like match.event(...), got string"},
      {R"(await_event("stdout"))",
       "await_event: the argument must be a matcher or a function of an event, got string"},
      {R"(await_event(match.never(), timeout = "0s"))",
       "await_event: timeout must be a positive duration"},
      {R"(await_event(match.never()))", "await_event: there is no running test here"},
      {R"(service("db", "/a", reuse = True, observe = [observe.stdout()]))",
       "service(\"db\"): observe= on a reused service is not supported yet"},
  };
  for (const auto& c : cases) {
    auto r = run(c.spec);
    EXPECT_FALSE(r->ok) << c.spec;
    EXPECT_EQ(r->spec->thread.error().substr(0, std::string(c.error).size()), c.error) << c.spec;
  }
  auto r = run(R"(service("db", "/a"))", /*with_session=*/false);
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->spec->thread.error(),
            "service() declares topology: it runs only in a spec run by faultbox test");
}

}  // namespace
}  // namespace fb::stdlib
