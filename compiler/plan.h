#pragma once
/// The plan: every test of a spec with the fan-out axes its body can meet, counted
/// before anything runs. An axis is a named choose() with two or more options, or an
/// exhaustive probability site (deny/delay with max_fires=N and probability < 1, 2^N
/// outcomes). A test's leaves are the mixed-radix product of its axes in source order,
/// the first axis the least significant digit, as `faultbox test` numbers them.
///
/// The axes come from the compiler's static facts in the functions a test can reach:
/// the ones defined inside it and the global functions it names, transitively. What
/// cannot be counted without running (a computed option list or name, a fault whose
/// service is computed) makes the count "at least", and the plan says which site and
/// why; it never rounds down silently.

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ir/module.h"

namespace fb::plan {

struct Axis {
  enum class Kind { kChoose, kProbability, kInterleaving } kind = Kind::kChoose;
  std::string name;  // the choice's name, or the site's label or "service:keyword"
  std::uint64_t cardinality = 0;
  std::string options;  // as written ("[1, 2, 3]", "range(4)") or "2^3 (max_fires=3)"
  std::string site;     // file:line:col of the call
  /// Met by the spec's top level: an axis of every test, for which the whole spec is
  /// loaded once per option.
  bool top_level = false;
};

/// A site whose contribution is not known without running the spec.
struct DynamicSite {
  std::string site;
  std::string why;
};

struct TestPlan {
  std::string name;
  /// "def" (a def test_*), "test_builtin" (test(...)), "scenario", "fault_scenario" or
  /// "fault_matrix".
  std::string kind;
  std::vector<std::pair<std::string, std::string>> details;  // ("faults", "[db_down]"), ...
  std::vector<Axis> axes;
  std::vector<DynamicSite> dynamic;
  std::uint64_t instances = 1;  // the product of the axes (saturates at UINT64_MAX)
  /// The services its faults can reach, and those whose connect() it faults (which
  /// stands for every dependency of that service being unreachable). "*" when a fault's
  /// service is computed, which covers no edge: coverage is claimed only when known.
  std::set<std::string> faulted, connect_faulted;
  bool at_least() const { return !dynamic.empty(); }
};

struct Plan {
  std::vector<TestPlan> tests;
  std::vector<std::string> services;  // declared, in declaration order (for the text)
  std::uint64_t instances = 0;        // the sum over tests (saturating)
  bool at_least = false;
  bool saturated = false;  // some count did not fit in 64 bits
};

/// What only the spec's top-level run knows, asked by global name.
/// What a fault_assumption value brings to a test that applies it.
struct AssumptionFacts {
  std::set<std::string> faulted, connect_faulted;  // as TestPlan's
  std::vector<Axis> axes;                          // its exhaustive probability sites
};

struct Globals {
  /// The function a global is bound to (its index in Module::functions).
  std::function<std::optional<std::uint32_t>(std::string_view)> function;
  /// The length of a list a global is bound to.
  std::function<std::optional<std::uint64_t>(std::string_view)> list_length;
  /// The service a global is bound to ("" when it is not one).
  std::function<std::string(std::string_view)> service;
  /// What the fault_assumption a global is bound to brings, or nullopt.
  std::function<std::optional<AssumptionFacts>(std::string_view)> assumption;
};

struct TestEntry {
  std::string name;
  std::string kind;
  std::uint32_t function = 0;  // the body
  std::vector<std::pair<std::string, std::string>> details;
  std::set<std::string> faulted, connect_faulted;  // from its fault assumptions
  /// The probability sites of its fault assumptions, installed before its body runs:
  /// its first axes.
  std::vector<Axis> axes;
};

/// A dependency between two services, and the tests that fault it.
struct Edge {
  std::string from, to;
  std::string via;  // "depends_on" or "env"
  std::vector<std::string> tests;
};

/// Every edge of the topology with the tests that fault it: an edge A -> B is faulted
/// by a test that faults B, or that faults A's connect().
std::vector<Edge> coverage(const Plan& plan,
                           const std::vector<std::pair<std::string, std::string>>& depends_on,
                           const std::vector<std::pair<std::string, std::string>>& env_edges);

Plan make_plan(const ir::Module& module, const std::vector<TestEntry>& tests,
               const Globals& globals);

/// Puts the top level's axes in front of every test's own (a test's axis of the same
/// name is the same axis), and counts the instances again.
void prepend_axes(Plan& plan, const std::vector<Axis>& top_level);

/// The leaf's option for each axis, given the axes' cardinalities: mixed radix, the
/// first axis least significant.
std::vector<std::uint64_t> leaf_digits(std::uint64_t leaf,
                                       const std::vector<std::uint64_t>& cardinalities);
std::vector<std::uint64_t> leaf_digits(std::uint64_t leaf, const std::vector<Axis>& axes);

/// a * b, or UINT64_MAX (and `saturated` set) when it does not fit.
std::uint64_t saturating_product(std::uint64_t a, std::uint64_t b, bool& saturated);

/// The plan tree as `faultbox plan` prints it; `seed` is shown when the run's seed is
/// known ("(unseeded)" otherwise).
std::string render_text(const Plan& plan, const std::string& spec,
                        std::optional<std::uint64_t> seed = std::nullopt);
/// Graphviz: spec -> test -> axis.
std::string render_dot(const Plan& plan);

}  // namespace fb::plan
