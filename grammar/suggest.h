#pragma once
/// "Did you mean" support shared by the resolver, the builtin checker and the CLI.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fb::grammar {

/// Optimal-string-alignment edit distance (insertions, deletions, substitutions and
/// adjacent transpositions each cost 1).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `name`, if it is close enough to be a plausible typo:
/// distance at most max(1, len/3), or a case-insensitive match.
std::optional<std::string> closest_match(std::string_view name,
                                         const std::vector<std::string>& candidates);

}  // namespace fb::grammar
