#pragma once
/// Runs a snippet of spec text through the real frontend and VM, for tests of builtins:
/// the globals it leaves behind can be read back by name.

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "vm/thread.h"

namespace fb::testing {

struct SpecRun {
  std::shared_ptr<vm::Program> program;
  vm::Thread thread;
  bool ok = false;
  /// The value of a global, or None.
  vm::Value global(std::string_view name) const {
    const auto& names = program->module.globals;
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) return program->globals[i];
    return vm::Value();
  }
};

/// Compiles `text` (which must have no compile errors), sets the thread up with
/// `predeclared` and `prepare`, and runs the top level.
inline std::unique_ptr<SpecRun> run_spec(const std::string& text,
                                         std::function<vm::Value(std::string_view)> predeclared,
                                         const std::function<void(vm::Thread&)>& prepare = {}) {
  grammar::SourceMap map;
  auto id = map.add("spec.star", text);
  grammar::DiagnosticList diagnostics;
  auto module = compiler::analyze(map.file(id), diagnostics);
  EXPECT_FALSE(diagnostics.has_errors()) << text;
  auto r = std::make_unique<SpecRun>();
  r->program = vm::load_program(compiler::lower(*module, map.file(id)));
  r->thread.predeclared = std::move(predeclared);
  if (prepare) prepare(r->thread);
  r->ok = vm::run_program(r->thread, r->program);
  return r;
}

}  // namespace fb::testing
