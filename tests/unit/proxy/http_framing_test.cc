// HTTP/1.1 framing as the proxy sees it: heads, bodies by length and by chunks, the
// messages without a body, and what is refused as malformed.
#include <gtest/gtest.h>

#include <string>

#include "proxy/http_framing.h"

namespace fb::proxy::http {
namespace {

Head head_of(const std::string& text, bool request) {
  Head h;
  std::string error;
  EXPECT_EQ(parse_head(text, request, h, error), Parse::kComplete) << error;
  return h;
}

/// Feeds `data` to a body one byte at a time: how many bytes it took before it ended.
std::size_t bytes_taken(Body& body, const std::string& data, bool& done) {
  std::size_t total = 0;
  done = body.empty();
  std::string error;
  for (std::size_t i = 0; i < data.size() && !done; ++i) {
    std::size_t used = 0;
    EXPECT_TRUE(body.consume(std::string_view(data).substr(i, 1), used, done, error)) << error;
    total += used;
  }
  return total;
}

TEST(HttpFraming, ParsesRequestAndResponseHeads) {
  std::string text =
      "\r\nPOST /orders/7?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length:  5 \r\n\r\nhello";
  Head h = head_of(text, true);
  EXPECT_EQ(h.method, "POST");
  EXPECT_EQ(h.path(), "/orders/7");
  EXPECT_EQ(h.query(), "x=1");
  EXPECT_EQ(h.header("content-length"), "5");
  EXPECT_EQ(h.size, text.size() - 5) << "up to the blank line, leading CRLF included";
  EXPECT_FALSE(h.closes());
  Head r = head_of("HTTP/1.0 204 No Content\r\n\r\n", false);
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.closes()) << "HTTP/1.0 without keep-alive";

  Head out;
  std::string error;
  EXPECT_EQ(parse_head("GET / HTTP/1.1\r\nHost: a\r\n", true, out, error), Parse::kIncomplete);
  EXPECT_EQ(parse_head("GET / HTTP/9\r\n\r\n", true, out, error), Parse::kMalformed);
  EXPECT_EQ(parse_head("GET / HTTP/1.1\r\nbad header\r\n\r\n", true, out, error),
            Parse::kMalformed);
  EXPECT_EQ(error, "malformed header line");
  EXPECT_EQ(parse_head("HTTP/1.1 2x0 OK\r\n\r\n", false, out, error), Parse::kMalformed);
  EXPECT_EQ(parse_head(std::string("\x16\x03\x01\x02", 4), true, out, error), Parse::kMalformed)
      << "a TLS hello is refused at once, not after 64 KiB";
  EXPECT_EQ(parse_head(std::string(kMaxHead, 'a'), true, out, error), Parse::kMalformed);
}

TEST(HttpFraming, BodiesEndWhereTheirFramingSays) {
  std::string error;
  Body body;
  ASSERT_TRUE(body.start(head_of("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", true), "", error));
  bool done = false;
  EXPECT_EQ(bytes_taken(body, "helloGET / HTTP/1.1", done), 5u);
  EXPECT_TRUE(done);

  std::string chunked = "4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n";
  ASSERT_TRUE(body.start(
      head_of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", true), "", error));
  EXPECT_EQ(bytes_taken(body, chunked + "NEXT", done), chunked.size());
  EXPECT_TRUE(done);

  ASSERT_TRUE(body.start(head_of("GET / HTTP/1.1\r\n\r\n", true), "", error));
  EXPECT_TRUE(body.empty()) << "a request without framing headers has no body";
  ASSERT_TRUE(
      body.start(head_of("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", false), "HEAD", error));
  EXPECT_TRUE(body.empty()) << "the answer to HEAD has none";
  ASSERT_TRUE(body.start(head_of("HTTP/1.1 100 Continue\r\n\r\n", false), "POST", error));
  EXPECT_TRUE(body.empty());
  ASSERT_TRUE(body.start(head_of("HTTP/1.1 200 OK\r\n\r\n", false), "GET", error));
  EXPECT_TRUE(body.until_close()) << "a response without a length lasts until close";
}

TEST(HttpFraming, ContradictoryOrBrokenFramingIsRefused) {
  std::string error;
  Body body;
  EXPECT_FALSE(body.start(
      head_of("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", true),
      "", error));
  EXPECT_EQ(error, "both Transfer-Encoding and Content-Length");
  EXPECT_FALSE(
      body.start(head_of("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", true),
                 "", error));
  EXPECT_FALSE(
      body.start(head_of("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", true), "", error));
  EXPECT_FALSE(
      body.start(head_of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", true), "", error));
  ASSERT_TRUE(body.start(head_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", true), "",
                         error));
  std::size_t used = 0;
  bool done = false;
  EXPECT_FALSE(body.consume("zz\r\n", used, done, error));
  EXPECT_EQ(error, "malformed chunk size \"zz\"");
  ASSERT_TRUE(body.start(head_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", true), "",
                         error));
  EXPECT_FALSE(body.consume("2\r\nabXY", used, done, error));
  EXPECT_EQ(error, "a chunk's data does not end with CRLF");
}

}  // namespace
}  // namespace fb::proxy::http
