// `faultbox test`: runs a spec's tests against freshly started services.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <regex>
#include <set>

#include "runtime/output_dir.h"
#include "runtime/ports.h"
#include "runtime/redact.h"
#include "runtime/rules.h"
#include "runtime/syscalls.h"
#include "tools/cli/command.h"
#include "tools/cli/report.h"
#include "tools/cli/signals.h"
#include "tools/cli/test_runner.h"

namespace fb::cli {
namespace {

namespace fs = std::filesystem;

/// --test: the exact name with or without "test_", a glob, or "~regex".
bool selected(const std::string& test, const std::string& pattern) {
  if (pattern.empty()) return true;
  if (pattern.starts_with("~")) {
    try {
      return std::regex_search(test, std::regex(pattern.substr(1)));
    } catch (const std::regex_error&) {
      return false;
    }
  }
  if (test == pattern || test == "test_" + pattern) return true;
  if (pattern.find_first_of("*?") != std::string::npos)
    return runtime::glob_match(pattern, test) || runtime::glob_match("test_" + pattern, test);
  return false;
}

/// --test NAME[leaf=N]: the pattern, and the one leaf to run.
struct Selection {
  std::string pattern;
  std::optional<std::uint64_t> leaf;
};

bool parse_selection(const std::string& text, Selection& out) {
  out.pattern = text;
  auto open = text.rfind("[leaf=");
  if (open == std::string::npos || !text.ends_with("]")) return true;
  auto n = parse_unsigned(text.substr(open + 6, text.size() - open - 7));
  if (!n) return false;
  out.pattern = text.substr(0, open);
  out.leaf = *n;
  return true;
}

/// --shard I/N: which of N shards this is (0-based).
struct Shard {
  std::uint64_t index = 0, count = 1;
};

/// Leaves go to shards by a hash of the test's name and the leaf's index: every shard
/// decides alone, and the shards' leaves are all the leaves, once each.
bool in_shard(const std::string& test, std::uint64_t leaf, const Shard& shard) {
  if (shard.count <= 1) return true;
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a
  for (char c : test + "#" + std::to_string(leaf)) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h % shard.count == shard.index;
}

/// The option each axis takes in `leaf`, numbered as the plan numbers leaves.
TestRunner::Pins decode_leaf(std::uint64_t leaf, const std::vector<stdlib::Axis>& axes) {
  std::vector<std::uint64_t> cardinalities;
  for (const auto& axis : axes) cardinalities.push_back(axis.cardinality);
  auto digits = plan::leaf_digits(leaf, cardinalities);
  TestRunner::Pins pins;
  for (std::size_t i = 0; i < axes.size(); ++i) pins[axes[i].name] = digits[i];
  return pins;
}

std::uint64_t saturating_product(std::uint64_t a, std::uint64_t b) {
  bool saturated = false;
  return plan::saturating_product(a, b, saturated);
}

/// Which of `matrices` holds the outcome's cell (by its scenario and fault), or -1.
int matrix_index(const std::vector<stdlib::MatrixDecl>& matrices, const TestOutcome& outcome) {
  for (std::size_t i = 0; i < matrices.size(); ++i) {
    const auto& m = matrices[i];
    if (std::find(m.scenarios.begin(), m.scenarios.end(), outcome.cell_scenario) !=
            m.scenarios.end() &&
        std::find(m.faults.begin(), m.faults.end(), outcome.cell_fault) != m.faults.end())
      return static_cast<int>(i);
  }
  return -1;
}

/// A leaf that pins an axis the run never met (a choice made only under some other
/// choice) ran as the leaf with that axis at its first option: a note names both.
std::optional<Diagnostic> unmet_axes(std::uint64_t leaf, const std::vector<stdlib::Axis>& axes,
                                     const TestOutcome& outcome) {
  std::vector<std::uint64_t> cardinalities;
  for (const auto& axis : axes) cardinalities.push_back(axis.cardinality);
  auto digits = plan::leaf_digits(leaf, cardinalities);
  std::string names;
  std::uint64_t same = 0, weight = 1;
  for (std::size_t i = 0; i < axes.size(); ++i) {
    bool met = std::any_of(outcome.axes.begin(), outcome.axes.end(),
                           [&](const stdlib::Axis& a) { return a.name == axes[i].name; });
    if (digits[i] > 0 && !met)
      names += (names.empty() ? "" : ", ") + axes[i].name;
    else
      same += digits[i] * weight;
    weight *= axes[i].cardinality;  // no overflow: the product is at most the leaf count
  }
  if (names.empty()) return std::nullopt;
  return Diagnostic{
      "info", "LEAF_SAME_AS", outcome.name,
      "this leaf did not meet " + names + ", so it ran as leaf " + std::to_string(same) + " does",
      ""};
}

/// {key: "a", wal: [1,0,1]}: what a leaf chose, as the report shows it.
std::string choices_text(const std::vector<std::pair<std::string, std::string>>& choices) {
  std::string out = "{";
  for (const auto& [name, value] : choices)
    out += (out.size() > 1 ? ", " : "") + name + ": " + value;
  return out + "}";
}

void indent(std::ostream& out, const std::string& text) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out << "    " << text.substr(start, end - start) << "\n";
    start = end + 1;
  }
}

