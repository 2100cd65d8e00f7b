#include "proxy/proxy.h"

// Asio's awaitable header uses std::exchange without including <utility> (Boost 1.74).
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "proxy/http_framing.h"
#include "proxy/pg_framing.h"
#include "proxy/resp_framing.h"
#include "runtime/redact.h"
#include "runtime/rules.h"

namespace fb::proxy {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

/// The first bytes of a message as an event shows them: printable ASCII, others as
/// \xNN, at most 32 bytes.
std::string printable(std::string_view bytes) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < 32; ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

/// Whether a rule's command= names `command` itself (no wildcard), in any case.
bool names_command(const Rule& rule, const std::string& command) {
  if (rule.command.size() != command.size()) return false;
  for (std::size_t i = 0; i < command.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(rule.command[i])) !=
        static_cast<unsigned char>(command[i]))
      return false;
  return true;
}

}  // namespace

struct Manager::Impl {
  struct Slot {
    Rule rule;
    std::uint64_t matches = 0;
    std::uint64_t fires = 0;
  };
  struct Set {
    RuleSetId id = 0;
    std::string service, interface;
    std::vector<Slot> slots;
  };
  struct Listener {
    std::string caller;
    Upstream upstream;
    tcp::acceptor acceptor;
    std::uint16_t port = 0;
    explicit Listener(asio::io_context& io) : acceptor(io) {}
  };
  struct Connection {
    std::string id;
    std::string caller;
    Upstream upstream;
    tcp::socket client, server;
    std::uint64_t c2s = 0, s2c = 0;
    int pumps = 2;
    std::string reason;  // why it ended, set by whoever ended it first
    // HTTP: the methods of the requests forwarded and not answered yet, oldest first,
    // and a timer cancelled whenever that list empties (a rule's answer waits for it).
    std::deque<std::string> pending;
    std::unique_ptr<asio::steady_timer> idle;
    bool upgraded = false;  // 101 Switching Protocols: plain bytes from then on
    char pg_status = 'I';   // the last transaction status the server reported
    Connection(asio::io_context& io, tcp::socket accepted)
        : client(std::move(accepted)), server(io) {}
    void end(std::string why) {
      if (reason.empty()) reason = std::move(why);
      error_code ignored;
      client.close(ignored);
      server.close(ignored);
      if (idle) idle->cancel();
    }
  };
  /// What the rules decided for a message: delays to wait, then one terminal action
  /// (or none: forward it). Copies: the sets may be removed while it is carried out.
  struct Decision {
    std::vector<Rule> delays;
    std::optional<Rule> terminal;
  };

  runtime::EventLog& log;
  std::atomic<std::uint64_t> seed;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;

  mutable std::mutex mutex;  // listeners, sets, retired, counters
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Listener>> listeners;
  std::vector<std::shared_ptr<Set>> sets;      // install order
  std::atomic<std::size_t> installed_sets{0};  // sets.size(), read without the lock
  std::map<RuleSetId, std::vector<runtime::RuleHits>> retired;
  RuleSetId next_set = 1;
  std::uint64_t next_connection = 1;
  std::set<std::shared_ptr<Connection>> connections;  // the io thread's only

  Impl(runtime::EventLog& l, std::uint64_t s) : log(l), seed(s) {
    thread = std::thread([this] { io.run(); });
  }

  ~Impl() {
    run_on_io([this] {
      for (auto& [key, listener] : listeners) {
        error_code ignored;
        listener->acceptor.close(ignored);
      }
      for (const auto& c : connections) c->end("closed");
    });
    work.reset();
    io.stop();
    thread.join();
  }

