#include "grammar/source.h"

#include <gtest/gtest.h>

namespace fb::grammar {
namespace {

TEST(SourceFile, LineAndColumnOfOffsets) {
  SourceFile f(0, "a.star", "ab\ncd\n\nef");
  EXPECT_EQ(f.line_col(0), (LineCol{1, 1}));
  EXPECT_EQ(f.line_col(1), (LineCol{1, 2}));
  EXPECT_EQ(f.line_col(2), (LineCol{1, 3}));  // the newline itself ends line 1
  EXPECT_EQ(f.line_col(3), (LineCol{2, 1}));
  EXPECT_EQ(f.line_col(6), (LineCol{3, 1}));
  EXPECT_EQ(f.line_col(8), (LineCol{4, 2}));
  EXPECT_EQ(f.line_count(), 4u);
}

TEST(SourceFile, ColumnsCountCodePointsNotBytes) {
  SourceFile f(0, "u.star", "x = \"é日本\" + y");
  // 'é' is 2 bytes, each CJK character 3 bytes; '+' follows the closing quote.
  std::uint32_t plus = static_cast<std::uint32_t>(f.text().find('+'));
  EXPECT_EQ(f.line_col(plus), (LineCol{1, 11}));
}

TEST(SourceFile, EndOfFileMapsToEndOfLastVisibleLine) {
  SourceFile f(0, "e.star", "x = 1\ny = (\n");
  auto size = static_cast<std::uint32_t>(f.text().size());
  EXPECT_EQ(f.line_col(size), (LineCol{2, 6}));
  EXPECT_EQ(f.line_col(size + 100), (LineCol{2, 6}));
  EXPECT_EQ(f.line_count(), 2u);
}

TEST(SourceFile, CrLfAndLoneCrEndLines) {
  SourceFile f(0, "w.star", "a\r\nb\rc");
  EXPECT_EQ(f.line_col(3), (LineCol{2, 1}));
  EXPECT_EQ(f.line_col(5), (LineCol{3, 1}));
  EXPECT_EQ(f.line_text(1), "a");
  EXPECT_EQ(f.line_text(2), "b");
  EXPECT_EQ(f.line_text(3), "c");
}

TEST(SourceFile, EmptyFile) {
  SourceFile f(0, "empty.star", "");
  EXPECT_EQ(f.line_col(0), (LineCol{1, 1}));
  EXPECT_EQ(f.line_text(1), "");
  EXPECT_EQ(f.line_count(), 1u);
}

TEST(SourceMap, LoadReportsMissingFilesAndDirectories) {
  SourceMap map;
  std::string error;
  EXPECT_FALSE(map.load("/nonexistent/spec.star", error));
  EXPECT_EQ(error, "No such file or directory");
  EXPECT_FALSE(map.load("/tmp", error));
  EXPECT_EQ(error, "is a directory");
  EXPECT_EQ(map.size(), 0u);
}

TEST(Span, ToCoversBoth) {
  Span a{0, 10, 2}, b{0, 4, 3};
  EXPECT_EQ(a.to(b), (Span{0, 4, 8}));
}

}  // namespace
}  // namespace fb::grammar
