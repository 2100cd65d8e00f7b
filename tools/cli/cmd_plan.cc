// `faultbox plan`: the spec's tests and their fan-out, counted before anything runs.
#include <cctype>
#include <ostream>

#include <nlohmann/json.hpp>

#include "tools/cli/command.h"
#include "tools/cli/test_runner.h"

namespace fb::cli {
namespace {

nlohmann::json plan_json(const plan::Plan& p, const std::string& spec, std::uint64_t leaf_limit) {
  using nlohmann::json;
  json tests = json::array();
  for (const auto& t : p.tests) {
    json test{
        {"name", t.name}, {"kind", t.kind}, {"instances", t.instances}, {"at_least", t.at_least()}};
    for (const auto& [key, value] : t.details) test[key] = value;
    json axes = json::array();
    for (const auto& a : t.axes)
      axes.push_back({{"kind", a.kind == plan::Axis::Kind::kChoose        ? "choose"
                               : a.kind == plan::Axis::Kind::kProbability ? "probability"
                                                                          : "interleavings"},
                      {"name", a.name},
                      {"cardinality", a.cardinality},
                      {"options", a.options},
                      {"site", a.site},
                      {"top_level", a.top_level}});
    test["axes"] = std::move(axes);
    json dynamic = json::array();
    for (const auto& d : t.dynamic) dynamic.push_back({{"site", d.site}, {"why", d.why}});
    test["dynamic"] = std::move(dynamic);
    // The leaves, for a CI system to fan out over (`faultbox test --test 'NAME[leaf=N]'`).
    if (t.instances <= leaf_limit) {
      json leaves = json::array();
      for (std::uint64_t leaf = 0; leaf < t.instances; ++leaf) {
        json choices = json::object();
        auto digits = plan::leaf_digits(leaf, t.axes);
        for (std::size_t i = 0; i < t.axes.size(); ++i) choices[t.axes[i].name] = digits[i];
        leaves.push_back(
            {{"leaf_id", std::to_string(leaf)},
             {"test", t.axes.empty() ? t.name : t.name + "[leaf=" + std::to_string(leaf) + "]"},
             {"choices", std::move(choices)}});
      }
      test["leaves"] = std::move(leaves);
    } else {
      test["leaves_omitted"] = true;
    }
    tests.push_back(std::move(test));
  }
  return {{"schema_version", 1},
          {"spec", spec},
          {"tests", std::move(tests)},
          {"totals",
           {{"instances", p.instances}, {"at_least", p.at_least}, {"saturated", p.saturated}}}};
}

nlohmann::json coverage_json(const std::vector<plan::Edge>& edges) {
  nlohmann::json list = nlohmann::json::array();
  std::size_t uncovered = 0;
  for (const auto& e : edges) {
    list.push_back({{"from", e.from}, {"to", e.to}, {"via", e.via}, {"fault_tests", e.tests}});
    uncovered += e.tests.empty() ? 1 : 0;
  }
  return {{"edges", std::move(list)}, {"uncovered_edges", uncovered}};
}

std::string coverage_text(const std::vector<plan::Edge>& edges) {
  std::string out =
      "\nCoverage (an edge is faulted by a test that faults its callee, or the "
      "caller's connect):\n";
  if (edges.empty()) return out + "  no dependencies between services are declared\n";
  std::size_t covered = 0;
  for (const auto& e : edges) {
    out += "  " + e.from + " -> " + e.to + "  (" + e.via + ")  ";
    if (e.tests.empty()) {
      out += "NOT FAULTED\n";
      continue;
    }
    ++covered;
    std::string tests;
    for (const auto& t : e.tests) tests += (tests.empty() ? "" : ", ") + t;
    out += "faulted by " + tests + "\n";
  }
  return out + "  " + std::to_string(covered) + " of " + std::to_string(edges.size()) +
         " edges faulted\n";
}

/// A test to paste for each unfaulted edge: the caller, with connections to its
/// dependency refused, should answer with an error rather than hang or claim success.
std::string suggestions(const std::vector<plan::Edge>& edges,
                        const std::vector<stdlib::ServiceDecl>& services) {
  std::string out;
  for (const auto& e : edges) {
    if (!e.tests.empty()) continue;
    const stdlib::ServiceDecl* from = nullptr;
    for (const auto& s : services)
      if (s.name == e.from) from = &s;
    std::string var = e.from;
    for (char& c : var)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    std::string step = "None  # step " + var + " here";
    if (from && !from->interfaces.empty()) {
      const auto& iface = from->interfaces.front();
      step = iface.protocol == "http" ? var + "." + iface.name + ".get(path = \"/\")"
                                      : var + "." + iface.name + ".send(data = \"PING\")";
    }
    std::string to = e.to;
    for (char& c : to)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    out += "\n# " + e.from + " depends on " + e.to + " (" + e.via + "), and no test faults it.\n";
    out += "def test_" + var + "_without_" + to + "():\n";
    out += "    r = fault(" + var + ", connect = deny(\"ECONNREFUSED\"), run = lambda: " + step +
           ")\n";
    out += "    assert_true(r != None and not r.ok, \"" + e.from +
           " should report that it cannot reach " + e.to + "\")\n";
  }
  return out.empty() ? "" : "\nSuggested tests for the unfaulted edges:\n" + out;
}

int run_plan(const Context& context, const ParsedArgs& args) {
  if (args.positionals.size() > 1)
    return usage_error(context, "plan",
                       "takes one SPEC, got " + std::to_string(args.positionals.size()));
  std::string spec = args.positionals.empty() ? "faultbox.star" : args.positionals[0];
  std::string format = args.value("format").value_or("text");
  if (format != "text" && format != "json" && format != "dot")
    return usage_error(context, "plan",
                       "unknown --format '" + format + "' (use text, json or dot)");
  bool check_cost = args.has("check-cost");
  std::optional<std::uint64_t> budget;
  if (auto text = args.value("max-instances")) {
    budget = parse_unsigned(*text);
    if (!budget)
      return usage_error(context, "plan",
                         "--max-instances wants a non-negative integer, got '" + *text + "'");
  }
  if (check_cost && !budget)
    return usage_error(context, "plan", "--check-cost needs --max-instances N");
  // --seed is recorded in the JSON, so that a CI job that runs the leaves with it can
  // say which plan they came from; the leaves themselves do not depend on it.
  std::optional<std::uint64_t> seed;
  if (auto text = args.value("seed")) {
    seed = parse_unsigned(*text);
    if (!seed)
      return usage_error(context, "plan",
                         "--seed wants a non-negative integer, got '" + *text + "'");
  }
  std::uint64_t leaf_limit = 10000;
  if (auto text = args.value("max-leaves")) {
    auto n = parse_unsigned(*text);
    if (!n) return usage_error(context, "plan", "--max-leaves wants a non-negative integer");
    leaf_limit = *n;
  }
  std::string why;
  auto memory = max_memory(args, why);
  if (!memory) return usage_error(context, "plan", why);
  // Loading runs the spec's top level, which declares services but starts nothing.
  TestRunner runner(spec, "", [&](std::string_view line) { context.err << line << '\n'; });
  runner.limit_memory(*memory);
  std::string error;
  if (!runner.load(error)) {
    context.err << "faultbox plan: " << spec << ": cannot load the spec:\n" << error;
    if (!error.empty() && error.back() != '\n') context.err << "\n";
    return kExitUsage;
  }
  plan::Plan p = runner.plan();
  bool suggest = args.has("suggest");
  bool with_coverage = args.has("coverage") || suggest;
  std::vector<plan::Edge> edges;
  if (with_coverage) {
    auto topology = runner.topology();
    edges = plan::coverage(p, topology.depends_on, topology.env);
  }
  if (format == "json") {
    auto report = plan_json(p, spec, leaf_limit);
    if (seed) report["seed"] = *seed;
    // The services and their interfaces, for tools that draw the system or check it.
    nlohmann::json services = nlohmann::json::array();
    for (const auto& s : runner.services()) {
      nlohmann::json interfaces = nlohmann::json::array();
      for (const auto& i : s.interfaces)
        interfaces.push_back({{"name", i.name}, {"protocol", i.protocol}, {"port", i.port}});
      services.push_back(
          {{"name", s.name}, {"interfaces", std::move(interfaces)}, {"depends_on", s.depends_on}});
    }
    report["topology"] = {{"services", std::move(services)}};
    if (with_coverage) report["coverage"] = coverage_json(edges);
    context.out << report.dump(2) << "\n";
  } else if (format == "dot") {
    context.out << plan::render_dot(p);
  } else {
    context.out << plan::render_text(p, spec, seed);
    if (with_coverage) context.out << coverage_text(edges);
    if (suggest) context.out << suggestions(edges, runner.services());
  }
  if (check_cost) {
    if (p.instances > *budget) {
      context.err << "cost gate: plan has " << (p.at_least ? "at least " : "") << p.instances
                  << " instances; --max-instances=" << *budget << " exceeded\n";
      return kExitFindings;
    }
    if (p.at_least)
      context.err << "cost gate: plan has at least " << p.instances
                  << " instances, within --max-instances=" << *budget
                  << "; computed sites may add more\n";
  }
  return kExitOk;
}

}  // namespace

const Command& command_plan() {
  static const Command command{
      .name = "plan",
      .summary = "Count a spec's tests and their fan-out without running anything",
      .usage =
          "faultbox plan [SPEC] [--format text|json|dot] [--check-cost --max-instances N]\n"
          "                     [--max-leaves N] [--seed N] [--coverage] [--suggest]\n"
          "                     [--max-memory SIZE]",
      .details =
          "Loads SPEC (default ./faultbox.star), runs its top level (which declares services\n"
          "but starts none), and prints every test with the fan-out axes it can meet:\n"
          "named choose() calls (the top level's count for every test), exhaustive\n"
          "probability sites (deny/delay with max_fires=N and probability < 1, 2^N\n"
          "leaves, in the body or in the fault assumptions it applies) and the orderings\n"
          "of parallel(..., interleavings=). A test's leaves are the product of its axes,\n"
          "numbered as `faultbox test` numbers them. A site that cannot be sized without\n"
          "running (a computed option list, a fault on a computed service) makes the\n"
          "count \"at least\" and is listed.\n"
          "\n"
          "--format json adds each test's leaves with their choices (up to --max-leaves\n"
          "per test, default 10000), for a CI system to build a job matrix from, and the\n"
          "services with their interfaces; --seed N is recorded in it.\n"
          "--check-cost exits 2 when the plan has more than --max-instances leaves.\n"
          "--coverage lists every dependency edge (depends_on, or an env value naming\n"
          "another service's port) with the tests that fault it; --suggest adds a test to\n"
          "paste for each edge that none does.\n"
          "\n"
          "Exit status: 0, 2 when the cost gate fails, 1 when the spec cannot load or a\n"
          "flag is wrong.",
      .flags = {{"format", FlagKind::kValue, "text|json|dot", "output format (default text)"},
                {"check-cost", FlagKind::kSwitch, "", "exit 2 when over --max-instances"},
                kMaxMemoryFlag,
                {"max-instances", FlagKind::kValue, "N", "the cost gate's budget"},
                {"max-leaves", FlagKind::kValue, "N", "list leaves in JSON up to N per test"},
                {"seed", FlagKind::kValue, "N", "record the seed the leaves will run with"},
                {"coverage", FlagKind::kSwitch, "",
                 "list each dependency edge and the tests "
                 "that fault it"},
                {"suggest", FlagKind::kSwitch, "",
                 "print a test to paste for each unfaulted "
                 "edge (implies --coverage)"}},
      .run = run_plan,
  };
  return command;
}

}  // namespace fb::cli
