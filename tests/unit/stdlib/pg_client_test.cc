// The Postgres step client's connection strings, and its answer when nothing listens.
// (Its exchange with a real server is tested through the proxy, in
// tests/unit/proxy/postgres_proxy_test.cc and tests/spec/test/proxy_postgres.star.)
#include "stdlib/pg_client.h"

#include <gtest/gtest.h>

namespace fb::stdlib::pg {
namespace {

TEST(PgConnstr, ReadsUrls) {
  Target t;
  std::string error;
  ASSERT_TRUE(
      parse_connstr("postgres://app:s%40cret@db.local:6543/orders?sslmode=disable", t, error))
      << error;
  EXPECT_EQ(t.user, "app");
  EXPECT_EQ(t.password, "s@cret");
  EXPECT_EQ(t.host, "db.local");
  EXPECT_EQ(t.port, 6543);
  EXPECT_EQ(t.database, "orders");
  Target bare;
  ASSERT_TRUE(parse_connstr("postgresql://localhost", bare, error));
  EXPECT_EQ(bare.port, 5432);
  EXPECT_EQ(bare.user, "postgres");
}

TEST(PgConnstr, ReadsKeyValuePairs) {
  Target t;
  std::string error;
  ASSERT_TRUE(
      parse_connstr("host=127.0.0.1 port=7000 user=u password='a b\\'c' dbname=d "
                    "sslmode=disable",
                    t, error))
      << error;
  EXPECT_EQ(t.host, "127.0.0.1");
  EXPECT_EQ(t.port, 7000);
  EXPECT_EQ(t.user, "u");
  EXPECT_EQ(t.password, "a b'c");
  EXPECT_EQ(t.database, "d");
}

TEST(PgConnstr, RefusesWhatItCannotRead) {
  Target t;
  std::string error;
  EXPECT_FALSE(parse_connstr("postgres://u@host:99999/db", t, error));
  EXPECT_NE(error.find("port '99999'"), std::string::npos) << error;
  EXPECT_FALSE(parse_connstr("postgres://u:%zz@host/db", t, error));
  EXPECT_FALSE(parse_connstr("host=x port=", t, error));
  EXPECT_FALSE(parse_connstr("host=x password='open", t, error));
  EXPECT_NE(error.find("unterminated quote"), std::string::npos) << error;
  EXPECT_FALSE(parse_connstr("just-words", t, error));
}

TEST(PgClient, NothingListeningIsAnErrorNotAHang) {
  Target t;
  t.host = "127.0.0.1";
  t.port = 1;  // privileged and unused
  Result r = run(t, "SELECT 1", std::chrono::milliseconds(2000));
  EXPECT_FALSE(r.error.empty());
  EXPECT_TRUE(r.rows.empty());
}

}  // namespace
}  // namespace fb::stdlib::pg
