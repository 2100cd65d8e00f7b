#pragma once
/// What `faultbox test` makes of its outcomes: the diagnostics that say how much a
/// passing test really checked, the JSON report (the reference's version 2 shape with
/// our additions), and the normalized trace that `faultbox diff` compares.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/cli/test_runner.h"

namespace fb::cli {

/// Adds the test's own diagnostics to `outcome.diagnostics`: TEST_NO_ASSERTIONS,
/// FAULT_NOT_FIRED, FAULT_FIRED_BUT_SUCCESS and MULTIPLE_FAULTS_INTERACTION.
void diagnose(TestOutcome& outcome);

/// Findings about the whole run: NO_POSITIVE_CONTROL for every interface that was
/// stepped while no passing test that asserted anything saw a step on it succeed.
/// Findings about the whole run. An interrupted run has none: the tests it did not get
/// to might have been the positive controls.
std::vector<Diagnostic> diagnose_run(const std::vector<TestOutcome>& outcomes, bool interrupted);

struct RunSummary {
  std::string spec;
  std::uint64_t seed = 0;
  std::chrono::milliseconds duration{0};
  bool interrupted = false;
  bool show_failures_only = false;           // --show fail: passing tests are left out
  std::vector<stdlib::MatrixDecl> matrices;  // the spec's fault_matrix() calls
};

/// The fault matrices as tables, scenario rows by fault columns, each cell the verdict
/// of its leaves ("-" for an excluded or unrun cell). Empty when no cell ran.
std::string matrix_text(const std::vector<stdlib::MatrixDecl>& matrices,
                        const std::vector<TestOutcome>& outcomes);

/// The report: {version: 2, star_file, duration_ms, seed, pass, fail, errored,
/// inconclusive, halted, interrupted, tests: [...], diagnostics: [...], matrix?}.
/// `matrix` is the reference's single summary of every fault_matrix cell that ran:
/// {scenarios, faults, cells: [{scenario, fault, test, passed, outcome, ...}], total,
/// passed, failed, excluded: [{scenario, fault}]}. "fail" counts
/// failures and errors, as the reference's does; "errored" says how many were errors.
nlohmann::json report_json(const RunSummary& run, const std::vector<TestOutcome>& outcomes,
                           const std::vector<Diagnostic>& run_diagnostics);

/// One event as the reference's JSON has it: seq, timestamp, type, event_type,
/// partition_key, service, fields (as strings) and vector_clock.
nlohmann::json event_json(const runtime::Event& event);

/// The normalized trace: per test `=== name ===`, then per lane (sorted; the test's own
/// lane is "test") `--- lane ---` and one line per kept event, without times, pids,
/// sequence numbers or ephemeral ports, so that two runs with one seed give the same
/// text. What is kept: every syscall decision that is not a plain allow, lifecycle and
/// fault events, and steps. Paths under the spec's directory are written relative to
/// it ("$SPEC_DIR/..."), and then paths under the working directory ("$CWD/..."), so
/// that the text does not depend on where the checkout is.
std::string normalize(const std::vector<TestOutcome>& outcomes, const std::string& spec_path);

/// An aligned (longest common subsequence) diff of two texts by line: lines only in
/// `a` start with "- ", only in `b` with "+ ", and runs of common lines are shown as
/// context around the changes. Empty when the texts are the same.
std::string line_diff(const std::string& a, const std::string& b);

}  // namespace fb::cli
