#include "compiler/frontend.h"

#include "compiler/resolver.h"
#include "grammar/parser.h"

namespace fb::compiler {

std::unique_ptr<ast::Module> analyze(const grammar::SourceFile& file,
                                     grammar::DiagnosticSink& sink) {
  auto module = grammar::parse(file, sink);
  if (module->syntax_ok) resolve(*module, sink);
  return module;
}

}  // namespace fb::compiler