  /// Runs `fn` on the io thread and waits for it.
  template <typename Fn>
  void run_on_io(Fn fn) {
    std::promise<void> done;
    asio::post(io, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  void event(const std::string& service, std::string type, runtime::EventLog::Fields fields) {
    log.append(std::move(type), service, std::move(fields));
  }

  /// The rules of the interface that fire for this connection's first bytes (tcp:
  /// `method=` is a byte prefix of the first chunk, the other matchers do not apply).
  Decision decide_tcp(const Connection& c, std::string_view first) {
    return decide(c, [&](const Rule& r) { return first.starts_with(r.method); },
                  {Rule::Action::kDrop, Rule::Action::kRespond});
  }

  /// The rules of the interface that fire for one message: newest set first, rules in
  /// order, delays stacking, the first terminal action in `terminal` deciding.
  template <typename Match>
  Decision decide(const Connection& c, Match match, std::initializer_list<Rule::Action> terminal) {
    Decision d;
    // Most messages pass while no rule is installed anywhere: no lock for them.
    if (installed_sets.load(std::memory_order_acquire) == 0) return d;
    std::lock_guard lock(mutex);
    for (auto set = sets.rbegin(); set != sets.rend() && !d.terminal; ++set) {
      if ((*set)->service != c.upstream.service || (*set)->interface != c.upstream.interface)
        continue;
      for (auto& slot : (*set)->slots) {
        const Rule& r = slot.rule;
        if (!r.source.empty() && r.source != c.caller) continue;
        if (!match(r)) continue;
        std::uint64_t n = ++slot.matches;
        if (r.nth && n != r.nth) continue;
        if (r.after && n <= r.after) continue;
        if (r.probability < 1.0 &&
            runtime::draw(seed.load(), c.upstream.service, r.text, n) >= r.probability)
          continue;
        ++slot.fires;
        if (r.action == Rule::Action::kDelay) {
          d.delays.push_back(r);
          continue;  // delays stack; later rules still decide
        }
        if (std::find(terminal.begin(), terminal.end(), r.action) != terminal.end()) {
          d.terminal = r;
          break;
        }
        // An action the protocol cannot carry out falls through.
      }
    }
    return d;
  }

  void fired(const Connection& c, const Rule& rule, std::string_view first,
             runtime::EventLog::Fields extra) {
    runtime::EventLog::Fields fields{{"interface", c.upstream.interface},
                                     {"protocol", c.upstream.protocol},
                                     {"action", std::string(action_name(rule.action))},
                                     {"rule", rule.text},
                                     {"caller", c.caller},
                                     {"conn_id", c.id},
                                     {"first_bytes", runtime::redact(printable(first))}};
    if (!rule.label.empty()) fields.emplace_back("label", rule.label);
    for (auto& f : extra) fields.push_back(std::move(f));
    event(c.upstream.service, "proxy", std::move(fields));
  }

  /// Fires each delay rule (its event carries `fields` and delay_ms) and waits it out,
  /// in order. False when the connection ended meanwhile.
  awaitable<bool> wait_delays(std::shared_ptr<Connection> c, std::vector<Rule> delays,
                              std::string first, runtime::EventLog::Fields fields) {
    for (const Rule& delay : delays) {
      auto with_delay = fields;
      with_delay.emplace_back(
          "delay_ms",
          static_cast<std::int64_t>(
              std::chrono::duration_cast<std::chrono::milliseconds>(delay.delay).count()));
      fired(*c, delay, first, std::move(with_delay));
      asio::steady_timer timer(io, delay.delay);
      error_code ec;
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    co_return c->client.is_open();
  }

  /// Waits until the service has answered every message forwarded before (`pending`
  /// empties, which cancels `idle`), so that an answer a rule gives goes out in its
  /// place. False when the connection ended meanwhile.
  awaitable<bool> answered_before(std::shared_ptr<Connection> c) {
    error_code ec;
    while (!c->pending.empty() && c->client.is_open()) {
      c->idle->expires_at(asio::steady_timer::time_point::max());
      co_await c->idle->async_wait(asio::redirect_error(use_awaitable, ec));
    }
    co_return c->client.is_open();
  }

  awaitable<void> accept_loop(std::shared_ptr<Listener> l) {
    for (;;) {
      error_code ec;
      tcp::socket socket =
          co_await l->acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !l->acceptor.is_open()) co_return;
      if (ec) continue;  // EMFILE and the like: this connection is lost, not the proxy
      auto c = std::make_shared<Connection>(io, std::move(socket));
      char id[16];
      std::snprintf(id, sizeof id, "%08llx", static_cast<unsigned long long>(next_connection++));
      c->id = id;
      c->caller = l->caller;
      c->upstream = l->upstream;
      connections.insert(c);
      asio::co_spawn(io, relay(c), asio::detached);
    }
  }

  void finish_pump(const std::shared_ptr<Connection>& c) {
    if (--c->pumps > 0) return;
    c->end("");
    event(c->upstream.service, "proxy_conn_close",
          {{"interface", c->upstream.interface},
           {"conn_id", c->id},
           {"bytes_c2s", static_cast<std::int64_t>(c->c2s)},
           {"bytes_s2c", static_cast<std::int64_t>(c->s2c)},
           {"reason", c->reason.empty() ? std::string("closed") : c->reason}});
    connections.erase(c);
  }

  awaitable<void> relay(std::shared_ptr<Connection> c) {
    error_code ec;
    tcp::endpoint target(asio::ip::make_address(c->upstream.host, ec), c->upstream.port);
    if (!ec) co_await c->server.async_connect(target, asio::redirect_error(use_awaitable, ec));
    // A relay writes what it has as it gets it (an HTTP head, then its body): without
    // TCP_NODELAY, Nagle's algorithm and delayed ACKs would hold the second write back
    // for tens of milliseconds.
    if (!ec) {
      error_code ignored;
      c->server.set_option(tcp::no_delay(true), ignored);
      c->client.set_option(tcp::no_delay(true), ignored);
    }
    event(c->upstream.service, "proxy_conn_open",
          {{"interface", c->upstream.interface},
           {"protocol", c->upstream.protocol},
           {"caller", c->caller},
           {"conn_id", c->id}});
    if (ec) {
      // The caller's connection is reset, as a connection to a port nobody listens on
      // would be refused.
      error_code ignored;
      c->client.set_option(asio::socket_base::linger(true, 0), ignored);
      c->end("connect_error: " + ec.message());
      c->pumps = 1;
      finish_pump(c);
      co_return;
    }
    if (c->upstream.protocol == "http") {
      c->idle = std::make_unique<asio::steady_timer>(io);
      asio::co_spawn(io, http_server_to_client(c), asio::detached);
      co_await http_client_to_server(c);
      co_return;
    }
    if (c->upstream.protocol == "redis") {
      c->idle = std::make_unique<asio::steady_timer>(io);
      asio::co_spawn(io, redis_server_to_client(c), asio::detached);
      co_await redis_client_to_server(c);
      co_return;
    }
    if (c->upstream.protocol == "postgres") {
      c->idle = std::make_unique<asio::steady_timer>(io);
      asio::co_spawn(io, pg_server_to_client(c), asio::detached);
      co_await pg_client_to_server(c);
      co_return;
    }
    asio::co_spawn(io, server_to_client(c), asio::detached);
    co_await client_to_server(c);
  }

  // ---- Redis (RESP2/RESP3) ---------------------------------------------------------------

  /// Writes `bytes` to `to`, counting them in `counter`; false (the connection ended)
  /// when it cannot.
  awaitable<bool> send(const std::shared_ptr<Connection>& c, tcp::socket& to,
                       std::string_view bytes, std::uint64_t& counter) {
    error_code ec;
    co_await asio::async_write(to, asio::buffer(bytes.data(), bytes.size()),
                               asio::redirect_error(use_awaitable, ec));
    if (ec) {
      c->end(ec == asio::error::operation_aborted ? "closed" : "io_error");
      co_return false;
    }
    counter += bytes.size();
    co_return true;
  }

  awaitable<void> redis_client_to_server(std::shared_ptr<Connection> c) {
    // Commands are parsed from `buf` at `at`; those forwarded collect in `out` and go to
    // the server in one write per read, so a pipeline costs one write, not one per
    // command.
    std::string buf, out;
    std::size_t at = 0;
    error_code ec;
    for (;;) {
      if (c->upgraded) {
        // Subscribed (or MONITOR): the server pushes as it pleases; relay the bytes.
        out.append(buf, at);
        if (!out.empty() && !co_await send(c, c->server, out, c->c2s)) break;
        co_await client_to_server(c);
        co_return;
      }
      std::size_t size = 0;
      std::string why;
      resp::Parse parsed = resp::value_size(std::string_view(buf).substr(at), size, why);
      if (parsed == resp::Parse::kIncomplete) {
        if (!out.empty() && !co_await send(c, c->server, out, c->c2s)) break;
        out.clear();
        buf.erase(0, at);
        at = 0;
        if (!co_await read_more(c->client, buf, ec)) {
          read_ended(c, true, ec, !buf.empty(), "a command");
          break;
        }
        continue;
      }
      if (parsed == resp::Parse::kMalformed) {
        malformed(c, "request", why);
        break;
      }
      std::string_view request = std::string_view(buf).substr(at, size);
      at += size;
      Message m;
      resp::command_of(request, m.command, m.key);
      // Setting the connection up (AUTH, HELLO, SELECT, CLIENT) is faulted only by a
      // rule that names the command; its arguments (a password) are never shown.
      bool setup = runtime::redis_setup_command(m.command);
      if (m.command == "AUTH" || m.command == "HELLO") m.key = std::string(runtime::kRedacted);
      Decision d = decide(*c,
                          [&](const Rule& r) {
                            return matches(r, m, kCommand | kKey, true) &&
                                   (!setup || names_command(r, m.command));
                          },
                          {Rule::Action::kDrop, Rule::Action::kRespond, Rule::Action::kError});
      if (!d.delays.empty() || d.terminal) {
        // The commands before this one go first.
        if (!out.empty() && !co_await send(c, c->server, out, c->c2s)) break;
        out.clear();
      }
      std::string first = m.command + (m.key.empty() ? "" : " " + m.key);
      // (Fields named first: GCC 12 cannot put an initializer list in a co_await.)
      runtime::EventLog::Fields fields{{"command", m.command}, {"key", m.key}};
      if (!co_await wait_delays(c, d.delays, first, fields)) break;
      if (d.terminal && d.terminal->action == Rule::Action::kDrop) {
        fired(*c, *d.terminal, first, {{"command", m.command}, {"key", m.key}});
        c->end("rule_drop");
        break;
      }
      if (d.terminal) {
        const Rule rule = *d.terminal;
        std::string answer;
        if (rule.action == Rule::Action::kError) {
          std::string message = rule.message.empty() ? "ERR injected fault" : rule.message;
          // One line: a newline would end the error early and desynchronise the client.
          for (char& ch : message)
            if (ch == '\r' || ch == '\n') ch = ' ';
          answer = "-" + message + "\r\n";
          fired(*c, rule, first, {{"command", m.command}, {"key", m.key}, {"error", message}});
        } else {
          answer = rule.body.empty()
                       ? "$-1\r\n"
                       : "$" + std::to_string(rule.body.size()) + "\r\n" + rule.body + "\r\n";
          fired(*c, rule, first, {{"command", m.command}, {"key", m.key}});
        }
        // Replies go back in order: the server answers the earlier commands first.
        if (!co_await answered_before(c) || !co_await send(c, c->client, answer, c->s2c)) break;
        continue;
      }
      c->pending.push_back(m.command);
      out += request;
      if (m.command == "SUBSCRIBE" || m.command == "PSUBSCRIBE" || m.command == "SSUBSCRIBE" ||
          m.command == "MONITOR")
        c->upgraded = true;
    }
    finish_pump(c);
  }

  awaitable<void> redis_server_to_client(std::shared_ptr<Connection> c) {
    // Replies collect in `out` and go to the client in one write per read; the commands
    // they answer leave `pending` only once written, so that an answer a rule gives
    // (which waits for `pending` to empty) cannot overtake them.
    std::string buf, out;
    std::size_t at = 0, answered = 0;
    error_code ec;
    auto flush = [&]() -> awaitable<bool> {
      if (!out.empty() && !co_await send(c, c->client, out, c->s2c)) co_return false;
      out.clear();
      for (; answered > 0 && !c->pending.empty(); --answered) c->pending.pop_front();
      answered = 0;
      if (c->pending.empty()) c->idle->cancel();
      co_return true;
    };
    for (;;) {
      if (c->upgraded && c->pending.size() <= answered + 1) {
        // Once the subscribing command is all that is left to answer, the rest is the
        // server's stream of messages.
        out.append(buf, at);
        if (!co_await flush()) break;
        c->pending.clear();
        c->idle->cancel();
        co_await server_to_client(c);
        co_return;
      }
      std::size_t size = 0;
      std::string why;
      resp::Parse parsed = resp::value_size(std::string_view(buf).substr(at), size, why);
      if (parsed == resp::Parse::kIncomplete) {
        if (!co_await flush()) break;
        buf.erase(0, at);
        at = 0;
        if (!co_await read_more(c->server, buf, ec)) {
          read_ended(c, false, ec, !buf.empty(), "a reply");
          break;
        }
        continue;
      }
      if (parsed == resp::Parse::kMalformed) {
        malformed(c, "response", why);
        break;
      }
      std::string_view reply = std::string_view(buf).substr(at, size);
      at += size;
      out += reply;
      if (!resp::is_push(reply) && answered < c->pending.size()) ++answered;
    }
    if (c->idle) c->idle->cancel();
    finish_pump(c);
  }

  // ---- PostgreSQL ------------------------------------------------------------------------
  //
  // Each side is framed on its own. The client's Query, Sync and FunctionCall (and the
  // startup) are each answered by exactly one ReadyForQuery, so `pending` holds one entry
  // per ReadyForQuery the server owes, oldest first: empty, or an ErrorResponse the proxy
  // puts in front of it (an injected error inside an extended-protocol batch part of
  // which already reached the server).

  static constexpr std::size_t kEventSql = 1000;  // an event shows this much of a query

  /// The transaction status a client sees after an injected error: a failed block when
  /// it was in one, as the server would report.
  static char status_after_error(char status) { return status == 'I' ? 'I' : 'E'; }

  static bool fatal_error(std::string_view error_response) {
    for (const auto& [code, value] : pg::error_fields(error_response))
      if (code == 'S') return value == "FATAL" || value == "PANIC";
    return false;
  }

  /// Answers the client with an injected error once the server has answered everything
  /// before it: the ErrorResponse, then ReadyForQuery, or for FATAL the end of the
  /// connection, as the server would end it. False when the connection is over.
  awaitable<bool> pg_answer(std::shared_ptr<Connection> c, std::string error) {
    if (!co_await answered_before(c)) co_return false;
    bool fatal = fatal_error(error);
    if (!fatal) error += pg::ready_for_query(status_after_error(c->pg_status));
    if (!co_await send(c, c->client, error, c->s2c)) co_return false;
    if (fatal) {
      c->end("rule_error");
      co_return false;
    }
    co_return true;
  }

  awaitable<void> pg_client_to_server(std::shared_ptr<Connection> c) {
    std::string buf, out;
    std::size_t at = 0;
    error_code ec;
    bool started = false;
    std::map<std::string, std::string> statements;  // prepared statement name -> SQL
    bool skipping = false;         // an injected error: the batch is dropped up to its Sync
    std::string injected;          // that error's ErrorResponse
    bool batch_forwarded = false;  // a message of the current batch reached the server
    for (;;) {
      std::string_view rest = std::string_view(buf).substr(at);
      std::size_t size = 0;
      std::string why;
      pg::Parse parsed =
          started ? pg::message_size(rest, true, size, why) : pg::startup_size(rest, size, why);
      if (parsed == pg::Parse::kIncomplete) {
        if (!out.empty() && !co_await send(c, c->server, out, c->c2s)) break;
        out.clear();
        buf.erase(0, at);
        at = 0;
        if (!co_await read_more(c->client, buf, ec)) {
          read_ended(c, true, ec, !buf.empty(), "a message");
          break;
        }
        continue;
      }
      if (parsed == pg::Parse::kMalformed) {
        malformed(c, "request", why);
        break;
      }
      // A view into `buf`, which changes only when more is read, after this message.
      std::string_view message = rest.substr(0, size);
      at += size;
      if (!started) {
        std::uint32_t code = pg::startup_code(message);
        if (code == pg::kSslRequest || code == pg::kGssEncRequest) {
          // The proxy relays plaintext: it declines encryption as a server without SSL
          // would, and the client goes on in the clear (sslmode=require then fails, as
          // it would against such a server).
          if (!co_await send(c, c->client, "N", c->s2c)) break;
          continue;
        }
        if (code == pg::kCancelRequest) {
          // A cancel goes to the server as it is, on a connection of its own.
          out += message;
          out.append(buf, at);
          if (!co_await send(c, c->server, out, c->c2s)) break;
          co_await client_to_server(c);  // finishes this pump
          co_return;
        }
        if (code >> 16 != 3) {
          malformed(c, "request",
                    "unsupported protocol version " + std::to_string(code >> 16) + "." +
                        std::to_string(code & 0xffff));
          break;
        }
        started = true;
        c->pending.push_back("");  // the ReadyForQuery that ends authentication
        out += message;
        continue;
      }
      char type = message[0];
      if (skipping && type != 'S') continue;  // the server would skip these too
      if (type == 'S' && skipping) {
        skipping = false;
        if (batch_forwarded) {
          // The server has part of the batch: its Sync's ReadyForQuery carries the error.
          batch_forwarded = false;
          c->pending.push_back(std::move(injected));
          out += message;
          continue;
        }
        if (!out.empty() && !co_await send(c, c->server, out, c->c2s)) break;
        out.clear();
        if (!co_await pg_answer(c, std::move(injected))) break;
        continue;
      }
      if (type == 'P') {
        std::string name, sql;
        if (!pg::parse_statement(message, name, sql)) {
          malformed(c, "request", "a Parse message without its statement");
          break;
        }
        statements[name] = std::move(sql);
      }
      if (type == 'C' && message.size() > 6 && message[5] == 'S') {
        // Close of a prepared statement: forget it, so a long-lived connection that
        // prepares and closes statements does not grow the map without end.
        std::string_view name = message.substr(6);
        statements.erase(std::string(name.substr(0, name.find('\0'))));
      }
      if (type == 'Q' || type == 'B') {
        std::string query;  // a Query's own SQL; a Bind's is the prepared statement's
        std::string_view sql;
        if (type == 'Q' && !pg::query_sql(message, query)) {
          malformed(c, "request", "a Query message without its terminating NUL");
          break;
        }
        if (type == 'B') {
          std::string statement;
          if (!pg::bind_statement(message, statement)) {
            malformed(c, "request", "a Bind message without its statement name");
            break;
          }
          auto it = statements.find(statement);
          if (it != statements.end()) sql = it->second;
        } else {
          sql = query;
        }
        Decision d = decide(*c, [&](const Rule& r) { return pg::sql_match(r.query, sql); },
                            {Rule::Action::kDrop, Rule::Action::kError});
        bool acts = !d.delays.empty() || d.terminal;
        if (acts) {
          // What came before this message goes first.
          if (!out.empty() && !co_await send(c, c->server, out, c->c2s)) break;
          out.clear();
        }
        // The events' text, made only when a rule acts (most messages just pass).
        std::string shown = acts ? runtime::redact(sql.substr(0, kEventSql)) : std::string();
        if (!d.delays.empty()) {
          runtime::EventLog::Fields fields{{"query", shown}};
          if (!co_await wait_delays(c, d.delays, std::string(sql), fields)) break;
        }
        if (d.terminal && d.terminal->action == Rule::Action::kDrop) {
          fired(*c, *d.terminal, sql, {{"query", shown}});
          c->end("rule_drop");
          break;
        }
        if (d.terminal) {
          const Rule& rule = *d.terminal;
          pg::ErrorText e =
              pg::split_error_text(rule.message.empty() ? "injected fault" : rule.message,
                                   rule.sqlstate.empty() ? "XX000" : rule.sqlstate);
          if (!rule.sqlstate.empty()) e.sqlstate = rule.sqlstate;
          fired(*c, rule, sql,
                {{"query", shown},
                 {"severity", e.severity},
                 {"sqlstate", e.sqlstate},
                 {"error", e.message}});
          std::string error = pg::error_response(e.severity, e.sqlstate, e.message);
          if (type == 'Q') {
            if (!co_await pg_answer(c, std::move(error))) break;
          } else {
            // As the server does after an error in a batch: nothing more until Sync.
            skipping = true;
            injected = std::move(error);
          }
          continue;
        }
      }
      out += message;
      switch (type) {
        case 'Q':
        case 'S':
        case 'F':
          c->pending.push_back("");
          batch_forwarded = false;
          break;
        case 'P':
        case 'B':
        case 'D':
        case 'E':
        case 'C':
        case 'H': batch_forwarded = true; break;
        default: break;
      }
    }
    finish_pump(c);
  }

  awaitable<void> pg_server_to_client(std::shared_ptr<Connection> c) {
    std::string buf, out;
    std::size_t at = 0;
    error_code ec;
    bool server_error = false;  // an ErrorResponse since the last ReadyForQuery
    std::size_t answered = 0;   // ReadyForQuery messages in `out`
    bool ended = false;
    while (!ended) {
      std::string_view rest = std::string_view(buf).substr(at);
      std::size_t size = 0;
      std::string why;
      pg::Parse parsed = pg::message_size(rest, false, size, why);
      if (parsed == pg::Parse::kIncomplete) {
        if (!out.empty() && !co_await send(c, c->client, out, c->s2c)) break;
        out.clear();
        // Only now, with the answers written, may an injected answer follow them.
        for (; answered > 0 && !c->pending.empty(); --answered) c->pending.pop_front();
        answered = 0;
        if (c->pending.empty()) c->idle->cancel();
        buf.erase(0, at);
        at = 0;
        if (!co_await read_more(c->server, buf, ec)) {
          read_ended(c, false, ec, !buf.empty(), "a message");
          break;
        }
        continue;
      }
      if (parsed == pg::Parse::kMalformed) {
        malformed(c, "response", why);
        break;
      }
      std::string_view message = rest.substr(0, size);
      at += size;
      if (message[0] == 'E') server_error = true;
      if (message[0] != 'Z') {
        out += message;
        continue;
      }
      char status = message.size() == 6 ? message[5] : 'I';
      const std::string* injected = answered < c->pending.size() ? &c->pending[answered] : nullptr;
      ++answered;
      if (injected && !injected->empty() && !server_error) {
        out += *injected;
        if (fatal_error(*injected)) {
          if (co_await send(c, c->client, out, c->s2c)) c->end("rule_error");
          ended = true;
          continue;
        }
        status = status_after_error(status);
        out += pg::ready_for_query(status);
      } else {
        out += message;
      }
      c->pg_status = status;
      server_error = false;
    }
    if (c->idle) c->idle->cancel();
    finish_pump(c);
  }

  // ---- HTTP/1.1 ------------------------------------------------------------------------

  void malformed(const std::shared_ptr<Connection>& c, const char* direction,
                 const std::string& why) {
    event(c->upstream.service, "proxy_malformed",
          {{"interface", c->upstream.interface},
           {"conn_id", c->id},
           {"direction", std::string(direction)},
           {"error", why}});
    c->end(std::string("malformed_") + direction);
  }

  /// A side stopped sending while a message was being read from it. At a message
  /// boundary, an end of stream is passed on as a half-close; inside a message it is
  /// malformed; any other error ends the connection.
  void read_ended(const std::shared_ptr<Connection>& c, bool from_client, const error_code& ec,
                  bool inside_message, const char* what) {
    if (ec == asio::error::eof && !inside_message) {
      error_code ignored;
      (from_client ? c->server : c->client).shutdown(tcp::socket::shutdown_send, ignored);
      if (c->reason.empty()) c->reason = from_client ? "client_eof" : "server_eof";
    } else if (ec == asio::error::eof) {
      malformed(c, from_client ? "request" : "response",
                std::string("the connection ended inside ") + what);
    } else {
      c->end(ec == asio::error::operation_aborted ? "closed" : "io_error");
    }
  }

  /// Closes the connection (reason "head_timeout") unless the returned timer is
  /// cancelled within the upstream's head_timeout: a request head must not take longer.
  std::shared_ptr<asio::steady_timer> watch_head(const std::shared_ptr<Connection>& c) {
    auto timer = std::make_shared<asio::steady_timer>(io, c->upstream.head_timeout);
    asio::co_spawn(
        io,
        [c, timer]() -> awaitable<void> {
          error_code ec;
          co_await timer->async_wait(asio::redirect_error(use_awaitable, ec));
          if (!ec) c->end("head_timeout");
        },
        asio::detached);
    return timer;
  }

  /// Reads more of `from` into `buf`. False at the end or on an error (`ec` says which).
  awaitable<bool> read_more(tcp::socket& from, std::string& buf, error_code& ec) {
    std::array<char, 65536> chunk;
    std::size_t n =
        co_await from.async_read_some(asio::buffer(chunk), asio::redirect_error(use_awaitable, ec));
    if (ec) co_return false;
    buf.append(chunk.data(), n);
    co_return true;
  }

  static std::string reason_phrase(int status) {
    switch (status) {
      case 200: return "OK";
      case 201: return "Created";
      case 202: return "Accepted";
      case 204: return "No Content";
      case 400: return "Bad Request";
      case 401: return "Unauthorized";
      case 403: return "Forbidden";
      case 404: return "Not Found";
      case 409: return "Conflict";
      case 429: return "Too Many Requests";
      case 500: return "Internal Server Error";
      case 502: return "Bad Gateway";
      case 503: return "Service Unavailable";
      case 504: return "Gateway Timeout";
      default: return "Status";
    }
  }

  /// The answer a respond or error rule gives in place of the service.
  static std::string synthesized(const Rule& rule, bool close) {
    bool error = rule.action == Rule::Action::kError;
    int status = rule.status ? rule.status : (error ? 500 : 200);
    std::string body = rule.body;
    if (error && body.empty()) {
      std::string message = rule.message.empty() ? "injected fault" : rule.message;
      std::string escaped;
      for (char ch : message) {
        if (ch == '"' || ch == '\\') escaped += '\\';
        escaped += ch;
      }
      body = "{\"error\":\"" + escaped + "\"}";
    }
    return "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: " + (close ? "close" : "keep-alive") + "\r\n\r\n" + body;
  }

  /// Relays an HTTP message whose head is at the start of `buf` (`head_size` bytes) to
  /// the other side, then its body as it arrives. False when the connection ended on
  /// the way (with its reason set).
  awaitable<bool> relay_message(std::shared_ptr<Connection> c, bool from_client, std::string& buf,
                                std::size_t head_size, http::Body& body) {
    tcp::socket& from = from_client ? c->client : c->server;
    tcp::socket& to = from_client ? c->server : c->client;
    std::uint64_t& counter = from_client ? c->c2s : c->s2c;
    if (!co_await send(c, to, std::string_view(buf.data(), head_size), counter)) co_return false;
    buf.erase(0, head_size);
    bool complete = body.empty();
    std::string why;
    error_code ec;
    while (!complete) {
      std::size_t used = 0;
      if (!body.consume(buf, used, complete, why)) {
        malformed(c, from_client ? "request" : "response", why);
        co_return false;
      }
      if (used) {
        if (!co_await send(c, to, std::string_view(buf.data(), used), counter)) co_return false;
        buf.erase(0, used);
      }
      if (complete) break;
      if (!co_await read_more(from, buf, ec)) {
        if (!from_client && ec == asio::error::eof && body.until_close()) {
          // The body was "until the connection closes": that is its end.
          error_code ignored;
          c->client.shutdown(tcp::socket::shutdown_send, ignored);
          if (c->reason.empty()) c->reason = "server_eof";
        } else {
          c->end(ec != asio::error::eof ? "io_error" : from_client ? "client_eof" : "server_eof");
        }
        co_return false;
      }
    }
    co_return true;
  }

  awaitable<void> http_client_to_server(std::shared_ptr<Connection> c) {
    std::string buf;
    error_code ec;
    for (;;) {
      if (c->upgraded) {
        // After 101 Switching Protocols the bytes are no longer HTTP: relay them.
        if (!buf.empty()) {
          co_await asio::async_write(c->server, asio::buffer(buf),
                                     asio::redirect_error(use_awaitable, ec));
          c->c2s += buf.size();
          buf.clear();
        }
        co_await client_to_server(c);  // finishes this pump
        co_return;
      }
      http::Head head;
      std::string why;
      http::Parse parsed = http::Parse::kIncomplete;
      bool ended = false;
      std::shared_ptr<asio::steady_timer> head_timer;  // runs from the head's first byte
      while (!c->upgraded &&
             (parsed = http::parse_head(buf, true, head, why)) == http::Parse::kIncomplete) {
        if (!head_timer && buf.find_first_not_of("\r\n") != std::string::npos)
          head_timer = watch_head(c);
        if (!co_await read_more(c->client, buf, ec)) {
          ended = true;
          break;
        }
      }
      if (head_timer) head_timer->cancel();
      // The service switched protocols while this side waited for the next request:
      // what the caller sent since is not HTTP.
      if (c->upgraded && !ended) continue;
      if (ended) {
        read_ended(c, true, ec, !(buf.find_first_not_of("\r\n") == std::string::npos),
                   "a request head");
        break;
      }
      if (parsed == http::Parse::kMalformed) {
        malformed(c, "request", why);
        break;
      }
      Message m;
      m.method = head.method;
      m.path = head.path();
      // Shown in events: an absolute-form target may carry a user and password.
      std::string shown_path = runtime::redact(m.path);
      Decision d = decide(*c, [&](const Rule& r) { return matches(r, m, kMethod | kPath, true); },
                          {Rule::Action::kDrop, Rule::Action::kRespond, Rule::Action::kError});
      std::string first = head.method + " " + head.target;
      runtime::EventLog::Fields fields{{"method", head.method}, {"path", shown_path}};
      if (!co_await wait_delays(c, d.delays, first, fields)) break;
      http::Body body;
      if (!body.start(head, "", why)) {
        malformed(c, "request", why);
        break;
      }
      if (d.terminal && d.terminal->action == Rule::Action::kDrop) {
        fired(*c, *d.terminal, first, {{"method", head.method}, {"path", shown_path}});
        c->end("rule_drop");
        break;
      }
      if (d.terminal) {
        const Rule rule = *d.terminal;
        std::string answer = synthesized(rule, true);
        int status = rule.status ? rule.status : (rule.action == Rule::Action::kError ? 500 : 200);
        fired(*c, rule, first,
              {{"method", head.method},
               {"path", shown_path},
               {"status", static_cast<std::int64_t>(status)}});
        // A client that waits for "100 Continue" never sends the body: answer now and
        // close. Otherwise the body is read and dropped, and the connection goes on.
        bool expects = head.header("expect").has_value();
        bool close = expects || head.closes();
        buf.erase(0, head.size);
        bool complete = body.empty() || expects;
        while (!complete) {
          std::size_t used = 0;
          if (!body.consume(buf, used, complete, why)) break;
          buf.erase(0, used);
          if (complete) break;
          if (!co_await read_more(c->client, buf, ec)) break;
        }
        if (!complete && !expects) {
          c->end(why.empty() ? "client_eof" : "malformed_request");
          break;
        }
        // Answers go back in order: the service answers the earlier requests first.
        if (!co_await answered_before(c)) break;
        answer = synthesized(rule, close);
        co_await asio::async_write(c->client, asio::buffer(answer),
                                   asio::redirect_error(use_awaitable, ec));
        if (ec) {
          c->end("io_error");
          break;
        }
        c->s2c += answer.size();
        if (close) {
          c->end("rule_respond");
          break;
        }
        continue;
      }
      // Forward the head, then the body as it comes.
      c->pending.push_back(head.method);
      if (!co_await relay_message(c, true, buf, head.size, body)) break;
    }
    finish_pump(c);
  }

  awaitable<void> http_server_to_client(std::shared_ptr<Connection> c) {
    std::string buf;
    error_code ec;
    for (;;) {
      http::Head head;
      std::string why;
      http::Parse parsed = http::Parse::kIncomplete;
      bool ended = false;
      while ((parsed = http::parse_head(buf, false, head, why)) == http::Parse::kIncomplete) {
        if (!co_await read_more(c->server, buf, ec)) {
          ended = true;
          break;
        }
      }
      if (ended) {
        read_ended(c, false, ec, !(buf.empty()), "a response head");
        break;
      }
      if (parsed == http::Parse::kMalformed) {
        malformed(c, "response", why);
        break;
      }
      std::string method = c->pending.empty() ? "" : c->pending.front();
      http::Body body;
      if (!body.start(head, method, why)) {
        malformed(c, "response", why);
        break;
      }
      if (!co_await relay_message(c, false, buf, head.size, body)) break;
      if (head.status == 101) {
        c->upgraded = true;
        c->pending.clear();
        c->idle->cancel();
        co_await server_to_client(c);  // finishes this pump
        co_return;
      }
      // A final answer completes the oldest request; 1xx answers come before it.
      if (head.status >= 200 && !c->pending.empty()) {
        c->pending.pop_front();
        if (c->pending.empty()) c->idle->cancel();
      }
    }
    if (c->idle) c->idle->cancel();
    finish_pump(c);
  }

  awaitable<void> client_to_server(std::shared_ptr<Connection> c) {
    std::array<char, 65536> buffer;
    // Rules decide on the first bytes of a tcp interface only; the other filters hand
    // their connections here once the rest is opaque (a Redis subscription, an HTTP
    // upgrade, a Postgres cancel), and their rules do not apply to raw bytes.
    bool first = c->upstream.protocol == "tcp";
    for (;;) {
      error_code ec;
      std::size_t n = co_await c->client.async_read_some(asio::buffer(buffer),
                                                         asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::eof) {
          // Half-close: the server sees the end of the request and may still answer.
          error_code ignored;
          c->server.shutdown(tcp::socket::shutdown_send, ignored);
          if (c->reason.empty()) c->reason = "client_eof";
        } else {
          c->end(ec == asio::error::operation_aborted ? "closed" : "io_error");
        }
        break;
      }
      std::string_view chunk(buffer.data(), n);
      if (first) {
        first = false;
        Decision d = decide_tcp(*c, chunk);
        if (!co_await wait_delays(c, d.delays, std::string(chunk), runtime::EventLog::Fields()))
          break;
        if (d.terminal && d.terminal->action == Rule::Action::kDrop) {
          fired(*c, *d.terminal, chunk, {{"size", static_cast<std::int64_t>(n)}});
          c->end("rule_drop");
          break;
        }
        if (d.terminal && d.terminal->action == Rule::Action::kRespond) {
          const std::string body = d.terminal->body;
          fired(*c, *d.terminal, chunk, {{"body_size", static_cast<std::int64_t>(body.size())}});
          co_await asio::async_write(c->client, asio::buffer(body),
                                     asio::redirect_error(use_awaitable, ec));
          c->s2c += ec ? 0 : body.size();
          c->end("rule_respond");
          break;
        }
      }
      co_await asio::async_write(c->server, asio::buffer(buffer.data(), n),
                                 asio::redirect_error(use_awaitable, ec));
      if (ec) {
        c->end(ec == asio::error::operation_aborted ? "closed" : "io_error");
        break;
      }
      c->c2s += n;
    }
    finish_pump(c);
  }

  awaitable<void> server_to_client(std::shared_ptr<Connection> c) {
    std::array<char, 65536> buffer;
    for (;;) {
      error_code ec;
      std::size_t n = co_await c->server.async_read_some(asio::buffer(buffer),
                                                         asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::eof) {
          error_code ignored;
          c->client.shutdown(tcp::socket::shutdown_send, ignored);
          if (c->reason.empty()) c->reason = "server_eof";
        } else {
          c->end(ec == asio::error::operation_aborted ? "closed" : "io_error");
        }
        break;
      }
      co_await asio::async_write(c->client, asio::buffer(buffer.data(), n),
                                 asio::redirect_error(use_awaitable, ec));
      if (ec) {
        c->end(ec == asio::error::operation_aborted ? "closed" : "io_error");
        break;
      }
      c->s2c += n;
    }
    finish_pump(c);
  }
};

