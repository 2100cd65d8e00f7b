#include "grammar/render.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace fb::grammar {
namespace {

struct Fixture {
  SourceMap map;
  FileId id;
  explicit Fixture(std::string text) : id(map.add("spec.star", std::move(text))) {}
  Span at(std::string_view needle, std::uint32_t length) const {
    auto offset = map.file(id).text().find(needle);
    EXPECT_NE(offset, std::string_view::npos) << needle;
    return Span{id, static_cast<std::uint32_t>(offset), length};
  }
};

TEST(RenderText, HeadingExcerptAndCaret) {
  Fixture f("x = 1\ny = servce(2)\n");
  auto d =
      Diagnostic::make(Code::SPEC_UNDEFINED_NAME, f.at("servce", 6), "undefined name 'servce'");
  d.suggest("did you mean 'service'?");
  EXPECT_EQ(render_text(f.map, d),
            "spec.star:2:5: error[SPEC_UNDEFINED_NAME]: undefined name 'servce'\n"
            " 2 | y = servce(2)\n"
            "   |     ^^^^^^\n"
            "   = help: did you mean 'service'?\n");
}

TEST(RenderText, TabsExpandToFourColumnStops) {
  Fixture f("def f():\n\tx = bad\n");
  auto d = Diagnostic::make(Code::SPEC_UNDEFINED_NAME, f.at("bad", 3), "undefined name 'bad'");
  // The tab fills columns 0-3, so "bad" starts at cell 8 in "    x = bad".
  EXPECT_EQ(render_text(f.map, d),
            "spec.star:2:6: error[SPEC_UNDEFINED_NAME]: undefined name 'bad'\n"
            " 2 |     x = bad\n"
            "   |         ^^^\n");
}

TEST(RenderText, MultiByteCharactersShiftTheCaretByCodePoints) {
  Fixture f("s = \"héllo 日本\" + oops\n");
  auto d = Diagnostic::make(Code::SPEC_UNDEFINED_NAME, f.at("oops", 4), "undefined name 'oops'");
  // 'é' takes one cell, each CJK character two; the column counts code points.
  EXPECT_EQ(render_text(f.map, d),
            "spec.star:1:18: error[SPEC_UNDEFINED_NAME]: undefined name 'oops'\n"
            " 1 | s = \"héllo 日本\" + oops\n"
            "   |                    ^^^^\n");
}

TEST(RenderText, SpanAtEndOfFilePointsAfterLastCharacter) {
  Fixture f("x = (1,\n");
  Span eof{f.id, static_cast<std::uint32_t>(f.map.file(f.id).text().size()), 0};
  auto d = Diagnostic::make(Code::SPEC_SYNTAX, eof, "unexpected end of file");
  EXPECT_EQ(render_text(f.map, d),
            "spec.star:1:8: error[SPEC_SYNTAX]: unexpected end of file\n"
            " 1 | x = (1,\n"
            "   |        ^\n");
}

TEST(RenderText, EndOfFileWithoutTrailingNewline) {
  Fixture f("x = (1,");
  Span eof{f.id, 7, 0};
  auto d = Diagnostic::make(Code::SPEC_SYNTAX, eof, "unexpected end of file");
  EXPECT_NE(render_text(f.map, d).find("spec.star:1:8:"), std::string::npos);
}

TEST(RenderText, LongLinesAreCutAroundTheSpan) {
  std::string line = "x = [" + std::string(300, '1') + ", nope, " + std::string(300, '2') + "]";
  Fixture f(line + "\n");
  auto d = Diagnostic::make(Code::SPEC_UNDEFINED_NAME, f.at("nope", 4), "undefined name 'nope'");
  RenderOptions options;
  options.max_width = 60;
  std::string text = render_text(f.map, d, options);
  std::string excerpt = text.substr(text.find('\n') + 1);
  std::string shown = excerpt.substr(0, excerpt.find('\n'));
  std::string carets = excerpt.substr(excerpt.find('\n') + 1);
  EXPECT_LT(shown.size(), 80u);  // cut, with "..." at both ends
  EXPECT_NE(shown.find("...1"), std::string::npos);
  EXPECT_NE(shown.find("2..."), std::string::npos);
  // The carets sit exactly under "nope" in the shown window.
  EXPECT_EQ(carets.find('^'), shown.find("nope"));
  EXPECT_EQ(carets.find_last_of('^') - carets.find('^'), 3u);
}

TEST(RenderText, MultiLineSpanIsUnderlinedToEndOfFirstLine) {
  Fixture f("x = f(a,\n      b)\n");
  auto d = Diagnostic::make(Code::SPEC_SYNTAX, f.at("f(a", 13), "bad call");
  EXPECT_EQ(render_text(f.map, d),
            "spec.star:1:5: error[SPEC_SYNTAX]: bad call\n"
            " 1 | x = f(a,\n"
            "   |     ^^^^\n");
}

TEST(RenderText, NotesWithAndWithoutLocation) {
  Fixture f("x = (1,\ny = 2\n");
  auto d = Diagnostic::make(Code::SPEC_SYNTAX, f.at("y", 1), "expected ')' to close '(' at 1:5");
  d.note(f.at("(", 1), "'(' opened here");
  d.note("a bracket stays open until it is closed");
  EXPECT_EQ(render_text(f.map, d),
            "spec.star:2:1: error[SPEC_SYNTAX]: expected ')' to close '(' at 1:5\n"
            " 2 | y = 2\n"
            "   | ^\n"
            "spec.star:1:5: note: '(' opened here\n"
            " 1 | x = (1,\n"
            "   |     ^\n"
            "   = note: a bracket stays open until it is closed\n");
}

TEST(RenderText, ControlCharactersNeverReachTheTerminal) {
  Fixture f("x = \"\x1b[31m\" + q\n");
  auto d = Diagnostic::make(Code::SPEC_UNDEFINED_NAME, f.at("q", 1), "undefined name 'q'");
  std::string text = render_text(f.map, d);
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
}

TEST(RenderText, ColorWrapsHeadingWhenEnabled) {
  Fixture f("x\n");
  auto d = Diagnostic::make(Code::SPEC_UNDEFINED_NAME, f.at("x", 1), "undefined name 'x'");
  RenderOptions options;
  options.color = true;
  EXPECT_NE(render_text(f.map, d, options).find("\033[1;31merror[SPEC_UNDEFINED_NAME]\033[0m"),
            std::string::npos);
}

TEST(RenderJson, CarriesAllFieldsWithExclusiveEnd) {
  Fixture f("a = 1\nb = servce(a)\n");
  auto d =
      Diagnostic::make(Code::SPEC_UNDEFINED_NAME, f.at("servce", 6), "undefined name 'servce'");
  d.suggest("did you mean 'service'?");
  d.note(f.at("a =", 1), "a note");
  nlohmann::json j = render_json(f.map, d);
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["code"], "SPEC_UNDEFINED_NAME");
  EXPECT_EQ(j["message"], "undefined name 'servce'");
  EXPECT_EQ(j["file"], "spec.star");
  EXPECT_EQ(j["line"], 2);
  EXPECT_EQ(j["col"], 5);
  EXPECT_EQ(j["end_line"], 2);
  EXPECT_EQ(j["end_col"], 11);
  EXPECT_EQ(j["suggestion"], "did you mean 'service'?");
  ASSERT_EQ(j["notes"].size(), 1u);
  EXPECT_EQ(j["notes"][0]["line"], 1);
}

TEST(Codes, TableGivesNamesLevelsAndSummaries) {
  EXPECT_EQ(code_name(Code::SPEC_SYNTAX), "SPEC_SYNTAX");
  EXPECT_EQ(code_level(Code::SPEC_UNUSED_BINDING), Level::kWarning);
  EXPECT_FALSE(code_summary(Code::SPEC_UNKNOWN_KEYWORD).empty());
  EXPECT_EQ(all_codes().front(), Code::SPEC_SYNTAX);
}

TEST(DiagnosticList, CountsAndSorts) {
  DiagnosticList list;
  list.report(Diagnostic::make(Code::SPEC_SYNTAX, Span{0, 9, 1}, "b"));
  list.report(Diagnostic::make(Code::SPEC_UNUSED_BINDING, Span{0, 2, 1}, "a"));
  EXPECT_EQ(list.errors(), 1u);
  EXPECT_EQ(list.warnings(), 1u);
  list.sort_by_location();
  EXPECT_EQ(list.items()[0].message, "a");
}

}  // namespace
}  // namespace fb::grammar
