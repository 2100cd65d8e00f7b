// The Postgres filter against a real PostgreSQL (tests/support/postgres-server): each
// authentication method relayed, SSLRequest declined, simple and extended queries
// matched, injected errors in order within pipelines and batches, and real clients
// (psql, pgbench) through the proxy.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "proxy/pg_framing.h"
#include "proxy/proxy.h"
#include "stdlib/pg_client.h"
#include "tests/support/test_servers.h"
#include "tests/unit/test_support.h"

extern char** environ;

namespace fb::proxy {
namespace {

using namespace std::chrono_literals;
namespace client = fb::stdlib::pg;

/// A throwaway PostgreSQL on `port`, stopped (and its cluster removed) on destruction.
class PostgresServer {
 public:
  // initdb may run first: up to a minute. SIGTERM lets the script remove the cluster.
  explicit PostgresServer(int port)
      : port_(port),
        process_(
            {(fb::testing::source_dir() / "tests/support/postgres-server").string(),
             std::to_string(port)},
            [this] {
              last_error_ = query("SELECT 1").error;
              return last_error_.empty();
            },
            600, 100ms, SIGTERM) {}
  bool ready() const { return process_.ready(); }
  int port() const { return port_; }
  const std::string& last_error() const { return last_error_; }
  /// A statement straight to the server, as postgres.
  client::Result query(const std::string& sql) const {
    client::Target t;
    t.host = "127.0.0.1";
    t.port = port_;
    return client::run(t, sql, 5s);
  }

 private:
  int port_;
  std::string last_error_;  // declared before process_: the poll writes it
  fb::testing::ServerProcess process_;
};

/// A port nobody listens on now (the kernel's pick for an ephemeral bind).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &size);
  ::close(fd);
  return ntohs(a.sin_port);
}

Upstream pg_upstream(int port) {
  return {"db", "main", "postgres", "127.0.0.1", static_cast<std::uint16_t>(port)};
}

client::Result via(std::uint16_t port, const std::string& sql, const std::string& user = "postgres",
                   const std::string& password = "") {
  client::Target t;
  t.host = "127.0.0.1";
  t.port = port;
  t.user = user;
  t.password = password;
  t.database = "postgres";
  return client::run(t, sql, 10s);
}

Rule pg_rule(Rule::Action action, std::string query, std::string text) {
  Rule r;
  r.action = action;
  r.query = std::move(query);
  r.text = std::move(text);
  return r;
}

// ---- a raw wire client, for what the step client never sends ---------------------------

int dial(std::uint16_t port) { return fb::testing::dial_local(port, 10); }

using pg::put_u32;

std::string typed(char type, const std::string& body) { return pg::typed_message(type, body); }

std::string startup() {
  std::string params = std::string("user") + '\0' + "postgres" + '\0' + '\0';
  std::string out;
  put_u32(out, static_cast<std::uint32_t>(params.size() + 8));
  put_u32(out, pg::kProtocol3);
  return out + params;
}

std::string query(const std::string& sql) { return typed('Q', sql + '\0'); }
std::string parse(const std::string& name, const std::string& sql) {
  return typed('P', name + '\0' + sql + '\0' + std::string(2, '\0'));
}
std::string bind(const std::string& statement) {
  // Unnamed portal, no parameter formats, no parameters, no result formats.
  return typed('B', std::string(1, '\0') + statement + '\0' + std::string(6, '\0'));
}
std::string execute() { return typed('E', std::string(1, '\0') + std::string(4, '\0')); }
std::string sync() { return typed('S', ""); }

struct Wire {
  int fd = -1;
  std::string buf;
  explicit Wire(std::uint16_t port) : fd(dial(port)) {}
  ~Wire() {
    if (fd >= 0) ::close(fd);
  }
  void send(const std::string& bytes) { (void)!::write(fd, bytes.data(), bytes.size()); }
  /// The next message, or "" when the connection ended.
  std::string next() {
    for (;;) {
      std::size_t size = 0;
      std::string why;
      if (pg::message_size(buf, false, size, why) == pg::Parse::kComplete) {
        std::string m = buf.substr(0, size);
        buf.erase(0, size);
        return m;
      }
      char chunk[8192];
      ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n <= 0) return "";
      buf.append(chunk, static_cast<std::size_t>(n));
    }
  }
  /// The types of the messages up to and including the `n`th ReadyForQuery ("" ends).
  std::string types_until_ready(int n = 1) {
    std::string types;
    while (n > 0) {
      std::string m = next();
      if (m.empty()) return types + "<eof>";
      types += m[0];
      if (m[0] == 'Z') --n;
    }
    return types;
  }
  bool started() {
    send(startup());
    return types_until_ready().ends_with("Z");
  }
};

std::string field(const std::string& error_response, char code) {
  for (const auto& [c, v] : pg::error_fields(error_response))
    if (c == code) return v;
  return "";
}