/// A file the run writes when it ends (--output, --normalize). It is opened before the
/// first test, so that a path that cannot be written is a usage error at once rather
/// than a lost report after every test ran, and emptied only when it is written; it is
/// created 0600, since it holds what the services printed.
struct OutputFile {
  std::string flag, path;
  runtime::UniqueFd fd;
};

std::optional<OutputFile> open_output(const Context& context, const ParsedArgs& args,
                                      const std::string& flag, int& status) {
  auto path = args.value(flag);
  if (!path) return std::nullopt;
  std::string error;
  runtime::UniqueFd fd = runtime::open_private_file(*path, error, runtime::Symlinks::kFollow);
  if (!fd) status = usage_error(context, "test", "--" + flag + ": " + error);
  return OutputFile{flag, *path, std::move(fd)};
}

/// Writes `text` into an opened output file, in place of what it held, saying why not on err.
bool write_output(const Context& context, const OutputFile& file, const std::string& text) {
  std::string error;
  if (::ftruncate(file.fd.get(), 0) != 0 && errno != EINVAL)  // EINVAL: a pipe or a tty
    error = std::string("cannot truncate '") + file.path + "': " + std::strerror(errno);
  if (error.empty() && runtime::write_all(file.fd.get(), text, file.path, error)) return true;
  context.err << "faultbox test: --" << file.flag << ": " << error << "\n";
  return false;
}

/// Where a run writes service output: a folder of its own next to the spec
/// (.faultbox/runs/<id>/logs), or with --logs DIR that folder, locked against a second
/// run writing there at once.
struct RunLogs {
  std::optional<runtime::RunFolder> folder;
  std::optional<runtime::FileLock> lock;
  std::string logs;
};

std::string claimant(const std::string& spec, const std::string& logs);

/// Makes the run's logs folder. A folder that cannot be written is a usage error now,
/// not a failed service later: nullopt with `status` set and the error printed.
std::optional<RunLogs> prepare_logs(const Context& context, const ParsedArgs& args,
                                    const std::string& spec, int& status) {
  RunLogs run;
  std::string error;
  if (auto dir = args.value("logs")) {
    run.logs = *dir;
    std::string holder;
    if (runtime::make_private_dir(run.logs, error))
      run.lock = runtime::FileLock::try_take(run.logs + "/.faultbox-run.lock",
                                             claimant(spec, run.logs), holder, error);
    if (!run.lock && error.empty())
      error = "'" + run.logs + "' is in use by another faultbox run (" + holder + ")";
    if (!run.lock) {
      status = usage_error(context, "test", "--logs: " + error);
      return std::nullopt;
    }
    return run;
  }
  std::string state = (fs::path(spec).parent_path() / ".faultbox").lexically_normal().string();
  run.folder = runtime::RunFolder::create(state, error);
  if (run.folder) run.logs = run.folder->path() + "/logs";
  if (!run.folder || !runtime::make_private_dir(run.logs, error)) {
    status = usage_error(context, "test", "cannot make the run's folder: " + error);
    return std::nullopt;
  }
  return run;
}

/// What a run's claims and locks say about it, for whoever finds them taken: its pid,
/// where it writes, and its spec.
std::string claimant(const std::string& spec, const std::string& logs) {
  return "pid " + std::to_string(::getpid()) + ", logs in " + logs + ": faultbox test " + spec;
}

void print_diagnostic(std::ostream& out, const Diagnostic& d, const char* indent_text) {
  out << indent_text << (d.level == "warning" ? "WARNING" : "note") << ": [" << d.code << "] "
      << (d.test.empty() ? "" : d.test + ": ") << d.message << "\n";
  if (!d.suggestion.empty()) out << indent_text << "  hint: " << d.suggestion << "\n";
}

