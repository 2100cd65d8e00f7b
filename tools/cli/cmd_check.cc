#include <nlohmann/json.hpp>
#include <ostream>

#include <algorithm>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "compiler/plan.h"
#include "grammar/render.h"
#include "tools/cli/command.h"
#include "tools/cli/spec_input.h"
#include "tools/cli/test_runner.h"

namespace fb::cli {
namespace {

std::string plural(std::size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

nlohmann::json json_report(const SpecInput& input, const grammar::DiagnosticList& diagnostics) {
  nlohmann::json findings = nlohmann::json::array();
  for (const auto& d : diagnostics.items())
    findings.push_back(grammar::render_json(input.sources(), d));
  return {{"schema_version", 1},
          {"spec", input.file().path()},
          {"ok", !diagnostics.has_errors()},
          {"errors", diagnostics.errors()},
          {"warnings", diagnostics.warnings()},
          {"findings", std::move(findings)}};
}

/// The plan's size, when a budget had it counted.
struct PlanCount {
  std::size_t tests = 0;
  std::uint64_t instances = 0;
  bool at_least = false;
  std::uint64_t budget = 0;
};

/// Where a failed top level stopped in the spec file itself: the innermost frame there
/// (an error inside a loaded module is reported at the spec's call into it).
grammar::Span failure_site(const vm::Thread& thread, const SpecInput& input) {
  for (const auto& frame : thread.backtrace()) {
    const auto& files = frame.program->module.files;
    if (frame.span.file < files.size() && files[frame.span.file].path == input.file().path())
      return {input.file().id(), frame.span.offset, std::max<std::uint32_t>(frame.span.length, 1)};
  }
  return {input.file().id(), 0, 0};
}

/// Runs the spec's top level as `plan` does, declaring services but starting nothing, so
/// that what a run would reject before its first service starts (a name computed into
/// one faultbox does not allow, a bad argument to a builtin) is an error here too, at
/// its line. nullptr when it failed.
std::unique_ptr<TestRunner> load_top_level(const SpecInput& input, std::int64_t memory,
                                           grammar::DiagnosticList& diagnostics) {
  auto runner = std::make_unique<TestRunner>(input.file().path(), "", [](std::string_view) {});
  runner->limit_steps(100'000'000);
  runner->limit_memory(memory);
  std::string error;
  if (runner->load(error)) return runner;
  if (!runner->load_diagnostics().empty()) {
    for (grammar::Diagnostic d : runner->load_diagnostics()) {
      d.span.file = input.file().id();  // the runner read the same file
      diagnostics.report(std::move(d));
    }
    return nullptr;
  }
  const vm::Thread& thread = runner->vm_thread();
  std::string message = thread.failed() ? thread.error() : error;
  auto d = grammar::Diagnostic::make(
      grammar::Code::SPEC_LOAD_FAILED,
      thread.failed() ? failure_site(thread, input) : grammar::Span{input.file().id(), 0, 0},
      "the spec's top level fails when it runs: " + message);
  if (thread.backtrace().size() > 1) d.note(error);  // the calls that led there
  diagnostics.report(std::move(d));
  return nullptr;
}

/// What the plan says about the spec: no tests at all (a warning), and with a budget,
/// more leaves than it allows.
std::optional<PlanCount> check_plan(const ast::Module& module, const SpecInput& input,
                                    TestRunner* runner, std::optional<std::uint64_t> budget,
                                    grammar::DiagnosticList& diagnostics) {
  grammar::Span start{input.file().id(), 0, 0};
  ir::Module code = compiler::lower(module, input.file());
  bool defines_tests = std::any_of(module.body.begin(), module.body.end(), [](const auto& s) {
    return s->kind == ast::StmtKind::kDef &&
           static_cast<const ast::Def&>(*s).name->id.starts_with("test_");
  });
  defines_tests |= std::any_of(code.facts.begin(), code.facts.end(), [](const ir::StaticFact& f) {
    return f.builtin == "test" || f.builtin == "scenario" || f.builtin == "fault_scenario" ||
           f.builtin == "fault_matrix";
  });
  if (!defines_tests)
    diagnostics.report(grammar::Diagnostic::make(
                           grammar::Code::NO_TESTS_DISCOVERED, start,
                           "the spec defines no test: no `def test_*` at the top level and no "
                           "test(), scenario(), fault_scenario() or fault_matrix() call")
                           .suggest("a module meant for load() has no tests of its own; check "
                                    "the spec that loads it"));
  if (!budget || !runner) return std::nullopt;
  plan::Plan p = runner->plan();
  PlanCount count{p.tests.size(), p.instances, p.at_least, *budget};
  if (p.instances <= *budget) return count;
  auto d = grammar::Diagnostic::make(
      grammar::Code::PLAN_COST_EXCEEDED, start,
      "the plan has " + std::string(p.at_least ? "at least " : "") + std::to_string(p.instances) +
          " leaves; --max-instances allows " + std::to_string(*budget));
  std::vector<const plan::TestPlan*> largest;
  for (const auto& t : p.tests) largest.push_back(&t);
  std::sort(largest.begin(), largest.end(),
            [](const auto* a, const auto* b) { return a->instances > b->instances; });
  for (std::size_t i = 0; i < largest.size() && i < 3; ++i)
    d.note(largest[i]->name + ": " + std::to_string(largest[i]->instances) + " leaves");
  d.suggest("`faultbox plan` shows where the leaves come from");
  diagnostics.report(std::move(d));
  return count;
}

int run_check(const Context& context, const ParsedArgs& args) {
  if (args.positionals.size() != 1)
    return usage_error(context, "check", "expects exactly one SPEC file");
  std::string format = args.value("format").value_or("text");
  if (format != "text" && format != "json") {
    return usage_error(context, "check", "unknown --format '" + format + "' (use text or json)");
  }
  auto input = SpecInput::load(context, "check", args.positionals[0]);
  if (!input) return kExitUsage;
  std::optional<std::uint64_t> budget;
  if (auto text = args.value("max-instances")) {
    budget = parse_unsigned(*text);
    if (!budget)
      return usage_error(context, "check",
                         "--max-instances wants a non-negative integer, got '" + *text + "'");
  }
  std::string why;
  auto memory = max_memory(args, why);
  if (!memory) return usage_error(context, "check", why);
  grammar::DiagnosticList diagnostics;
  auto module = compiler::analyze(input->file(), diagnostics);
  std::optional<PlanCount> count;
  if (!diagnostics.has_errors()) {
    auto runner = load_top_level(*input, *memory, diagnostics);
    count = check_plan(*module, *input, runner.get(), budget, diagnostics);
  }
  diagnostics.sort_by_location();
  if (format == "json") {
    auto report = json_report(*input, diagnostics);
    if (count)
      report["plan"] = {{"tests", count->tests},
                        {"instances", count->instances},
                        {"at_least", count->at_least},
                        {"max_instances", count->budget}};
    context.out << report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  } else {
    input->print(context, diagnostics);
    if (count && !diagnostics.has_errors())
      context.out << "ok  " << input->file().path() << " - " << plural(count->tests, "test") << ", "
                  << (count->at_least ? "at least " : "")
                  << plural(count->instances, "plan instance") << " (--max-instances "
                  << count->budget << ")\n";
    context.err << plural(diagnostics.errors(), "error") << ", "
                << plural(diagnostics.warnings(), "warning") << '\n';
  }
  return diagnostics.has_errors() ? kExitFindings : kExitOk;
}

}  // namespace

const Command& command_check() {
  static const Command command{
      .name = "check",
      .summary = "Check a spec for errors without starting anything",
      .usage = "faultbox check SPEC [--format text|json] [--max-instances N] [--max-memory SIZE]",
      .details =
          "Parses the spec, resolves every name and checks each call to a faultbox builtin\n"
          "against its signature (unknown keywords, missing or extra arguments) and the names\n"
          "it gives things (SPEC_BAD_NAME). Then it runs the spec's top level, which declares\n"
          "services and starts none, so that what a run would reject before its first\n"
          "service starts is reported here too, at its line (SPEC_LOAD_FAILED). No process is\n"
          "started, so it is safe in editors and pre-commit hooks. A spec without tests gets\n"
          "NO_TESTS_DISCOVERED (a warning). With --max-instances N, a plan of more than N\n"
          "leaves is PLAN_COST_EXCEEDED.\n\n"
          "Exit status: 0 when there is no error (warnings allowed), 2 when there is one,\n"
          "1 for usage errors such as a missing file.",
      .flags = {{"format", FlagKind::kValue, "text|json",
                 "output format (default text; json goes to stdout)"},
                {"max-instances", FlagKind::kValue, "N",
                 "PLAN_COST_EXCEEDED when the plan has more leaves"},
                kMaxMemoryFlag},
      .run = run_check,
  };
  return command;
}

}  // namespace fb::cli
