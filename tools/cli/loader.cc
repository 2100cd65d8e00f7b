#include "tools/cli/loader.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "grammar/render.h"
#include "recipes/recipes.h"

namespace fb::cli {

namespace fs = std::filesystem;

ModuleLoader::ModuleLoader(std::string root)
    : embedded(recipes::embedded()), root_(std::move(root)) {}

void ModuleLoader::attach(vm::Thread& thread) {
  thread.load = [this](vm::Thread& t, const vm::Program& from, const ir::LoadSite& site,
                       std::vector<vm::Value>& out) { return load(t, from, site, out); };
}

bool ModuleLoader::run(vm::Thread& thread, const std::string& path,
                       const std::shared_ptr<vm::Program>& program) {
  std::string key = fs::weakly_canonical(path).string();
  modules_[key] = Entry{program, true};
  chain_.push_back(key);
  bool ok = vm::run_program(thread, program);
  chain_.pop_back();
  modules_[key].running = false;
  return ok;
}

std::shared_ptr<vm::Program> ModuleLoader::compile(vm::Thread& thread, const std::string& path,
                                                   std::string text) {
  grammar::SourceMap sources;
  auto id = sources.add(path, std::move(text));
  grammar::DiagnosticList diagnostics;
  auto module = compiler::analyze(sources.file(id), diagnostics);
  if (diagnostics.has_errors()) {
    diagnostics.sort_by_location();
    std::string rendered;
    for (const auto& d : diagnostics.items()) {
      if (d.level == grammar::Level::kError) rendered += grammar::render_text(sources, d);
    }
    if (!rendered.empty() && rendered.back() == '\n') rendered.pop_back();
    thread.fail(path + " has errors:\n" + rendered);
    return nullptr;
  }
  ir::Module code = compiler::lower(*module, sources.file(id));
  if (auto problems = ir::verify(code); !problems.empty()) {
    thread.fail("internal error: invalid bytecode for " + path + ": " + problems.front());
    return nullptr;
  }
  return vm::load_program(std::move(code));
}

bool ModuleLoader::resolve(vm::Thread& thread, const std::string& module,
                           const std::string& from_path, std::string& path, std::string& text) {
  if (module.starts_with("@faultbox/")) {
    std::string name = module.substr(10);
    auto it = embedded.find(name);
    if (it == embedded.end()) {
      std::string known;
      for (const auto& [n, _] : embedded) known += (known.empty() ? "" : ", ") + ("@faultbox/" + n);
      return thread.fail("[SPEC_RECIPE_NOT_FOUND] no embedded module " + module +
                         (known.empty() ? " (no @faultbox modules are embedded in this build yet)"
                                        : "; embedded: " + known));
    }
    path = module;
    text = it->second;
    return true;
  }
  // Relative paths are resolved against the loading file's directory; the reference
  // resolves them against the root spec's directory, which is tried second so its
  // specs keep working (docs/compatibility.md).
  std::vector<fs::path> candidates;
  fs::path wanted(module);
  if (wanted.is_absolute()) {
    candidates.push_back(wanted);
  } else {
    candidates.push_back(fs::path(from_path).parent_path() / wanted);
    candidates.push_back(fs::path(root_).parent_path() / wanted);
  }
  for (const fs::path& candidate : candidates) {
    std::error_code ec;
    if (!fs::is_regular_file(candidate, ec)) continue;
    std::ifstream in(candidate, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    path = fs::weakly_canonical(candidate).string();
    text = s.str();
    return true;
  }
  return thread.fail("cannot load " + module + ": no such file " +
                     candidates.front().lexically_normal().string());
}

bool ModuleLoader::load(vm::Thread& thread, const vm::Program& from, const ir::LoadSite& site,
                        std::vector<vm::Value>& symbols) {
  std::string path, text;
  if (!resolve(thread, site.module, from.module.files.front().path, path, text)) return false;
  auto it = modules_.find(path);
  if (it != modules_.end() && it->second.running) {
    std::string cycle;
    for (const auto& m : chain_) cycle += m + " -> ";
    return thread.fail("load cycle: " + cycle + path);
  }
  if (it == modules_.end()) {
    auto program = compile(thread, path, std::move(text));
    if (!program) return false;
    it = modules_.emplace(path, Entry{program, true}).first;
    chain_.push_back(path);
    bool ok = vm::run_program(thread, program);
    chain_.pop_back();
    it->second.running = false;
    if (!ok) return false;
  }
  const vm::Program& loaded = *it->second.program;
  for (const std::string& symbol : site.symbols) {
    const auto& names = loaded.module.globals;
    auto at = std::find(names.begin(), names.end(), symbol);
    if (at == names.end() || !loaded.assigned[static_cast<std::size_t>(at - names.begin())]) {
      return thread.fail("load: " + site.module + " does not define " + symbol);
    }
    symbols.push_back(loaded.globals[static_cast<std::size_t>(at - names.begin())]);
  }
  return true;
}

}  // namespace fb::cli