/// --dry-run: what would run, and what each service's filter would trap.
int dry_run(const Context& context, TestRunner& runner, const std::vector<std::string>& chosen) {
  context.out << "services (start order):\n";
  for (const stdlib::ServiceDecl* s : runner.start_order()) {
    context.out << "  " << s->name << ": " << s->binary;
    for (const auto& iface : s->interfaces)
      context.out << " " << iface.name << "=" << iface.protocol << ":" << iface.port;
    context.out << "\n";
    if (!s->env.empty()) {
      // Values of secret-looking names (and passwords in URLs) are not shown.
      context.out << "    env:";
      for (const auto& [key, value] : s->env)
        context.out << " " << key << "=" << runtime::redact_env(key, value);
      context.out << "\n";
    }
    if (!s->depends_on.empty()) {
      context.out << "    depends on:";
      for (const auto& d : s->depends_on) context.out << " " << d;
      context.out << "\n";
    }
    const auto& numbers = runner.trapped(s->name);
    if (!s->seccomp) {
      context.out << "    traps: nothing (seccomp=False)\n";
    } else if (numbers.empty()) {
      context.out << "    traps: nothing (no fault in the spec names it)\n";
    } else {
      context.out << "    traps:";
      for (int nr : numbers) context.out << " " << runtime::syscall_name(runtime::host_arch(), nr);
      context.out << "\n";
    }
  }
  context.out << "tests (" << chosen.size() << "):\n";
  for (const auto& t : chosen) context.out << "  " << t << "\n";
  return kExitOk;
}

