#pragma once
/// Loading spec modules: compiles a file, runs its top level once per run, and serves
/// load() statements. It lives with the driver because it ties the compiler to the VM.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "grammar/source.h"
#include "vm/thread.h"

namespace fb::cli {

class ModuleLoader {
 public:
  /// `root` is the spec file a run starts from.
  explicit ModuleLoader(std::string root);

  /// Runs the root module, already compiled from `path`, on `thread`; its load()
  /// statements come back to this loader. False on error (the thread holds it).
  bool run(vm::Thread& thread, const std::string& path,
           const std::shared_ptr<vm::Program>& program);

  /// Installs this loader as the thread's load() hook.
  void attach(vm::Thread& thread);

  /// Embedded @faultbox/ modules by name ("recipes/redis.star") -> source text.
  std::map<std::string, std::string> embedded;

 private:
  struct Entry {
    std::shared_ptr<vm::Program> program;
    bool running = false;
  };

  bool load(vm::Thread& thread, const vm::Program& from, const ir::LoadSite& site,
            std::vector<vm::Value>& symbols);
  bool resolve(vm::Thread& thread, const std::string& module, const std::string& from_path,
               std::string& path, std::string& text);
  std::shared_ptr<vm::Program> compile(vm::Thread& thread, const std::string& path,
                                       std::string text);

  std::string root_;
  std::map<std::string, Entry> modules_;  // by resolved path
  std::vector<std::string> chain_;        // modules being loaded, outermost first
};

}  // namespace fb::cli
