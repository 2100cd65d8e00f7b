#include "tests/fuzz/frontend_fuzz_body.h"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "grammar/ast_dump.h"
#include "grammar/parser.h"
#include "grammar/render.h"
#include "ir/serialize.h"
#include "vm/ops.h"
#include "vm/thread.h"

namespace fb::fuzz {

namespace {
[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "frontend fuzz invariant broken: %s\n", what);
  std::abort();
}
}  // namespace

void run_frontend(const std::uint8_t* data, std::size_t size) {
  grammar::SourceMap map;
  auto id = map.add("fuzz.star", std::string(reinterpret_cast<const char*>(data), size));
  const grammar::SourceFile& file = map.file(id);

  grammar::DiagnosticList lex_only;
  grammar::LexResult lexed = grammar::lex(file, lex_only);
  if (lexed.tokens.empty() || lexed.tokens.back().type != grammar::Tok::kEof)
    fail("token stream without EOF");
  (void)grammar::dump_tokens(file, lexed);

  grammar::DiagnosticList diagnostics;
  auto module = compiler::analyze(file, diagnostics);
  if (module->syntax_ok) (void)ast::dump(*module, file);
  if (!module->syntax_ok && !diagnostics.has_errors())
    fail("syntax_ok is false but no error was reported");

  nlohmann::json report = nlohmann::json::array();
  for (const auto& d : diagnostics.items()) {
    if (d.span.end() > size) fail("diagnostic span past the end of the file");
    if (d.message.empty()) fail("diagnostic without a message");
    (void)grammar::render_text(map, d);
    report.push_back(grammar::render_json(map, d));
  }
  std::string text = report.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (!nlohmann::json::accept(text)) fail("JSON report does not parse");

  // A clean program also compiles to verified bytecode, survives a serialization round
  // trip, and runs under a step budget to a result or a clean error.
  if (diagnostics.has_errors()) return;
  ir::Module code = compiler::lower(*module, file);
  if (!ir::verify(code).empty()) fail("the compiler produced bytecode the verifier rejects");
  std::string error;
  auto back = ir::deserialize(ir::serialize(code), error);
  if (!back || !(*back == code)) fail("bytecode does not survive a round trip");
  // The budgets let loops build deep and large values (a list nested 300,000 deep, a
  // list doubled until it is too big) but keep every input to a fraction of a second.
  vm::Thread thread;
  thread.max_steps = 1'000'000;
  thread.memory->limit = 32 << 20;
  auto program = vm::load_program(std::move(code));
  bool ok = vm::run_program(thread, program);
  if (!ok && thread.error().empty()) fail("a failed run without an error message");
  (void)vm::format_error(thread);
  // Whatever the program built, the operations that walk values inside values must end
  // in a result or an error: printing, equality, ordering and hashing of every global.
  vm::MemoryScope scope(thread.memory.get());
  for (std::size_t i = 0; i < program->globals.size(); ++i) {
    if (!program->assigned[i]) continue;
    const vm::Value& g = program->globals[i];
    (void)vm::repr(g);
    bool result = false;
    std::uint64_t h = 0;
    thread.clear_error();
    if (!vm::equals(thread, g, g, result) && thread.error().empty())
      fail("equality failed without an error");
    thread.clear_error();
    if (!vm::less(thread, g, g, result) && thread.error().empty())
      fail("ordering failed without an error");
    thread.clear_error();
    if (!vm::hash(thread, g, h) && thread.error().empty()) fail("hash failed without an error");
  }
}

}  // namespace fb::fuzz