int run_test(const Context& context, const ParsedArgs& args) {
  if (args.positionals.size() > 1)
    return usage_error(context, "test",
                       "takes one SPEC, got " + std::to_string(args.positionals.size()));
  std::string spec = args.positionals.empty() ? "faultbox.star" : args.positionals[0];
  std::string format = args.value("format").value_or("text");
  if (format != "text" && format != "json")
    return usage_error(context, "test", "unknown --format '" + format + "' (use text or json)");
  bool json_out = format == "json";
  std::string show = args.value("show").value_or("all");
  if (show == "failures") show = "fail";
  if (show != "all" && show != "fail")
    return usage_error(context, "test", "unknown --show '" + show + "' (use all or fail)");
  std::uint64_t runs = 1;
  if (auto text = args.value("runs")) {
    auto value = parse_unsigned(*text);
    if (!value || *value == 0)
      return usage_error(context, "test", "--runs wants a positive integer, got '" + *text + "'");
    runs = *value;
  }
  std::uint64_t seed = 0;
  bool dry = args.has("dry-run");
  if (auto mode = args.value("explore"))
    return usage_error(
        context, "test",
        "--explore " + *mode +
            " is not supported: it replayed held syscalls in a permuted order chosen at "
            "run time. Write parallel(..., interleavings=\"all\") instead: each ordering is "
            "a plan leaf that `faultbox plan` counts and `--test 'NAME[leaf=N]'` replays");
  if (auto text = args.value("seed")) {
    auto value = parse_unsigned(*text);
    if (!value)
      return usage_error(context, "test",
                         "--seed wants a non-negative integer, got '" + *text + "'");
    seed = *value;
  } else {
    seed = std::random_device{}() & 0x7fffffff;
    if (!dry)
      context.err << "seed: " << seed << " (generated; --seed " << seed << " repeats this run)\n";
  }
  std::chrono::milliseconds timeout{std::chrono::minutes(3)};
  if (auto text = args.value("timeout")) {
    std::string why;
    auto d = runtime::parse_duration(*text, why);
    if (!d || d->count() <= 0)
      return usage_error(context, "test",
                         "--timeout: " + (d ? std::string("wants a positive duration") : why));
    timeout = std::chrono::ceil<std::chrono::milliseconds>(*d);
  }
  std::string why;
  auto memory = max_memory(args, why);
  if (!memory) return usage_error(context, "test", why);
  if (!fs::exists(spec)) {
    context.err << "faultbox test: cannot read '" << spec << "': No such file or directory\n";
    return kExitUsage;
  }
  // Where the run writes is made once the spec has loaded, and not for --dry-run.
  std::string logs;
  runtime::PortClaims port_claims;
  // With --format json, stdout carries only the report: print() goes to stderr.
  std::ostream& human = json_out ? context.err : context.out;
  // One runner per combination of the top level's named choices (usually just one):
  // each loads the spec with those options, and runs the leaves that take them.
  auto make_runner = [&] {
    auto r = std::make_unique<TestRunner>(spec, logs,
                                          [&](std::string_view line) { human << line << '\n'; });
    r->timeout = timeout;
    r->limit_memory(*memory);
    r->share_port_claims(&port_claims, claimant(spec, logs));
    return r;
  };
  std::unique_ptr<TestRunner> runner = make_runner();
  std::mutex runner_mutex;  // the signal watcher reaches the current runner through it
  TestRunner* current = runner.get();
  std::atomic<bool> interrupted{false};
  // Ctrl-C stops the running test and its services, and no further test starts.
  SignalWatch signals;
  signals.start([&](int, bool) {
    interrupted = true;
    std::lock_guard lock(runner_mutex);
    if (current) current->interrupt();
  });
  std::string error;
  if (!runner->load(error)) {
    context.err << "faultbox test: " << spec << ": cannot load the spec:\n" << error;
    if (!error.empty() && error.back() != '\n') context.err << "\n";
    return kExitUsage;
  }
  if (runner->tests().empty()) {
    context.err << "faultbox test: " << spec
                << ": the spec declares no tests (no `def test_*` at its top level and no "
                   "test(), scenario(), fault_scenario() or fault_matrix() call)\n";
    return kExitUsage;
  }
  Selection selection;
  if (!parse_selection(args.value("test").value_or(""), selection))
    return usage_error(context, "test",
                       "--test: a leaf is selected as NAME[leaf=N], got '" +
                           args.value("test").value_or("") + "'");
  const std::string& pattern = selection.pattern;
  std::vector<std::string> chosen;
  for (const auto& t : runner->tests()) {
    // A matrix's collapsed name, test_matrix_<scenario>, selects the scenario's cells.
    auto scenario = runner->matrix_scenario(t);
    if (selected(t, pattern) ||
        (!scenario.empty() && !pattern.empty() && selected("test_matrix_" + scenario, pattern)))
      chosen.push_back(t);
  }
  if (chosen.empty()) {
    std::string available;
    for (const auto& t : runner->tests()) available += (available.empty() ? "" : ", ") + t;
    context.err << "faultbox test: no test matched \"" << pattern
                << "\" (available: " << (available.empty() ? "none" : available) << ")\n";
    return kExitUsage;
  }
  if (dry) return dry_run(context, *runner, chosen);
  int status = kExitOk;
  std::optional<OutputFile> output_file = open_output(context, args, "output", status);
  std::optional<OutputFile> normalize_file = open_output(context, args, "normalize", status);
  if (status != kExitOk) return status;
  std::optional<RunLogs> run_logs = prepare_logs(context, args, spec, status);
  if (!run_logs) return status;
  logs = run_logs->logs;
  runner->set_log_dir(logs);
  // The ports the spec declares are this run's until it ends: a second run of the spec
  // (or of another that shares a port) stops here, saying which run has them.
  for (const auto& service : runner->services())
    for (const auto& iface : service.interfaces) {
      std::string held;
      if (!port_claims.claim(iface.port, claimant(spec, logs), held)) {
        context.err << "faultbox test: cannot run " << spec << ": " << service.name << "."
                    << iface.name << ": " << held << "\n";
        return kExitUsage;
      }
    }

  Shard shard;
  if (auto text = args.value("shard")) {
    auto slash = text->find('/');
    auto index = parse_unsigned(text->substr(0, slash == std::string::npos ? 0 : slash));
    auto count =
        slash == std::string::npos ? std::nullopt : parse_unsigned(text->substr(slash + 1));
    if (!index || !count || *count == 0 || *index >= *count)
      return usage_error(context, "test",
                         "--shard wants I/N with 0 <= I < N (e.g. 0/4), got '" + *text + "'");
    shard = {*index, *count};
  }
  plan::Plan static_plan = runner->plan();
  // The top level's axes are every test's first (least significant) digits: a leaf's
  // number modulo `stride` says which load of the spec runs it.
  const std::vector<stdlib::Axis> top_axes = runner->top_axes();
  const std::vector<stdlib::MatrixDecl> matrices = runner->matrices();
  const std::vector<std::string> first_tests = runner->tests();
  std::vector<std::string> late_tests;  // registered only by a later load: not run
  std::uint64_t stride = 1;
  for (const auto& axis : top_axes) stride = saturating_product(stride, axis.cardinality);
  if (stride == UINT64_MAX)
    return usage_error(context, "test", "the top level's choices have too many combinations");
  std::vector<Diagnostic> plan_notes;
  auto started = std::chrono::steady_clock::now();
  std::vector<TestOutcome> outcomes;
  int passed = 0, failed = 0, errored = 0, halted = 0, inconclusive = 0;
  auto print_outcome = [&](TestOutcome outcome) {
    diagnose(outcome);
    using V = TestOutcome::Verdict;
    bool ok = outcome.verdict == V::kPass || outcome.verdict == V::kHalted;
    const char* word = outcome.verdict == V::kPass           ? "PASS"
                       : outcome.verdict == V::kHalted       ? "HALTED"
                       : outcome.verdict == V::kFail         ? "FAIL"
                       : outcome.verdict == V::kInconclusive ? "INCONCLUSIVE"
                                                             : "ERROR";
    ++(outcome.verdict == V::kPass           ? passed
       : outcome.verdict == V::kHalted       ? halted
       : outcome.verdict == V::kFail         ? failed
       : outcome.verdict == V::kInconclusive ? inconclusive
                                             : errored);
    std::string shown = outcome.name;
    if (!outcome.axes.empty()) shown += "[leaf=" + std::to_string(outcome.leaf) + "]";
    if (!ok || show == "all") {
      human << word << " " << shown;
      if (!outcome.choices.empty()) human << " " << choices_text(outcome.choices);
      if (runs > 1) human << " [seed " << outcome.seed << "]";
      human << " (" << outcome.duration.count() << " ms)";
      if (!outcome.code.empty()) human << " [" << outcome.code << "]";
      human << "\n";
      if (outcome.verdict == V::kHalted) human << "  halted: " << outcome.reason << "\n";
      if (!ok) {
        human << "  reason:\n";
        indent(human, outcome.reason);
        for (const FaultHits& f : outcome.faults)
          if (f.hits > 0 && f.action != "trace")
            human << "  fault: " << f.service << (f.interface.empty() ? "" : "." + f.interface)
                  << " " << f.rule << " fired " << f.hits << " time(s)\n";
        human << "  logs: " << logs << "/" << runtime::path_component(outcome.name) << "/\n";
        // A leaf's name has brackets, which a shell would expand: quote it.
        std::string quoted = shown.find('[') == std::string::npos ? shown : "'" + shown + "'";
        human << "  replay: faultbox test " << spec << " --test " << quoted << " --seed "
              << outcome.seed << "\n";
      }
      for (const Diagnostic& d : outcome.diagnostics) print_diagnostic(human, d, "  ");
    }
    outcomes.push_back(std::move(outcome));
    return ok;
  };

  // A test's leaves: the axes its runs meet make a mixed-radix number whose first axis
  // is the least significant digit. The top level's axes come first, then the plan's
  // axes of the body in source order, so leaves are numbered as `faultbox plan` lists
  // them; the runs fill in the options' values and add any axis the plan could not
  // see. Leaf 0 (every axis at its first option) is what runs without a plan; an axis
  // first met in a later leaf adds leaves above the ones already run, which stay valid
  // (they took its option 0).
  struct Leaves {
    std::string name;
    std::vector<stdlib::Axis> axes;
    std::uint64_t total = 1;
    bool complete = false;  // the plan knows every axis: no run is needed to find them
    std::size_t planned_axes = 0;
    /// Per load (the top level's options, as a leaf's low digits): the next leaf of
    /// that load to consider. A body axis first met in a later load adds leaves to
    /// loads already done, which another pass then runs.
    std::map<std::uint64_t, std::uint64_t> next;
  };
  std::vector<Leaves> tests;
  for (const auto& name : chosen) {
    Leaves leaves;
    leaves.name = name;
    leaves.axes = top_axes;
    for (const auto& axis : top_axes)
      leaves.total = saturating_product(leaves.total, axis.cardinality);
    for (const auto& test_plan : static_plan.tests) {
      if (test_plan.name != name) continue;
      leaves.complete = !test_plan.at_least();
      for (const auto& a : test_plan.axes) {
        if (a.top_level) continue;
        stdlib::Axis axis;
        axis.kind = a.kind == plan::Axis::Kind::kChoose        ? stdlib::Axis::Kind::kChoose
                    : a.kind == plan::Axis::Kind::kProbability ? stdlib::Axis::Kind::kProbability
                                                               : stdlib::Axis::Kind::kInterleaving;
        axis.name = a.name;
        axis.cardinality = a.cardinality;
        leaves.axes.push_back(std::move(axis));
        leaves.total = saturating_product(leaves.total, a.cardinality);
      }
    }
    leaves.planned_axes = leaves.axes.size();
    tests.push_back(std::move(leaves));
  }
  auto mine = [&](const Leaves& t, std::uint64_t leaf) {
    return (!selection.leaf || *selection.leaf == leaf) && in_shard(t.name, leaf, shard);
  };
  std::vector<std::string> late_top_axes;  // met only by a later load of the top level
  std::uint64_t loaded_top = 0;            // the load `runner` holds
  std::string load_error;                  // why that load failed, if it did
  bool load_halted = false;                // it failed on a top-level assume()
  auto first_leaf = [&](const Leaves& t, std::uint64_t top) {
    auto at = t.next.find(top);
    return at == t.next.end() ? top : at->second;
  };
  // The next leaf of a load to look at after `leaf`: every stride-th one, or with
  // --test NAME[leaf=N] only N itself (after the load's first leaf, which may have to
  // find the axes), so that replaying one leaf of a huge plan does not walk it all.
  auto advance = [&](std::uint64_t leaf) -> std::uint64_t {
    if (selection.leaf) {
      std::uint64_t want = *selection.leaf;
      return want > leaf && want % stride == leaf % stride ? want : UINT64_MAX;
    }
    return UINT64_MAX - leaf < stride ? UINT64_MAX : leaf + stride;
  };
  for (bool again = true; again && !interrupted;) {
    again = false;
    for (std::uint64_t top = 0; top < stride && !interrupted; ++top) {
      auto top_digits = plan::leaf_digits(top, [&] {
        std::vector<std::uint64_t> c;
        for (const auto& axis : top_axes) c.push_back(axis.cardinality);
        return c;
      }());
      std::vector<std::pair<std::string, std::string>> top_choices;
      TestRunner::Pins top_pins;
      for (std::size_t i = 0; i < top_axes.size(); ++i) {
        top_pins[top_axes[i].name] = top_digits[i];
        top_choices.emplace_back(top_axes[i].name, top_axes[i].options[top_digits[i]]);
      }
      // Nothing to do for this load, unless it has leaves of ours not yet run (leaf 0
      // always runs first: it may have to find the axes).
      bool wanted = false;
      for (const auto& t : tests)
        for (std::uint64_t leaf = first_leaf(t, top); leaf < t.total && !wanted;
             leaf = advance(leaf))
          wanted = (leaf == top && !t.complete) || mine(t, leaf);
      if (!wanted) {
        for (auto& t : tests) t.next[top] = t.total;
        continue;
      }
      if (top != loaded_top) {
        // Load the spec again with these options.
        loaded_top = top;
        load_error.clear();
        load_halted = false;
        auto next = make_runner();
        {
          // Ctrl-C reaches the new load's top level too.
          std::lock_guard lock(runner_mutex);
          current = next.get();
          if (interrupted) next->interrupt();
        }
        bool loaded = next->load(load_error, top_pins);
        {
          // The previous runner's services (reuse=True ones included) stop with it.
          std::lock_guard lock(runner_mutex);
          runner = std::move(next);
        }
        if (loaded) {
          for (const auto& name : runner->tests())
            if (selected(name, pattern) &&
                std::find(first_tests.begin(), first_tests.end(), name) == first_tests.end() &&
                std::find(late_tests.begin(), late_tests.end(), name) == late_tests.end())
              late_tests.push_back(name);
          for (const auto& axis : runner->top_axes())
            if (!top_pins.count(axis.name) && std::find(late_top_axes.begin(), late_top_axes.end(),
                                                        axis.name) == late_top_axes.end())
              late_top_axes.push_back(axis.name);
        } else {
          load_halted = runner->load_halted();
          if (load_error.empty()) load_error = "the spec could not be loaded";
        }
      }
      for (auto& t : tests) {
        auto learn = [&](const TestOutcome& o) {
          for (const auto& axis : o.axes) {
            auto known = std::find_if(t.axes.begin(), t.axes.end(),
                                      [&](const stdlib::Axis& a) { return a.name == axis.name; });
            if (known == t.axes.end()) {
              // A top-level choice met only by this load is not an axis of the test.
              const auto& loaded = runner->top_axes();
              if (std::any_of(loaded.begin(), loaded.end(),
                              [&](const stdlib::Axis& a) { return a.name == axis.name; }))
                continue;
              t.axes.push_back(axis);
              t.total = saturating_product(t.total, axis.cardinality);
            } else if (known->cardinality != axis.cardinality) {
              context.err << "faultbox test: " << t.name << ": the plan counted "
                          << known->cardinality << " options for \"" << axis.name
                          << "\" but the run met " << axis.cardinality
                          << "; the leaves follow the plan\n";
            } else if (known->values.empty()) {
              known->options = axis.options;
              known->values = axis.values;
            }
          }
        };
        auto values_missing = [&] {
          return std::any_of(t.axes.begin(), t.axes.end(), [](const stdlib::Axis& a) {
            return a.kind == stdlib::Axis::Kind::kChoose && a.values.empty();
          });
        };
        const auto& registered = runner->tests();
        bool here = load_error.empty() &&
                    std::find(registered.begin(), registered.end(), t.name) != registered.end();
        std::uint64_t leaf = first_leaf(t, top);
        for (; leaf < t.total && !interrupted; leaf = advance(leaf)) {
          if (selection.leaf && *selection.leaf != leaf && leaf != top) continue;
          if (!mine(t, leaf)) {
            // Not ours to report; unless the plan knows every axis, the first leaf of
            // each load still runs once to find them, so that every shard numbers
            // the leaves alike.
            if (leaf == top && here && !t.complete)
              learn(runner->run(t.name, seed, t.axes, {}, true));
            continue;
          }
          if (!here) {
            // This load of the spec failed, or its top level did not register the test.
            TestOutcome outcome;
            outcome.name = t.name;
            outcome.seed = seed;
            outcome.leaf = leaf;
            outcome.axes = t.axes;
            outcome.choices = top_choices;
            if (load_halted) {
              outcome.verdict = TestOutcome::Verdict::kHalted;
              outcome.reason = "the top level's assume() excludes " + choices_text(top_choices);
            } else if (!load_error.empty()) {
              outcome.verdict = TestOutcome::Verdict::kError;
              outcome.code = "SPEC_LOAD_FAILED";
              outcome.reason = "the spec could not be loaded with " + choices_text(top_choices) +
                               ":\n" + load_error;
            } else {
              outcome.verdict = TestOutcome::Verdict::kHalted;
              outcome.reason =
                  "the top level does not register this test with " + choices_text(top_choices);
            }
            print_outcome(std::move(outcome));
            continue;
          }
          // assume= predicates need the named choices' values before the first leaf runs.
          if (leaf == 0 && runner->has_assumptions(t.name) && (!t.complete || values_missing()))
            learn(runner->run(t.name, seed, t.axes, {}, true));
          auto pins = decode_leaf(leaf, t.axes);
          // --runs N: seeds seed..seed+N-1; a leaf stops repeating at its first failure.
          for (std::uint64_t run = 0; run < runs && !interrupted; ++run) {
            TestOutcome outcome = runner->run(t.name, seed + run, t.axes, pins);
            outcome.leaf = leaf;
            // The table is drawn from the first load's matrices: find the cell's there.
            if (outcome.matrix >= 0) outcome.matrix = matrix_index(matrices, outcome);
            learn(outcome);
            // Only a body that ran can say which axes it met.
            if (outcome.verdict == TestOutcome::Verdict::kPass ||
                outcome.verdict == TestOutcome::Verdict::kFail)
              if (auto note = unmet_axes(leaf, t.axes, outcome))
                outcome.diagnostics.push_back(*note);
            if (outcome.axes.empty()) outcome.axes = t.axes;  // halted before meeting them
            if (!print_outcome(std::move(outcome))) break;
          }
        }
        t.next[top] = leaf;
      }
    }
    // Another pass when a load met body axes that give earlier loads more leaves.
    for (const auto& t : tests)
      for (const auto& [top, leaf] : t.next) again |= leaf < t.total;
  }
  {
    // The services of the last load stop here, before the summary.
    std::lock_guard lock(runner_mutex);
    current = nullptr;
    runner.reset();
  }
  for (const auto& t : tests) {
    if (t.axes.size() > t.planned_axes) {
      std::string found;
      for (std::size_t i = t.planned_axes; i < t.axes.size(); ++i)
        found += (found.empty() ? "" : ", ") + t.axes[i].name;
      plan_notes.push_back({"info", "PLAN_AXES_FOUND_WHEN_RUN", t.name,
                            "axes the plan could not count were found by running: " + found +
                                "; the test has " + std::to_string(t.total) + " leaves",
                            "name the option lists with literals or module-level constants so "
                            "that `faultbox plan` counts them"});
    }
    if (selection.leaf && *selection.leaf >= t.total && !interrupted) {
      context.err << "faultbox test: " << t.name << " has " << t.total
                  << " leaf(s); there is no leaf " << *selection.leaf << "\n";
      return kExitUsage;
    }
  }
  if (!late_tests.empty()) {
    std::string names;
    for (const auto& n : late_tests) names += (names.empty() ? "" : ", ") + n;
    plan_notes.push_back({"warning", "TESTS_NOT_IN_FIRST_LOAD", "",
                          "the top level registers tests only under other choices than the "
                          "first ones: " +
                              names + "; they were not run",
                          "register every test whatever the top-level choices are, and let "
                          "assume() or halt() in its body skip the combinations it does not fit"});
  }
  if (!late_top_axes.empty()) {
    std::string names;
    for (const auto& n : late_top_axes) names += (names.empty() ? "" : ", ") + n;
    plan_notes.push_back({"warning", "TOP_LEVEL_AXES_NOT_FANNED", "",
                          "the top level met choices only under other choices: " + names +
                              "; they took their first option in every leaf",
                          "call choose() at the top level unconditionally so that every load "
                          "meets it, or move the choice into the test body"});
  }
  // Leaves ran grouped by the top level's options; the report lists them by test.
  std::stable_sort(outcomes.begin(), outcomes.end(), [&](const auto& a, const auto& b) {
    auto ia = std::find(chosen.begin(), chosen.end(), a.name) - chosen.begin();
    auto ib = std::find(chosen.begin(), chosen.end(), b.name) - chosen.begin();
    return ia != ib ? ia < ib : a.leaf < b.leaf;
  });
  human << matrix_text(matrices, outcomes);
  auto run_diagnostics = diagnose_run(outcomes, interrupted);
  run_diagnostics.insert(run_diagnostics.end(), plan_notes.begin(), plan_notes.end());
  for (const Diagnostic& d : run_diagnostics) print_diagnostic(human, d, "");
  std::size_t not_run = 0;
  if (interrupted) {
    std::set<std::string> ran;
    for (const auto& o : outcomes) ran.insert(o.name);
    for (const auto& t : chosen) not_run += ran.count(t) ? 0 : 1;
  }
  human << passed << " passed, " << failed << " failed";
  if (errored) human << ", " << errored << " errored";
  if (halted) human << ", " << halted << " halted";
  if (inconclusive) human << ", " << inconclusive << " inconclusive";
  if (not_run) human << ", " << not_run << " not run (interrupted)";
  human << "\n";
  signals.stop_watching();
  int signal = signals.finish();

  RunSummary summary;
  summary.spec = spec;
  summary.seed = seed;
  summary.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  summary.interrupted = signal != 0;
  summary.show_failures_only = show == "fail";
  summary.matrices = matrices;
  bool written = true;
  if (json_out || output_file) {
    std::string report = report_json(summary, outcomes, run_diagnostics)
                             .dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
                         "\n";
    if (json_out) context.out << report;
    if (output_file) written &= write_output(context, *output_file, report);
  }
  if (normalize_file) written &= write_output(context, *normalize_file, normalize(outcomes, spec));
  if (signal) {
    context.err << "faultbox test: interrupted by SIG" << ::sigabbrev_np(signal)
                << "; the running test's services were stopped\n";
    return 128 + signal;
  }
  if (!written) return kExitUsage;
  return failed || errored ? kExitFindings : inconclusive ? kExitInconclusive : kExitOk;
}

}  // namespace