class PostgresProxy : public ::testing::Test {
 protected:
  // ctest runs each test in a process of its own, two at a time: each gets a server on
  // a port of its own.
  static void SetUpTestSuite() { server_ = new PostgresServer(free_port()); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(server_->ready()) << "PostgreSQL (tools/bootstrap installs it) did not start: "
                                  << server_->last_error();
    std::string error;
    auto port = proxies.listen("test", pg_upstream(server_->port()), error);
    ASSERT_TRUE(port) << error;
    proxy_port = *port;
  }
  static PostgresServer* server_;
  runtime::EventLog log;
  Manager proxies{log, 1};
  std::uint16_t proxy_port = 0;
};
PostgresServer* PostgresProxy::server_ = nullptr;

TEST_F(PostgresProxy, RelaysEveryAuthenticationMethod) {
  ASSERT_EQ(server_
                ->query("SET password_encryption = 'md5'; "
                        "DROP ROLE IF EXISTS faultbox_md5; "
                        "CREATE ROLE faultbox_md5 LOGIN PASSWORD 'md5-secret'; "
                        "SET password_encryption = 'scram-sha-256'; "
                        "DROP ROLE IF EXISTS faultbox_scram; "
                        "CREATE ROLE faultbox_scram LOGIN PASSWORD 'scram-secret'; "
                        "DROP ROLE IF EXISTS faultbox_clear; "
                        "CREATE ROLE faultbox_clear LOGIN PASSWORD 'clear-secret'")
                .error,
            "");
  struct Case {
    std::string user, password;
  };
  for (const Case& c :
       {Case{"postgres", ""}, Case{"faultbox_clear", "clear-secret"},
        Case{"faultbox_md5", "md5-secret"}, Case{"faultbox_scram", "scram-secret"}}) {
    auto r = via(proxy_port, "SELECT current_user", c.user, c.password);
    EXPECT_EQ(r.error, "") << c.user;
    ASSERT_EQ(r.rows.size(), 1u) << c.user;
    EXPECT_EQ(r.rows[0][0].value_or(""), c.user);
  }
  // A wrong password is the server's refusal, relayed.
  for (const std::string user : {"faultbox_clear", "faultbox_md5", "faultbox_scram"}) {
    auto r = via(proxy_port, "SELECT 1", user, "wrong");
    EXPECT_EQ(r.sqlstate, "28P01") << user << ": " << r.error;
  }
}

TEST_F(PostgresProxy, DeclinesSslAndPsqlGoesOnInTheClear) {
  Wire w(proxy_port);
  std::string ssl;
  put_u32(ssl, 8);
  put_u32(ssl, pg::kSslRequest);
  w.send(ssl);
  char answer = 0;
  ASSERT_EQ(::read(w.fd, &answer, 1), 1);
  EXPECT_EQ(answer, 'N');
  EXPECT_TRUE(w.started());
  // psql asks for SSL first (sslmode=prefer) and must still get its answer.
  std::string command = "psql -X -At -h 127.0.0.1 -p " + std::to_string(proxy_port) +
                        " -U postgres -d postgres -c 'SELECT 40 + 2' 2>&1";
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, p)) out += line;
    ::pclose(p);
  }
  EXPECT_EQ(out, "42\n");
}

TEST_F(PostgresProxy, PipelinedQueriesGetTheInjectedErrorInItsPlace) {
  auto set =
      proxies.install("db", "main", {pg_rule(Rule::Action::kError, "SELECT 'two'", "error(...)")});
  Wire w(proxy_port);
  ASSERT_TRUE(w.started());
  w.send(query("SELECT 1") + query("select   'two';") + query("SELECT 3"));
  std::vector<std::string> answers;
  for (int i = 0; i < 3; ++i) answers.push_back(w.types_until_ready());
  EXPECT_EQ(answers, (std::vector<std::string>{"TDCZ", "EZ", "TDCZ"}));
  EXPECT_EQ(proxies.hits(set)[0].fires, 1u);
}

TEST_F(PostgresProxy, ExtendedBatchSkipsToSyncAfterTheInjectedError) {
  ASSERT_EQ(server_->query("DROP TABLE IF EXISTS ext; CREATE TABLE ext (v int)").error, "");
  Rule rule = pg_rule(Rule::Action::kError, "INSERT INTO ext*", "error(...)");
  rule.message = "ERROR: could not extend file: No space left on device (SQLSTATE 53100)";
  auto set = proxies.install("db", "main", {rule});
  Wire w(proxy_port);
  ASSERT_TRUE(w.started());
  // Parse reaches the server (ParseComplete); the Bind that would run it is answered
  // with the error, the Execute is skipped, and the Sync's ReadyForQuery follows.
  w.send(parse("", "INSERT INTO ext VALUES ($1)") + bind("") + execute() + sync());
  std::string m;
  std::string types;
  std::string error;
  while (!(m = w.next()).empty()) {
    types += m[0];
    if (m[0] == 'E') error = m;
    if (m[0] == 'Z') break;
  }
  EXPECT_EQ(types, "1EZ");
  EXPECT_EQ(field(error, 'S'), "ERROR");
  EXPECT_EQ(field(error, 'C'), "53100");
  EXPECT_EQ(field(error, 'M'), "could not extend file: No space left on device");
  // The connection goes on: a named statement parsed once and bound twice is matched
  // at each Bind.
  w.send(parse("ins", "INSERT INTO ext VALUES (7)") + sync());
  EXPECT_EQ(w.types_until_ready(), "1Z");
  proxies.remove(set);
  w.send(bind("ins") + execute() + sync());
  EXPECT_EQ(w.types_until_ready(), "2CZ");
  set = proxies.install("db", "main", {rule});
  w.send(bind("ins") + execute() + sync());
  EXPECT_EQ(w.types_until_ready(), "EZ");
  EXPECT_EQ(proxies.hits(set)[0].fires, 1u);
  auto rows = server_->query("SELECT count(*) FROM ext");
  ASSERT_EQ(rows.rows.size(), 1u);
  EXPECT_EQ(rows.rows[0][0].value_or(""), "1") << "only the Bind outside the window ran";
}

