#pragma once
/// The recipe modules compiled into the binary, loaded as "@faultbox/recipes/NAME.star".

#include <map>
#include <string>

namespace fb::recipes {

/// "recipes/http.star" -> its source text.
const std::map<std::string, std::string>& embedded();

}  // namespace fb::recipes