Manager::Manager(runtime::EventLog& log, std::uint64_t seed)
    : impl_(std::make_unique<Impl>(log, seed)) {}

Manager::~Manager() = default;

std::optional<std::uint16_t> Manager::listen(const std::string& caller, const Upstream& upstream,
                                             std::string& error) {
  std::lock_guard lock(impl_->mutex);
  auto key = std::make_pair(caller, upstream.service + ":" + upstream.interface);
  if (auto it = impl_->listeners.find(key); it != impl_->listeners.end()) return it->second->port;
  auto l = std::make_shared<Impl::Listener>(impl_->io);
  l->caller = caller;
  l->upstream = upstream;
  error_code ec;
  tcp::endpoint any(asio::ip::make_address("127.0.0.1"), 0);
  l->acceptor.open(any.protocol(), ec);
  if (!ec) l->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) l->acceptor.bind(any, ec);
  if (!ec) l->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = "proxy for " + upstream.service + "." + upstream.interface + ": " + ec.message();
    return std::nullopt;
  }
  l->port = l->acceptor.local_endpoint(ec).port();
  impl_->listeners.emplace(key, l);
  asio::co_spawn(impl_->io, impl_->accept_loop(l), asio::detached);
  return l->port;
}

RuleSetId Manager::install(const std::string& service, const std::string& interface,
                           std::vector<Rule> rules) {
  auto set = std::make_shared<Impl::Set>();
  set->service = service;
  set->interface = interface;
  for (auto& r : rules) set->slots.push_back({std::move(r), 0, 0});
  std::string text;
  for (const auto& slot : set->slots) text += (text.empty() ? "" : ", ") + slot.rule.text;
  std::lock_guard lock(impl_->mutex);
  set->id = impl_->next_set++;
  impl_->sets.push_back(set);
  impl_->installed_sets.store(impl_->sets.size(), std::memory_order_release);
  impl_->event(service, "fault_applied",
               {{"interface", interface},
                {"rule_set", static_cast<std::int64_t>(set->id)},
                {"rules", text}});
  return set->id;
}

