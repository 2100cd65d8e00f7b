#include "tools/cli/spec_input.h"

#include <ostream>

#include "grammar/render.h"

namespace fb::cli {

std::optional<SpecInput> SpecInput::load(const Context& context, std::string_view command,
                                         const std::string& path) {
  SpecInput input;
  input.sources_ = std::make_unique<grammar::SourceMap>();
  std::string error;
  auto id = input.sources_->load(path, error);
  if (!id) {
    context.err << "faultbox " << command << ": cannot read '" << path << "': " << error << "\n";
    return std::nullopt;
  }
  input.id_ = *id;
  return input;
}

void SpecInput::print(const Context& context, grammar::DiagnosticList& diagnostics) const {
  diagnostics.sort_by_location();
  grammar::RenderOptions options;
  options.color = context.color;
  for (const auto& d : diagnostics.items())
    context.err << grammar::render_text(*sources_, d, options);
}

}  // namespace fb::cli
