// `faultbox plan`: counting a spec's leaves without running anything.
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tools/cli/cli.h"

namespace fb::cli {
namespace {

namespace fs = std::filesystem;

struct Result {
  int code;
  std::string out, err;
};

/// Writes `text` as a spec and runs `faultbox plan` on it in-process. The services'
/// binaries do not exist: planning must not need them.
Result plan(const std::string& text, std::vector<std::string> flags = {"--format", "json"}) {
  fs::path dir = fs::temp_directory_path() / ("fb-plan-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "faultbox.star") << text;
  std::vector<std::string> args{"plan", (dir / "faultbox.star").string()};
  args.insert(args.end(), flags.begin(), flags.end());
  std::ostringstream out, err;
  int code = run(args, out, err, false);
  fs::remove_all(dir);
  return {code, out.str(), err.str()};
}

nlohmann::json plan_json(const std::string& text) {
  Result r = plan(text);
  EXPECT_EQ(r.code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

const std::string kServices = R"(
db = service("db", "/nonexistent/db", interface("main", "tcp", 5432))
api = service("api", "/nonexistent/api", interface("http", "http", 8080), depends_on = [db])
)";

TEST(Plan, CountsEveryAxisKindAndTheirProducts) {
  auto j = plan_json(kServices + R"(
OPTIONS = ["x", "y", "z", "w"]

def test_plain():
    pass

def test_three_by_two():
    n = choose("retries", [1, 2, 3])
    k = choose("key", ("a", "b")[0:2] and ["a", "b"])  # computed: at least
    m = choose("mode", range(2))

def test_probability():
    fault(db, write = deny("EIO", probability = 0.5, max_fires = 3), run = lambda: None)
    fault(api, connect = delay("1s", probability = "20%", max_fires = 2, label = "slow"),
          run = lambda: None)
    fault(db, fsync = deny("EIO", probability = 0.5, max_fires = 4, mode = "stochastic"),
          run = lambda: None)

def helper():
    return choose("via_helper", OPTIONS)

def test_reaches_helpers():
    helper()
    choose(["anonymous", "never", "an", "axis"])
    choose("single", ["one"])

def body():
    choose("registered", [1, 2])

test("registered", body = body)
)");
  std::map<std::string, nlohmann::json> tests;
  for (const auto& t : j["tests"]) tests[t["name"]] = t;
  EXPECT_EQ(tests["test_plain"]["instances"], 1);
  EXPECT_TRUE(tests["test_plain"]["axes"].empty());

  const auto& mixed = tests["test_three_by_two"];
  EXPECT_EQ(mixed["instances"], 6) << "3 retries x 2 modes; the computed key counts as 1";
  EXPECT_TRUE(mixed["at_least"]);
  ASSERT_EQ(mixed["dynamic"].size(), 1u);
  EXPECT_NE(mixed["dynamic"][0]["why"].get<std::string>().find("choose(\"key\")"),
            std::string::npos);
  EXPECT_NE(mixed["dynamic"][0]["site"].get<std::string>().find("faultbox.star:12:9"),
            std::string::npos)
      << mixed["dynamic"][0]["site"];

  const auto& prob = tests["test_probability"];
  EXPECT_EQ(prob["instances"], 32) << "2^3 x 2^2; a stochastic site is no axis";
  EXPECT_EQ(prob["axes"][0]["name"], "db:write");
  EXPECT_EQ(prob["axes"][1]["name"], "slow") << "a label names the site";
  EXPECT_FALSE(prob["at_least"]);

  EXPECT_EQ(tests["test_reaches_helpers"]["instances"], 4)
      << "a helper the test calls, over a module-level list; anonymous and one-option "
         "choices are no axes";
  EXPECT_EQ(tests["test_registered"]["instances"], 2);
  EXPECT_EQ(tests["test_registered"]["kind"], "test_builtin");
  EXPECT_EQ(j["totals"]["instances"], 1 + 6 + 32 + 4 + 2);
  EXPECT_TRUE(j["totals"]["at_least"]);
}

TEST(Plan, LeavesAreNumberedWithTheFirstAxisLeastSignificant) {
  auto j = plan_json(R"(
def test_grid():
    choose("a", [0, 1, 2])
    choose("b", ["x", "y"])
)");
  const auto& leaves = j["tests"][0]["leaves"];
  ASSERT_EQ(leaves.size(), 6u);
  std::vector<std::pair<int, int>> digits;
  for (const auto& leaf : leaves) digits.emplace_back(leaf["choices"]["a"], leaf["choices"]["b"]);
  EXPECT_EQ(digits,
            (std::vector<std::pair<int, int>>{{0, 0}, {1, 0}, {2, 0}, {0, 1}, {1, 1}, {2, 1}}));
  EXPECT_EQ(leaves[4]["test"], "test_grid[leaf=4]");
}

TEST(Plan, TopLevelChoicesComeFirstInEveryTest) {
  // The top level runs when planning, so its choices are counted exactly, even with a
  // computed option list; a body axis of the same name is the same axis.
  auto j = plan_json(kServices + R"(
SIZES = [n * 10 for n in range(3)]
SIZE = choose("size", SIZES)
choose([1, 2])  # anonymous: no axis

def test_plain():
    pass

def test_body():
    choose("size", SIZES)
    choose("b", ["x", "y"])
)");
  ASSERT_EQ(j["tests"].size(), 2u);
  const auto& body = j["tests"][0];
  EXPECT_EQ(body["name"], "test_body");
  EXPECT_EQ(body["instances"], 6);
  ASSERT_EQ(body["axes"].size(), 2u);
  EXPECT_EQ(body["axes"][0]["name"], "size");
  EXPECT_EQ(body["axes"][0]["top_level"], true);
  EXPECT_EQ(body["axes"][0]["options"], "[0, 10, 20]");
  EXPECT_EQ(body["axes"][1]["name"], "b");
  EXPECT_EQ(body["axes"][1]["top_level"], false);
  EXPECT_EQ(body["leaves"][4]["choices"], (nlohmann::json{{"size", 1}, {"b", 1}}));
  const auto& plain = j["tests"][1];
  EXPECT_EQ(plain["instances"], 3);
  EXPECT_EQ(plain["at_least"], false);
  EXPECT_EQ(j["totals"]["instances"], 9);

  Result text = plan(kServices + "X = choose(\"x\", [1, 2])\ndef test_a():\n    pass\n", {});
  EXPECT_NE(text.out.find("x: [1, 2]  (top level)"), std::string::npos) << text.out;
}

TEST(Plan, ProbabilitySitesOfAssumptionsAreAxesOfTheTestsThatApplyThem) {
  auto j = plan_json(kServices + R"(
flaky = fault_assumption("flaky", target = db, fsync = deny("EIO", probability = 0.5, max_fires = 2),
                         write = deny("EIO", probability = 0.1, max_fires = 1, label = "w"))
down = fault_assumption("down", target = api, connect = deny("ECONNREFUSED"))

def go():
    pass

fault_scenario("disk", scenario = go, faults = [flaky])

def test_window():
    fault(flaky, run = go)
    fault(down, run = go)
)");
  for (const auto& test : j["tests"]) {
    SCOPED_TRACE(test["name"].get<std::string>());
    EXPECT_EQ(test["instances"], 8);
    EXPECT_EQ(test["at_least"], false);
    ASSERT_EQ(test["axes"].size(), 2u);
    EXPECT_EQ(test["axes"][0]["name"], "db:fsync");
    EXPECT_EQ(test["axes"][0]["cardinality"], 4);
    EXPECT_EQ(test["axes"][1]["name"], "w");
  }
  // fault(assumption) in a body counts for coverage too: api's connect is faulted.
  Result r = plan(kServices + R"(
down = fault_assumption("down", target = api, connect = deny("ECONNREFUSED"))
def go():
    pass
def test_window():
    fault(down, run = go)
)",
                  {"--coverage", "--format", "json"});
  auto edges = nlohmann::json::parse(r.out)["coverage"]["edges"];
  ASSERT_EQ(edges.size(), 1u) << r.out;
  EXPECT_EQ(edges[0]["fault_tests"], nlohmann::json::array({"test_window"})) << r.out;
}

TEST(Plan, ATrillionLeavesAreCountedAndGatedAtOnce) {
  std::string spec = "def test_huge():\n";
  for (int i = 0; i < 12; ++i)
    spec += "    choose(\"a" + std::to_string(i) + "\", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])\n";
  auto started = std::chrono::steady_clock::now();
  Result r = plan(spec, {"--format", "json", "--check-cost", "--max-instances", "1000000"});
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(r.code, 2) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["totals"]["instances"].get<std::uint64_t>(), 1'000'000'000'000ull);
  EXPECT_TRUE(j["tests"][0]["leaves_omitted"]) << "too many to list";
  EXPECT_NE(r.err.find("plan has 1000000000000 instances; --max-instances=1000000 exceeded"),
            std::string::npos)
      << r.err;
  // Not a timing test: a generous bound that only a leaf-by-leaf count would miss.
  EXPECT_LT(took, std::chrono::seconds(20));
}

TEST(Plan, ParallelInterleavingsCountOrderings) {
  auto j = plan_json(R"(
def f():
    return 1
def test_all():
    parallel(f, f, f, interleavings = "all")
def test_critical():
    parallel(f, f, f, interleavings = "critical")
def test_four():
    parallel(f, f, f, interleavings = 4)
def test_one():
    parallel(f, f, f)
def test_computed(fs):
    parallel(interleavings = "all", *fs)
)");
  std::map<std::string, nlohmann::json> tests;
  for (const auto& t : j["tests"]) tests[t["name"]] = t;
  EXPECT_EQ(tests["test_all"]["instances"], 6) << "3!";
  std::string name = tests["test_all"]["axes"][0]["name"];
  EXPECT_TRUE(name.starts_with("parallel@") && name.ends_with("faultbox.star:5:13"))
      << name << " (named by its '(', as the VM names the call)";
  EXPECT_EQ(tests["test_critical"]["instances"], 5) << "2n-1";
  EXPECT_EQ(tests["test_four"]["instances"], 4);
  EXPECT_EQ(tests["test_one"]["instances"], 1);
  EXPECT_TRUE(tests["test_computed"]["at_least"]);
}

TEST(Plan, TheCostGateAndItsFlags) {
  std::string spec = "def test_a():\n    choose('n', [1, 2, 3])\n";
  EXPECT_EQ(plan(spec, {"--check-cost", "--max-instances", "3"}).code, 0);
  EXPECT_EQ(plan(spec, {"--check-cost", "--max-instances", "2"}).code, 2);
  Result missing = plan(spec, {"--check-cost"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("--check-cost needs --max-instances"), std::string::npos);
  EXPECT_EQ(plan(spec, {"--format", "yaml"}).code, 1);
  Result twice = plan("def b():\n    pass\ntest('x', body = b)\ntest('x', body = b)\n");
  EXPECT_EQ(twice.code, 1);
  EXPECT_NE(twice.err.find("test: \"test_x\" is registered twice"), std::string::npos) << twice.err;
  Result late =
      plan("def test_a():\n    pass\nfault_scenario('a', scenario = len, timeout = '-1s')\n");
  EXPECT_EQ(late.code, 1);
  EXPECT_NE(late.err.find("fault_scenario(\"a\"): timeout must be positive"), std::string::npos)
      << late.err;
  Result bad = plan("def test_a(:\n");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("faultbox.star:1:"), std::string::npos) << bad.err;
}

TEST(Plan, JsonRecordsTheSeedAndTheTopology) {
  Result r = plan(kServices + "def test_a():\n    pass\n", {"--format", "json", "--seed", "7"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["seed"], 7);
  const auto& services = j["topology"]["services"];
  ASSERT_EQ(services.size(), 2u);
  EXPECT_EQ(services[1]["name"], "api");
  EXPECT_EQ(services[1]["depends_on"], nlohmann::json::array({"db"}));
  EXPECT_EQ(services[1]["interfaces"][0],
            (nlohmann::json{{"name", "http"}, {"protocol", "http"}, {"port", 8080}}));
  EXPECT_FALSE(plan_json(kServices + "def test_a():\n    pass\n").contains("seed"));
  EXPECT_EQ(plan(kServices, {"--seed", "x"}).code, 1);
  Result text = plan(kServices + "def test_a():\n    pass\n", {"--seed", "7"});
  EXPECT_NE(text.out.find("Seed: 7\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Services: 2 (db, api)\n"), std::string::npos) << text.out;
}

TEST(Plan, CoverageNamesEachEdgeAndTheTestsThatFaultIt) {
  std::string spec = R"(
db = service("db", "/x/db", interface("main", "tcp", 5432))
cache = service("cache", "/x/cache", interface("main", "tcp", 6379))
queue = service("queue", "/x/queue", interface("main", "tcp", 5672))
api = service("api", "/x/api", interface("http", "http", 8080), depends_on = [db, queue],
              env = {"CACHE": "localhost:6379", "NOT_A_PORT": "localhost:63790"})
def test_db_down():
    fault(db, write = deny("EIO"), run = lambda: None)
def helper(s):
    fault(s, write = deny("EIO"), run = lambda: None)
def test_computed():
    helper(queue)
queue_down = fault_assumption("queue_down", target = api, connect = deny("ECONNREFUSED"))
def probe():
    return None
fault_scenario("api_alone", scenario = probe, faults = queue_down)
)";
  Result r = plan(spec, {"--format", "json", "--coverage"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  std::map<std::string, std::vector<std::string>> edges;
  for (const auto& e : j["coverage"]["edges"])
    edges[e["from"].get<std::string>() + "->" + e["to"].get<std::string>() + " " +
          e["via"].get<std::string>()] = e["fault_tests"];
  EXPECT_EQ(edges.size(), 3u) << j["coverage"];
  EXPECT_EQ(edges["api->db depends_on"],
            (std::vector<std::string>{"test_api_alone", "test_db_down"}));
  EXPECT_EQ(edges["api->queue depends_on"], std::vector<std::string>{"test_api_alone"})
      << "a computed target claims no edge; api's refused connects cover all of api's";
  EXPECT_EQ(edges["api->cache env"], std::vector<std::string>{"test_api_alone"});
  EXPECT_EQ(j["coverage"]["uncovered_edges"], 0);

  Result text = plan(R"(
db = service("db", "/x/db", interface("main", "tcp", 5432))
api = service("api", "/x/api", interface("http", "http", 8080), depends_on = [db])
def test_nothing():
    pass
)",
                     {"--suggest"});
  EXPECT_NE(text.out.find("  api -> db  (depends_on)  NOT FAULTED\n"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("def test_api_without_db():\n    r = fault(api, connect = "
                          "deny(\"ECONNREFUSED\"), run = lambda: api.http.get(path = \"/\"))"),
            std::string::npos)
      << text.out;
}

TEST(Plan, TextAndDotShowTheTree) {
  std::string spec = kServices + R"(
def test_grid():
    choose("a", [0, 1, 2])
    fault(db, write = deny("EIO", probability = 0.5, max_fires = 2), run = lambda: None)

def test_plain():
    pass
)";
  Result text = plan(spec, {});
  EXPECT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("    ├── test \"test_grid\"  [def]\n"
                          "    │   ├── 12 instances\n"
                          "    │   ├── choose\n"
                          "    │   │   └── a: [0, 1, 2]\n"
                          "    │   └── probability\n"
                          "    │       └── db:write: 2^2 (max_fires=2)\n"
                          "    └── test \"test_plain\"  [def]\n"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("\nTotal: 13 plan instances\n"), std::string::npos) << text.out;
  Result dot = plan(spec, {"--format", "dot"});
  EXPECT_NE(dot.out.find("\"test_grid\" -> \"test_grid/a\";"), std::string::npos) << dot.out;
  EXPECT_TRUE(dot.out.starts_with("digraph plan {")) << dot.out;
}

}  // namespace
}  // namespace fb::cli
