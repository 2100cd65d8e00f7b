// Credentials in what faultbox records are replaced, wherever they sit in the text.
#include "runtime/redact.h"

#include <gtest/gtest.h>

namespace fb::runtime {
namespace {

TEST(Redact, HeaderValuesRawOrEscaped) {
  EXPECT_EQ(redact("GET / HTTP/1.1\r\nAuthorization: Bearer abc.def\r\nHost: x\r\n"),
            "GET / HTTP/1.1\r\nAuthorization: <redacted>\r\nHost: x\r\n");
  EXPECT_EQ(redact("GET / HTTP/1.1\\r\\ncookie: session=1; id=2\\r\\nAccept: */*"),
            "GET / HTTP/1.1\\r\\ncookie: <redacted>\\r\\nAccept: */*");
  EXPECT_EQ(redact("GET / HTTP/1.1\\x0d\\x0aProxy-Authorization: Basic dXNlcjpwdw=="),
            "GET / HTTP/1.1\\x0d\\x0aProxy-Authorization: <redacted>");
  EXPECT_EQ(redact("X-Authorization-Hint: none"), "X-Authorization-Hint: none")
      << "only the header itself, at a line's start";
}

TEST(Redact, UrlUserinfo) {
  EXPECT_EQ(redact("redis://admin:s3cret@localhost:6379/0"), "redis://<redacted>@localhost:6379/0");
  EXPECT_EQ(redact("GET http://u:p@host/path?x=1 HTTP/1.1"),
            "GET http://<redacted>@host/path?x=1 HTTP/1.1");
  EXPECT_EQ(redact("http://host/a@b"), "http://host/a@b") << "an @ in the path is not userinfo";
  EXPECT_EQ(redact("postgres://localhost/db"), "postgres://localhost/db");
}

TEST(Redact, RedisAuthInlineRespAndHello) {
  EXPECT_EQ(redact("AUTH redis-SECRET-ARG"), "AUTH <redacted>");
  EXPECT_EQ(redact("auth default redis-SECRET-ARG"), "auth <redacted>");
  EXPECT_EQ(redact("HELLO 3 AUTH default pw SETNAME x"), "HELLO 3 AUTH <redacted>");
  EXPECT_EQ(redact("*2\\x0d\\x0a$4\\x0d\\x0aAUTH\\x0d\\x0a$6\\x0d\\x0asecret"),
            "*2\\x0d\\x0a$4\\x0d\\x0aAUTH\\x0d<redacted>");
  EXPECT_EQ(redact("*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n"), "*2\r\n$4\r\nAUTH\r\n<redacted>");
  EXPECT_EQ(redact("GET auth"), "GET auth") << "a key named auth is not a command";
  EXPECT_EQ(redact("SET author x"), "SET author x");
}

TEST(Redact, EnvironmentAndCommandLines) {
  for (const char* name :
       {"POSTGRES_PASSWORD", "api_token", "AWS_SECRET_ACCESS_KEY", "KEY", "REDIS_PASSWD"})
    EXPECT_EQ(redact_env(name, "hunter2"), "<redacted>") << name;
  EXPECT_EQ(redact_env("PORT", "8080"), "8080");
  EXPECT_EQ(redact_env("DATABASE_URL", "postgres://app:pw@db/app"), "postgres://<redacted>@db/app");
  EXPECT_EQ(redact_command_line("redis-server --port 6379 --requirepass hunter2"),
            "redis-server --port 6379 --requirepass <redacted>");
  EXPECT_EQ(redact_command_line("app --password hunter2 --db-token=abc -v"),
            "app --password <redacted> --db-token=<redacted> -v");
}

TEST(Redact, RedisSetUpCommands) {
  for (const char* c : {"AUTH", "hello", "Select", "CLIENT"}) EXPECT_TRUE(redis_setup_command(c));
  for (const char* c : {"GET", "AUTHX", "SET", ""}) EXPECT_FALSE(redis_setup_command(c));
}

}  // namespace
}  // namespace fb::runtime
