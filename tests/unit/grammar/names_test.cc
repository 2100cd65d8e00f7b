// The rules for names a spec gives things: what passes, and what each refusal says.
#include "grammar/names.h"

#include <gtest/gtest.h>

namespace fb::grammar {
namespace {

TEST(Names, ServicesAndTestsUseAPortableAlphabet) {
  for (const char* ok : {"api", "order-service", "db_1", "v1.2", "_private", "9lives"})
    EXPECT_EQ(check_name(NameKind::kService, ok), "") << ok;
  EXPECT_EQ(check_name(NameKind::kService, "../../victim/evil"),
            "a service name may not contain '/' (at position 3): names may use letters, "
            "digits, '_', '-' and '.', and do not start with '.' or '-'");
  EXPECT_EQ(check_name(NameKind::kInterface, ".hidden"),
            "an interface name may not start with '.': names may use letters, digits, '_', "
            "'-' and '.', and do not start with '.' or '-'");
  EXPECT_NE(check_name(NameKind::kOp, "-rf").find("may not start with '-'"), std::string::npos);
  EXPECT_NE(check_name(NameKind::kTest, "a b").find("may not contain a space"), std::string::npos);
  EXPECT_NE(check_name(NameKind::kTest, "tab\there").find("\\x09"), std::string::npos);
  EXPECT_EQ(check_name(NameKind::kAssumption, ""), "a fault_assumption name must not be empty");
  EXPECT_NE(check_name(NameKind::kScenario, "caf\xc3\xa9").find("\\xc3"), std::string::npos);
}

TEST(Names, LengthsLeaveRoomForAPathComponent) {
  EXPECT_EQ(check_name(NameKind::kService, std::string(kMaxNameLength, 's')), "");
  EXPECT_NE(check_name(NameKind::kService, std::string(kMaxNameLength + 1, 's'))
                .find("has at most 128 characters"),
            std::string::npos);
  // A matrix cell's test name joins a scenario's and an assumption's.
  EXPECT_EQ(check_name(NameKind::kTest, std::string(kMaxTestNameLength, 't')), "");
  EXPECT_NE(check_name(NameKind::kTest, std::string(kMaxTestNameLength + 1, 't')), "");
}

TEST(Names, LabelsAreFreeTextOnOneLine) {
  for (const char* ok : {"seed (as reset)", "WAL broken", "db: slow/flaky", "caf\xc3\xa9"})
    EXPECT_EQ(check_name(NameKind::kLabel, ok), "") << ok;
  EXPECT_EQ(check_name(NameKind::kLabel, "two\nlines"),
            "a label is printable text on one line; it has \\x0a at position 4");
  EXPECT_NE(check_name(NameKind::kLabel, std::string(kMaxLabelLength + 1, 'x')), "");
}

}  // namespace
}  // namespace fb::grammar
