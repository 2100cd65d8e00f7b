#pragma once
/// The on-disk form of a compiled module (`faultbox compile SPEC -o spec.fbc`).
///
/// Layout: the magic bytes "FBC\n", the format version (ir::kFormatVersion) as a
/// varint, then every field of ir::Module in declaration order: unsigned varints for
/// counts and numbers, zigzag varints for signed ones, 8 raw bytes for doubles, and
/// length-prefixed bytes for strings. Reading checks every length against the bytes
/// left, so a truncated or corrupted file is an error, never a crash.

#include <optional>
#include <string>
#include <string_view>

#include "ir/module.h"

namespace fb::ir {

std::string serialize(const Module& module);

/// Parses bytes written by serialize(). On failure returns nullopt and sets `error`:
/// "not a faultbox bytecode file", "written by format version 7; this faultbox reads
/// version 1", or where the data went wrong.
std::optional<Module> deserialize(std::string_view bytes, std::string& error);

}  // namespace fb::ir
