#include "grammar/suggest.h"

#include <gtest/gtest.h>

namespace fb::grammar {
namespace {

TEST(EditDistance, CountsEditsAndTranspositions) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("servce", "service"), 1u);
  EXPECT_EQ(edit_distance("sevrice", "service"), 1u);  // adjacent swap
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(ClosestMatch, FindsPlausibleTyposOnly) {
  std::vector<std::string> names = {"service", "interface", "healthcheck", "depends_on"};
  EXPECT_EQ(closest_match("servce", names), "service");
  EXPECT_EQ(closest_match("Service", names), "service");
  EXPECT_EQ(closest_match("depends", names), std::nullopt);  // 3 edits from 7 letters: too far
  EXPECT_EQ(closest_match("healtcheck", names), "healthcheck");
  EXPECT_EQ(closest_match("zzz", names), std::nullopt);
}

}  // namespace
}  // namespace fb::grammar