bool Manager::remove(RuleSetId id) {
  std::lock_guard lock(impl_->mutex);
  auto it = std::find_if(impl_->sets.begin(), impl_->sets.end(),
                         [&](const auto& s) { return s->id == id; });
  if (it == impl_->sets.end()) return false;
  std::vector<runtime::RuleHits> counts;
  std::string text;
  std::int64_t fires = 0;
  for (const auto& slot : (*it)->slots) {
    counts.push_back({slot.rule.text, slot.matches, slot.fires});
    text += (text.empty() ? "" : ", ") + slot.rule.text;
    fires += static_cast<std::int64_t>(slot.fires);
  }
  impl_->event((*it)->service, "fault_removed",
               {{"interface", (*it)->interface},
                {"rule_set", static_cast<std::int64_t>(id)},
                {"rules", text},
                {"fires", fires}});
  impl_->retired[id] = std::move(counts);
  impl_->sets.erase(it);
  impl_->installed_sets.store(impl_->sets.size(), std::memory_order_release);
  return true;
}

std::vector<runtime::RuleHits> Manager::hits(RuleSetId id) const {
  std::lock_guard lock(impl_->mutex);
  for (const auto& s : impl_->sets) {
    if (s->id != id) continue;
    std::vector<runtime::RuleHits> counts;
    for (const auto& slot : s->slots) counts.push_back({slot.rule.text, slot.matches, slot.fires});
    return counts;
  }
  auto it = impl_->retired.find(id);
  return it == impl_->retired.end() ? std::vector<runtime::RuleHits>{} : it->second;
}

void Manager::close_service(const std::string& service) {
  impl_->run_on_io([&] {
    std::lock_guard lock(impl_->mutex);
    for (auto it = impl_->listeners.begin(); it != impl_->listeners.end();) {
      if (it->second->upstream.service != service) {
        ++it;
        continue;
      }
      error_code ignored;
      it->second->acceptor.close(ignored);  // its accept loop holds it until it ends
      it = impl_->listeners.erase(it);
    }
    for (const auto& c : impl_->connections)
      if (c->upstream.service == service) c->end("closed");
  });
}

void Manager::cut(const std::string& service) {
  impl_->run_on_io([&] {
    for (const auto& c : impl_->connections)
      if (c->upstream.service == service) c->end("closed");
  });
}

void Manager::set_seed(std::uint64_t seed) { impl_->seed.store(seed); }

}  // namespace fb::proxy