const Command& command_test() {
  static const Command command{
      .name = "test",
      .summary = "Run a spec's tests against freshly started services",
      .usage =
          "faultbox test [SPEC] [--test PATTERN] [--seed N] [--runs N] [--timeout DUR]\n"
          "                     [--format text|json] [--output FILE] [--normalize FILE]\n"
          "                     [--show all|fail] [--dry-run] [--logs DIR] [--max-memory SIZE]",
      .details =
          "Loads SPEC (default ./faultbox.star) and runs each top-level `def test_*` in name\n"
          "order. Before each test, every declared service is started: dependencies first,\n"
          "its ports checked free, then its healthcheck polled until it passes. After the\n"
          "test, every service is stopped (SIGTERM, SIGKILL 2 s later). Service output goes\n"
          "to LOGS/<test>/<service>.stdout and .stderr, files only their owner may read:\n"
          "LOGS is the run's own folder .faultbox/runs/<run-id>/logs next to the spec\n"
          "(runs/latest points at the newest), or --logs DIR, locked for the run. The ports\n"
          "the spec declares are claimed for the run: a second run needing one stops at once,\n"
          "naming the run that holds it.\n"
          "\n"
          "--test selects by exact name (with or without test_), glob, or ~regex. A test\n"
          "passes unless its body fails (FAIL, with the backtrace) or its services cannot be\n"
          "started (ERROR, with a code such as HEALTHCHECK_TIMEOUT and the service's stderr).\n"
          "\n"
          "After each test come its diagnostics: TEST_NO_ASSERTIONS (it cannot fail),\n"
          "FAULT_NOT_FIRED (a deny or delay never fired, with what it matched),\n"
          "FAULT_FIRED_BUT_SUCCESS (a deny fired and nothing was asserted), and for the run\n"
          "NO_POSITIVE_CONTROL (an interface no passing test saw work).\n"
          "\n"
          "--format json prints one report object (the reference's version 2 shape, plus\n"
          "errored, halted, leaf_id and per-rule fault hits) on stdout; --output FILE writes\n"
          "it to FILE. --normalize FILE writes a trace that is stable across runs with one\n"
          "seed, for `faultbox diff`. --runs N runs each test with seeds SEED..SEED+N-1 and\n"
          "stops repeating a test at its first failure. --show fail leaves passing tests out\n"
          "of the output (the counts still count them). --dry-run prints the services, what\n"
          "each one's filter traps, and the tests that would run.\n"
          "\n"
          "Exit status: 0 when every test passed, 2 when any failed, 3 when none failed but\n"
          "some were inconclusive (timed out, or a temporal property still pending), 1 when\n"
          "the spec cannot be loaded or no test matched, 128+N when interrupted by signal N.",
      .flags =
          {{"test", FlagKind::kValue, "PATTERN", "run only the matching tests"},
           {"seed", FlagKind::kValue, "N", "seed for probabilistic faults (default: random)"},
           {"timeout", FlagKind::kValue, "DUR",
            "stop a test body running longer than DUR (default 3m): inconclusive, TEST_TIMEOUT"},
           {"runs", FlagKind::kValue, "N", "run each test N times, seeds SEED..SEED+N-1"},
           {"format", FlagKind::kValue, "text|json", "json: one report object on stdout"},
           {"output", FlagKind::kValue, "FILE", "also write the JSON report to FILE"},
           {"normalize", FlagKind::kValue, "FILE", "write the normalized trace to FILE"},
           {"show", FlagKind::kValue, "all|fail", "fail: leave passing tests out"},
           {"dry-run", FlagKind::kSwitch, "", "print services, trap sets and tests; run nothing"},
           {"shard", FlagKind::kValue, "I/N", "run only shard I (0-based) of N of the leaves"},
           {"logs", FlagKind::kValue, "DIR", "where service output goes"},
           kMaxMemoryFlag,
           {"explore", FlagKind::kValue, "all|sample",
            "not supported: use parallel(..., interleavings=)"}},
      .run = run_test,
  };
  return command;
}

}  // namespace fb::cli
