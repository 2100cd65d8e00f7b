#include <nlohmann/json.hpp>
#include <ostream>

#include "compiler/frontend.h"
#include "grammar/render.h"
#include "tools/cli/command.h"
#include "tools/cli/spec_input.h"

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

int run_check(const Context& context, const ParsedArgs& args) {
  if (args.positionals.size() != 1)
    return usage_error(context, "check", "expects exactly one SPEC file");
  std::string format = args.value("format").value_or("text");
  if (format != "text" && format != "json") {
    return usage_error(context, "check", "unknown --format '" + format + "' (use text or json)");
  }
  auto input = SpecInput::load(context, "check", args.positionals[0]);
  if (!input) return kExitUsage;
  grammar::DiagnosticList diagnostics;
  compiler::analyze(input->file(), diagnostics);
  diagnostics.sort_by_location();
  if (format == "json") {
    context.out << json_report(*input, diagnostics)
                       .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                << '\n';
  } else {
    input->print(context, diagnostics);
    context.err << plural(diagnostics.errors(), "error") << ", "
                << plural(diagnostics.warnings(), "warning") << '\n';
  }
  return diagnostics.has_errors() ? kExitFindings : kExitOk;
}

}  // namespace

const Command& command_check() {
  static const Command command{
      .name = "check",
      .summary = "Check a spec for errors without running anything",
      .usage = "faultbox check SPEC [--format text|json]",
      .details =
          "Parses the spec, resolves every name and checks each call to a faultbox builtin\n"
          "against its signature (unknown keywords, missing or extra arguments). Nothing is\n"
          "executed and no service is started, so it is safe in editors and pre-commit hooks.\n\n"
          "Exit status: 0 when there is no error (warnings allowed), 2 when there is one,\n"
          "1 for usage errors such as a missing file.",
      .flags = {{"format", FlagKind::kValue, "text|json",
                 "output format (default text; json goes to stdout)"}},
      .run = run_check,
  };
  return command;
}

}  // namespace fb::cli
