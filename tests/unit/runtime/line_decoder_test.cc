// Output-line decoders: what each makes of good lines, and that a bad line keeps its
// text with the reason instead of being dropped.
#include "runtime/line_decoder.h"

#include <gtest/gtest.h>

namespace fb::runtime {
namespace {

LineDecoder make(LineDecoder::Kind kind, std::string_view pattern = "") {
  std::string error;
  auto d = LineDecoder::make(kind, pattern, error);
  EXPECT_TRUE(d) << error;
  return *d;
}

std::string text(const EventLog::Fields& fields, std::string_view name) {
  for (const auto& [k, v] : fields)
    if (k == name)
      return std::holds_alternative<std::string>(v) ? std::get<std::string>(v)
                                                    : std::to_string(std::get<std::int64_t>(v));
  return "<absent>";
}

TEST(LineDecoder, JsonMembersBecomeFields) {
  auto d = make(LineDecoder::Kind::kJson);
  auto f = d.decode(R"({"level":"warn","stock":-2,"price":1.5,"ok":true,"tags":["a"]})");
  EXPECT_EQ(text(f, "level"), "warn");
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(std::get<std::string>(f[1].second), "-2") << "every field is text, in line order";
  EXPECT_EQ(f[1].first, "stock");
  EXPECT_EQ(text(f, "price"), "1.5");
  EXPECT_EQ(text(f, "ok"), "true");
  EXPECT_EQ(text(f, "tags"), R"(["a"])");
  auto bad = d.decode("starting up {");
  EXPECT_EQ(text(bad, "raw"), "starting up {");
  EXPECT_EQ(text(bad, "decode_error"), "not JSON");
  EXPECT_EQ(text(d.decode("[1,2]"), "decode_error"), "JSON, but not an object");
}

TEST(LineDecoder, JsonNestedBeyondTheLimitKeepsItsText) {
  // A service's line nested 200,000 deep would overflow the stack of a recursive
  // decoder (or of printing the member back as text); it is refused up front.
  auto d = make(LineDecoder::Kind::kJson);
  std::string deep = "{\"a\":" + std::string(200000, '[') + std::string(200000, ']') + "}";
  auto f = d.decode(deep);
  EXPECT_EQ(text(f, "decode_error"), "JSON nested more than 1000 levels deep");
  EXPECT_EQ(json_nesting(deep), 200001u);
  EXPECT_EQ(json_nesting(R"({"s":"[[[{{{","t":"\"[","u":[1,[2]]})"), 3u)
      << "brackets in strings do not count";
  std::string ok = "{\"a\":" + std::string(999, '[') + std::string(999, ']') + "}";
  EXPECT_EQ(text(d.decode(ok), "decode_error"), "<absent>");
}

TEST(LineDecoder, LogfmtPairsQuotesAndBareKeys) {
  auto d = make(LineDecoder::Kind::kLogfmt);
  auto f = d.decode(R"(level=info msg="order \"7\" placed" stock=3 retry)");
  EXPECT_EQ(text(f, "level"), "info");
  EXPECT_EQ(text(f, "msg"), R"(order "7" placed)");
  EXPECT_EQ(text(f, "stock"), "3");
  EXPECT_EQ(text(f, "retry"), "true");
  EXPECT_EQ(text(d.decode(R"(msg="open)"), "decode_error"), "logfmt: unterminated quote in 'msg'");
  EXPECT_EQ(text(d.decode("=x"), "decode_error"), "logfmt: expected a key at column 1");
  EXPECT_EQ(text(d.decode("   "), "decode_error"), "logfmt: no key=value pairs");
  EXPECT_EQ(text(d.decode(R"(a="b"c)"), "raw"), R"(a="b"c)");
}

TEST(LineDecoder, RegexNamedGroupsInReferenceSyntax) {
  auto d =
      make(LineDecoder::Kind::kRegex, R"((?i)^(\d+) (?P<level>[a-z]+): stock=(?<stock>-?\d+))");
  auto f = d.decode("17 WARN: stock=-4 left");
  ASSERT_EQ(f.size(), 2u) << "only named groups become fields";
  EXPECT_EQ(text(f, "level"), "WARN");
  EXPECT_EQ(text(f, "stock"), "-4");
  EXPECT_EQ(text(d.decode("no match here"), "decode_error"), "the pattern does not match");
  std::string long_line(LineDecoder::kMaxRegexLine + 1, 'a');
  EXPECT_NE(text(d.decode(long_line), "decode_error").find("longer than"), std::string::npos);
}

TEST(LineDecoder, RefusesPatternsItCannotUse) {
  std::string error;
  EXPECT_FALSE(LineDecoder::make(LineDecoder::Kind::kRegex, "(\\d+)", error));
  EXPECT_NE(error.find("no named group"), std::string::npos) << error;
  EXPECT_FALSE(LineDecoder::make(LineDecoder::Kind::kRegex, "(?P<x>[a-", error));
  EXPECT_NE(error.find("not a valid regular expression"), std::string::npos) << error;
  EXPECT_FALSE(LineDecoder::make(LineDecoder::Kind::kRegex, "(?s)(?P<x>.)", error));
  EXPECT_NE(error.find("not supported"), std::string::npos) << error;
  EXPECT_FALSE(LineDecoder::make(LineDecoder::Kind::kRegex, "(?P<x", error));
}

TEST(LineDecoder, RawKeepsLongLinesCut) {
  auto d = make(LineDecoder::Kind::kRaw);
  auto f = d.decode(std::string(LineDecoder::kMaxRaw + 10, 'x'));
  EXPECT_EQ(text(f, "raw").size(), LineDecoder::kMaxRaw);
  EXPECT_EQ(text(f, "truncated"), "1");
  EXPECT_EQ(text(d.decode("plain"), "decode_error"), "<absent>");
}

}  // namespace
}  // namespace fb::runtime
