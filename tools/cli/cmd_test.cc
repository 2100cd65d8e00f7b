// `faultbox test`: runs a spec's tests against freshly started services.
#include <cstring>
#include <filesystem>
#include <ostream>
#include <random>
#include <regex>

#include "runtime/rules.h"
#include "tools/cli/command.h"
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

void indent(std::ostream& out, const std::string& text) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out << "    " << text.substr(start, end - start) << "\n";
    start = end + 1;
  }
}

int run_test(const Context& context, const ParsedArgs& args) {
  if (args.positionals.size() > 1)
    return usage_error(context, "test",
                       "takes one SPEC, got " + std::to_string(args.positionals.size()));
  std::string spec = args.positionals.empty() ? "faultbox.star" : args.positionals[0];
  std::uint64_t seed = 0;
  if (auto text = args.value("seed")) {
    auto value = parse_unsigned(*text);
    if (!value)
      return usage_error(context, "test",
                         "--seed wants a non-negative integer, got '" + *text + "'");
    seed = *value;
  } else {
    seed = std::random_device{}() & 0x7fffffff;
    context.err << "seed: " << seed << " (generated; --seed " << seed << " repeats this run)\n";
  }
  if (!fs::exists(spec)) {
    context.err << "faultbox test: cannot read '" << spec << "': No such file or directory\n";
    return kExitUsage;
  }
  std::string logs = args.value("logs").value_or(
      (fs::path(spec).parent_path() / ".faultbox" / "logs").lexically_normal().string());
  if (logs.empty()) logs = ".faultbox/logs";
  TestRunner runner(spec, seed, logs, [&](std::string_view line) { context.out << line << '\n'; });
  if (auto text = args.value("timeout")) {
    std::string why;
    auto d = runtime::parse_duration(*text, why);
    if (!d || d->count() <= 0)
      return usage_error(context, "test",
                         "--timeout: " + (d ? std::string("wants a positive duration") : why));
    runner.timeout = std::chrono::ceil<std::chrono::milliseconds>(*d);
  }
  // Ctrl-C stops the running test and its services, and no further test starts.
  SignalWatch signals;
  signals.start([&runner](int, bool) { runner.interrupt(); });
  std::string error;
  if (!runner.load(error)) {
    context.err << "faultbox test: " << spec << ": cannot load the spec:\n" << error;
    if (!error.empty() && error.back() != '\n') context.err << "\n";
    return kExitUsage;
  }
  std::string pattern = args.value("test").value_or("");
  std::vector<std::string> chosen;
  for (const auto& t : runner.tests())
    if (selected(t, pattern)) chosen.push_back(t);
  if (chosen.empty()) {
    std::string available;
    for (const auto& t : runner.tests()) available += (available.empty() ? "" : ", ") + t;
    context.err << "faultbox test: no test matched \"" << pattern
                << "\" (available: " << (available.empty() ? "none" : available) << ")\n";
    return kExitUsage;
  }
  int passed = 0, failed = 0;
  std::vector<std::string> warnings;
  for (const auto& name : chosen) {
    if (runner.interrupted()) break;
    TestOutcome outcome = runner.run(name);
    const char* word = outcome.verdict == TestOutcome::Verdict::kPass   ? "PASS"
                       : outcome.verdict == TestOutcome::Verdict::kFail ? "FAIL"
                                                                        : "ERROR";
    context.out << word << " " << name << " (" << outcome.duration.count() << " ms)";
    if (!outcome.code.empty()) context.out << " [" << outcome.code << "]";
    context.out << "\n";
    if (outcome.verdict == TestOutcome::Verdict::kPass) {
      ++passed;
      if (outcome.assertions == 0)
        warnings.push_back("WARNING: [TEST_NO_ASSERTIONS] " + name +
                           ": passed without evaluating any assertion\n  This test cannot fail. "
                           "Add an assert_* call, or say in a comment that it only exercises a "
                           "path.");
      continue;
    }
    ++failed;
    context.out << "  reason:\n";
    indent(context.out, outcome.reason);
    context.out << "  logs: " << logs << "/" << name << "/\n";
    context.out << "  replay: faultbox test " << spec << " --test " << name << " --seed " << seed
                << "\n";
  }
  context.out << passed << " passed, " << failed << " failed\n";
  signals.stop_watching();
  if (int signal = signals.finish()) {
    context.err << "faultbox test: interrupted by SIG" << ::sigabbrev_np(signal)
                << "; the running test's services were stopped\n";
    return 128 + signal;
  }
  if (!warnings.empty()) {
    context.out << "\n";
    for (const auto& w : warnings) context.out << w << "\n";
  }
  return failed ? kExitFindings : kExitOk;
}

}  // namespace

const Command& command_test() {
  static const Command command{
      .name = "test",
      .summary = "Run a spec's tests against freshly started services",
      .usage = "faultbox test [SPEC] [--test PATTERN] [--seed N] [--timeout DUR] [--logs DIR]",
      .details =
          "Loads SPEC (default ./faultbox.star) and runs each top-level `def test_*` in name\n"
          "order. Before each test, every declared service is started: dependencies first,\n"
          "its ports checked free, then its healthcheck polled until it passes. After the\n"
          "test, every service is stopped (SIGTERM, SIGKILL 2 s later). Service output goes\n"
          "to DIR/<test>/<service>.stdout and .stderr (default .faultbox/logs next to the\n"
          "spec).\n"
          "\n"
          "--test selects by exact name (with or without test_), glob, or ~regex. A test\n"
          "passes unless its body fails (FAIL, with the backtrace) or its services cannot be\n"
          "started (ERROR, with a code such as HEALTHCHECK_TIMEOUT and the service's stderr).\n"
          "Exit status: 0 when every test passed, 2 when any failed, 1 when the spec cannot\n"
          "be loaded or no test matched.",
      .flags = {{"test", FlagKind::kValue, "PATTERN", "run only the matching tests"},
                {"seed", FlagKind::kValue, "N", "seed for probabilistic faults (default: random)"},
                {"timeout", FlagKind::kValue, "DUR",
                 "stop a test body running longer than DUR (default 3m): TEST_TIMEOUT"},
                {"logs", FlagKind::kValue, "DIR", "where service output goes"}},
      .run = run_test,
  };
  return command;
}

}  // namespace fb::cli