TEST_F(PostgresProxy, AnErrorInsideATransactionLeavesItFailed) {
  auto set =
      proxies.install("db", "main", {pg_rule(Rule::Action::kError, "SELECT 'boom'", "error(...)")});
  Wire w(proxy_port);
  ASSERT_TRUE(w.started());
  w.send(query("BEGIN"));
  EXPECT_EQ(w.types_until_ready(), "CZ");
  w.send(query("SELECT 'boom'"));
  std::string e = w.next();
  std::string z = w.next();
  EXPECT_EQ(e[0], 'E');
  ASSERT_EQ(z.size(), 6u);
  EXPECT_EQ(z[5], 'E') << "a failed transaction block, as the server reports one";
  proxies.remove(set);
  w.send(query("ROLLBACK"));
  EXPECT_EQ(w.types_until_ready(), "CZ");
}

TEST_F(PostgresProxy, FatalErrorsAndDropsEndTheConnection) {
  Rule fatal = pg_rule(Rule::Action::kError, "SELECT 1", "error(...)");
  fatal.message = "FATAL: terminating connection due to administrator command (SQLSTATE 57P01)";
  auto set = proxies.install("db", "main", {fatal});
  Wire w(proxy_port);
  ASSERT_TRUE(w.started());
  w.send(query("SELECT 1"));
  std::string e = w.next();
  EXPECT_EQ(field(e, 'S'), "FATAL");
  EXPECT_EQ(field(e, 'C'), "57P01");
  EXPECT_EQ(w.next(), "") << "the connection ends after a FATAL error";
  proxies.remove(set);
  proxies.install("db", "main", {pg_rule(Rule::Action::kDrop, "SELECT 2", "drop(...)")});
  auto r = via(proxy_port, "SELECT 2");
  EXPECT_EQ(r.error, "the server closed the connection");
  bool dropped = false;
  for (int i = 0; i < 500 && !dropped; ++i) {
    for (auto& ev : log.snapshot())
      dropped = dropped || (ev.type == "proxy_conn_close" && ev.text("reason") == "rule_drop");
    if (!dropped) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(dropped) << "the connection's close names the rule";
}

TEST_F(PostgresProxy, MalformedBytesCloseOnlyThatConnection) {
  Wire good(proxy_port);
  ASSERT_TRUE(good.started());
  Wire bad(proxy_port);
  bad.send(std::string("\x00\x00\x00\x05garbage-and-more", 20));
  char byte;
  EXPECT_LE(::read(bad.fd, &byte, 1), 0) << "the proxy closes a malformed connection";
  good.send(query("SELECT 1"));
  EXPECT_EQ(good.types_until_ready(), "TDCZ") << "the other connection is untouched";
  bool reported = false;
  for (int i = 0; i < 500 && !reported; ++i) {
    for (auto& ev : log.snapshot()) reported = reported || ev.type == "proxy_malformed";
    if (!reported) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(reported);
}

TEST_F(PostgresProxy, PgbenchPreparedStatementsRunAndAreMatchedAtEachBind) {
  std::string base = "pgbench -h 127.0.0.1 -U postgres -p ";
  std::string direct = base + std::to_string(server_->port());
  std::string proxied = base + std::to_string(proxy_port);
  ASSERT_EQ(std::system((direct + " -q -i -s 1 postgres >/dev/null 2>&1").c_str()), 0);
  // Prepared mode: each client parses once and binds every transaction.
  EXPECT_EQ(
      std::system((proxied + " -n -S -M prepared -c 2 -t 50 postgres >/dev/null 2>&1").c_str()), 0);
  auto set =
      proxies.install("db", "main",
                      {pg_rule(Rule::Action::kError, "SELECT abalance FROM pgbench_accounts*",
                               "error(query=\"SELECT abalance FROM pgbench_accounts*\")")});
  int status =
      std::system((proxied + " -n -S -M prepared -c 1 -t 5 postgres >/dev/null 2>&1").c_str());
  EXPECT_NE(status, 0) << "pgbench must see the injected error";
  EXPECT_GE(proxies.hits(set)[0].fires, 1u);
}

}  // namespace
}  // namespace fb::proxy
