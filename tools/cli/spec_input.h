#pragma once
/// Loading a spec file for a command and printing its diagnostics, the same way in
/// every command that reads a spec.

#include <memory>
#include <optional>
#include <string>

#include "grammar/diagnostic.h"
#include "grammar/source.h"
#include "tools/cli/command.h"

namespace fb::cli {

class SpecInput {
 public:
  /// Reads `path`; on failure prints "faultbox COMMAND: cannot read 'path': reason" and
  /// returns nullopt (the caller exits 1).
  static std::optional<SpecInput> load(const Context& context, std::string_view command,
                                       const std::string& path);

  const grammar::SourceFile& file() const { return sources_->file(id_); }
  const grammar::SourceMap& sources() const { return *sources_; }

  /// Prints diagnostics as text to context.err, sorted by location.
  void print(const Context& context, grammar::DiagnosticList& diagnostics) const;

 private:
  std::unique_ptr<grammar::SourceMap> sources_;
  grammar::FileId id_ = 0;
};

}  // namespace fb::cli
