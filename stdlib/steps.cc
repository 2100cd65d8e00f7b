#include "stdlib/steps.h"

#include <poll.h>
#include <sys/socket.h>
#include <chrono>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "proxy/resp_framing.h"
#include "runtime/line_decoder.h"
#include "runtime/redact.h"
#include "runtime/rules.h"
#include "stdlib/net.h"
#include "stdlib/parallel.h"
#include "stdlib/pg_client.h"
#include "stdlib/session.h"
#include "stdlib/topology.h"
#include "vm/methods.h"
#include "vm/ops.h"
#include "vm/thread.h"

namespace fb::stdlib {

using vm::Args;
using vm::Thread;
using vm::Value;
using Clock = std::chrono::steady_clock;

std::string_view ResponseValue::type_name() const { return "response"; }
bool ResponseValue::attr(const Value&, std::string_view name, Value& out) const {
  if (name == "status") return out = Value::integer(status), true;
  if (name == "body") return out = vm::make_string(body), true;
  if (name == "data") return out = data, true;
  if (name == "ok") return out = Value::boolean(truth()), true;
  if (name == "error") return out = vm::make_string(error), true;
  if (name == "duration_ms") return out = Value::integer(duration_ms), true;
  if (name == "headers") return out = headers, true;
  return false;
}
std::vector<std::string> ResponseValue::attr_names() const {
  return {"body", "data", "duration_ms", "error", "headers", "ok", "status"};
}
void ResponseValue::repr(std::string& out) const {
  out += error.empty() ? "<response status=" + std::to_string(status) + ">"
                       : "<response error=" + vm::repr(vm::make_string(error)) + ">";
}
void ResponseValue::freeze_values() {
  vm::freeze(data);
  vm::freeze(headers);
}

namespace {

/// A JSON document as Starlark values; false (no error) for one nested more deeply than
/// values compare, which its callers keep as text.
bool from_json(Thread& t, const nlohmann::json& j, Value& out, int depth = 0) {
  if (depth > vm::kMaxNesting) return false;
  switch (j.type()) {
    case nlohmann::json::value_t::null: out = Value(); return true;
    case nlohmann::json::value_t::boolean: out = Value::boolean(j.get<bool>()); return true;
    case nlohmann::json::value_t::number_integer:
      out = Value::integer(j.get<std::int64_t>());
      return true;
    case nlohmann::json::value_t::number_unsigned: {
      auto u = j.get<std::uint64_t>();
      out = u <= static_cast<std::uint64_t>(INT64_MAX)
                ? Value::integer(static_cast<std::int64_t>(u))
                : Value::floating(static_cast<double>(u));
      return true;
    }
    case nlohmann::json::value_t::number_float: out = Value::floating(j.get<double>()); return true;
    case nlohmann::json::value_t::string: out = vm::make_string(j.get<std::string>()); return true;
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      for (const auto& e : j) {
        Value v;
        if (!from_json(t, e, v, depth + 1)) return false;
        items.push_back(std::move(v));
      }
      out = vm::make_list(std::move(items));
      return true;
    }
    case nlohmann::json::value_t::object: {
      auto* d = new vm::Dict();
      out = Value::adopt(d);
      for (const auto& [k, e] : j.items()) {
        Value v;
        if (!from_json(t, e, v, depth + 1) ||
            !vm::dict_set(t, *d, vm::make_string(k), std::move(v)))
          return false;
      }
      return true;
    }
    default: return false;
  }
}

/// Starlark values as JSON, for a dict or list body.
bool to_json(Thread& t, const Value& v, nlohmann::json& out, int depth = 0) {
  if (depth > 100) return t.fail("body: nested too deeply for JSON");
  switch (v.type()) {
    case vm::Type::kNone: out = nullptr; return true;
    case vm::Type::kBool: out = vm::truth(v); return true;
    case vm::Type::kInt: out = v.as_int(); return true;
    case vm::Type::kFloat: out = v.as_float(); return true;
    case vm::Type::kString: out = vm::str(v); return true;
    case vm::Type::kList:
    case vm::Type::kTuple:
      out = nlohmann::json::array();
      for (const Value& item : v.as<vm::List>()->items) {
        nlohmann::json e;
        if (!to_json(t, item, e, depth + 1)) return false;
        out.push_back(std::move(e));
      }
      return true;
    case vm::Type::kDict:
      out = nlohmann::json::object();
      for (const auto& e : v.as<vm::Dict>()->entries) {
        if (!e.key.is(vm::Type::kString)) return t.fail("body: JSON object keys must be strings");
        nlohmann::json value;
        if (!to_json(t, e.value, value, depth + 1)) return false;
        out[vm::str(e.key)] = std::move(value);
      }
      return true;
    default: return t.fail("body: cannot send a " + std::string(vm::type_of(v)) + " as JSON");
  }
}

/// What a step method is bound to: the interface it talks to.
/// The running test's log, or nullptr when steps run outside a test.
runtime::EventLog* step_log(Thread& t) {
  Session* session = Session::of(t);
  return session && session->run ? session->run->log : nullptr;
}

/// The port a step dials: the test driver's proxy for the interface when the runner
/// started one, else the interface itself.
int step_port(Thread& t, const std::string& service, const InterfaceDecl& iface) {
  Session* session = Session::of(t);
  if (session && session->run) {
    auto it = session->run->step_ports.find(service + "." + iface.name);
    if (it != session->run->step_ports.end()) return it->second;
  }
  return iface.port;
}

/// step_send in the test lane, then the request reaches the service.
void record_send(runtime::EventLog* log, const std::string& service, const std::string& iface,
                 std::string protocol, std::string method, runtime::EventLog::Fields extra = {}) {
  if (!log) return;
  runtime::EventLog::Fields fields{{"target", service},
                                   {"interface", iface},
                                   {"protocol", std::move(protocol)},
                                   {"method", std::move(method)}};
  for (auto& [name, value] : extra) {
    // A path or URL may carry a user and password.
    if (auto* text = std::get_if<std::string>(&value)) *text = runtime::redact(*text);
    fields.emplace_back(std::move(name), std::move(value));
  }
  log->append("step_send", step_lane(), std::move(fields));
  log->merge(service, step_lane());
}

/// The reply reaches the test, then step_recv in its lane.
void record_recv(runtime::EventLog* log, const std::string& service, const std::string& iface,
                 std::string method, std::int64_t ms, bool ok, int status,
                 const std::string& error) {
  if (!log) return;
  log->merge(step_lane(), service);
  runtime::EventLog::Fields fields{{"target", service},
                                   {"interface", iface},
                                   {"method", std::move(method)},
                                   {"duration_ms", ms},
                                   {"success", std::string(ok ? "true" : "false")}};
  if (status) fields.emplace_back("status_code", static_cast<std::int64_t>(status));
  if (!error.empty()) fields.emplace_back("error", runtime::redact(error));
  log->append("step_recv", step_lane(), std::move(fields));
}

/// A step's timeout=: 10 s when not given, else a positive duration string.
bool step_timeout(Thread& t, const std::string& fn, const Value& timeout,
                  std::chrono::milliseconds& out) {
  out = std::chrono::milliseconds(10000);
  if (timeout.is(vm::Type::kNone)) return true;
  std::string why;
  std::optional<std::chrono::nanoseconds> d;
  if (timeout.is(vm::Type::kString)) d = runtime::parse_duration(vm::str(timeout), why);
  if (!d || d->count() <= 0)
    return t.fail(fn + ": timeout must be a positive duration like \"5s\"");
  out = std::chrono::ceil<std::chrono::milliseconds>(*d);
  return true;
}

struct StepSelf final : vm::HostObject {
  std::string service;
  InterfaceDecl decl;
  std::string method;
  std::string_view type_name() const override { return "step"; }
  bool attr(const Value&, std::string_view, Value&) const override { return false; }
  std::vector<std::string> attr_names() const override { return {}; }
};

bool http_step(Thread& t, const Value& self, Args& a, Value& r) {
  const auto* step = self.as<StepSelf>();
  const StepSelf& ref = *step;
  std::string fn = ref.service + "." + ref.decl.name + "." + step->method;
  Value path, body, headers, timeout;
  if (!vm::unpack(
          t, fn, a,
          {{"path?", &path}, {"body?", &body}, {"headers?", &headers}, {"timeout?", &timeout}}))
    return false;
  std::string path_text = path.is(vm::Type::kNone) ? "/" : vm::str(path);
  if (!path.is(vm::Type::kNone) && !path.is(vm::Type::kString))
    return t.fail(fn + ": path must be a string, got " + std::string(vm::type_of(path)));
  if (!path_text.starts_with("/")) path_text = "/" + path_text;
  std::vector<std::pair<std::string, std::string>> header_list;
  if (!headers.is(vm::Type::kNone)) {
    if (!headers.is(vm::Type::kDict))
      return t.fail(fn + ": headers must be a dict, got " + std::string(vm::type_of(headers)));
    for (const auto& e : headers.as<vm::Dict>()->entries)
      header_list.emplace_back(vm::str(e.key), vm::str(e.value));
  }
  std::string body_text;
  if (body.is(vm::Type::kString) || body.is(vm::Type::kBytes)) {
    body_text = body.as<vm::String>()->text;
  } else if (!body.is(vm::Type::kNone)) {
    nlohmann::json j;
    if (!to_json(t, body, j)) return false;
    body_text = j.dump();
    header_list.emplace_back("Content-Type", "application/json");
  }
  std::chrono::milliseconds limit(30000);
  if (!timeout.is(vm::Type::kNone)) {
    std::string why;
    auto d = timeout.is(vm::Type::kString) ? runtime::parse_duration(vm::str(timeout), why)
                                           : std::nullopt;
    if (!d || d->count() <= 0)
      return t.fail(fn + ": timeout must be a positive duration like \"5s\"" +
                    (why.empty() ? "" : ": " + why));
    limit = std::chrono::ceil<std::chrono::milliseconds>(*d);
  }
  std::string method_upper = step->method;
  for (char& c : method_upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  runtime::EventLog* log = step_log(t);
  int port = step_port(t, ref.service, ref.decl);
  StepTurn turn(t.cancelled);  // in an ordered parallel() branch, wait for this step's turn
  record_send(log, ref.service, ref.decl.name, "http", step->method, {{"path", path_text}});
  auto started = Clock::now();
  CancelScope scope(&t.cancelled);
  HttpResponse response;
  {
    VmUnlocked unlocked;  // other branches run while this one waits on the network
    response = turn.ok() ? http_request(method_upper,
                                        "http://localhost:" + std::to_string(port) + path_text,
                                        body_text, header_list, limit)
                         : HttpResponse{0, "", {}, "cancelled"};
  }
  auto* value = new ResponseValue();
  r = Value::adopt(value);
  value->status = response.status;
  value->body = response.body;
  value->error = response.error;
  value->duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  if (!json_to_value(t, response.body, value->data)) value->data = vm::make_string(response.body);
  auto* dict = new vm::Dict();
  value->headers = Value::adopt(dict);
  for (auto& [k, v] : response.headers) {
    std::string key = k;
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!vm::dict_set(t, *dict, vm::make_string(key), vm::make_string(v))) return false;
  }
  record_recv(log, ref.service, ref.decl.name, step->method, value->duration_ms, value->truth(),
              value->status, value->error);
  return true;
}

/// tcp send's exchange: one line out, the reply read until its first newline, within
/// the deadlines and the thread's CancelScope. Touches no VM value.
void exchange_line(int port, const std::string& line, std::string& error, std::string& reply) {
  runtime::UniqueFd fd = dial("localhost", port, std::chrono::seconds(5), error);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  if (fd) {
    if (::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) < 0) error = std::strerror(errno);
    while (error.empty() && reply.find('\n') == std::string::npos) {
      if (CancelScope::cancelled()) {
        error = "cancelled";
        break;
      }
      pollfd p{fd.get(), POLLIN, 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        error = "timed out waiting for a reply";
        break;
      }
      // In slices, so that a cancelled test does not wait out the reply's deadline.
      int ready = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 50)));
      if (ready == 0) continue;
      if (ready < 0) {
        if (errno == EINTR) continue;
        error = std::strerror(errno);
        break;
      }
      char buffer[4096];
      ssize_t n = ::recv(fd.get(), buffer, sizeof buffer, 0);
      if (n == 0) {
        // Closed: an answer without a newline still counts; no answer at all fails.
        if (reply.empty()) error = "the connection was closed without a reply";
        break;
      }
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        error = std::strerror(errno);
        break;
      }
      reply.append(buffer, static_cast<std::size_t>(n));
    }
  }
}

/// tcp send(data=): one line out, one line back. As in the reference, the reply comes
/// back as a string and a failure raises "tcp send failed: <why>".
bool tcp_send(Thread& t, const Value& self, Args& a, Value& r) {
  const auto* step = self.as<StepSelf>();
  const StepSelf& ref = *step;
  std::string fn = ref.service + "." + ref.decl.name + ".send";
  Value data, timeout;
  if (!vm::unpack(t, fn, a, {{"data", &data}, {"timeout?", &timeout}})) return false;
  if (!data.is(vm::Type::kString) || vm::str(data).empty())
    return t.fail(fn + ": data must be a non-empty string");
  std::string line = vm::str(data);
  if (!line.ends_with("\n")) line += "\n";
  runtime::EventLog* log = step_log(t);
  int port = step_port(t, ref.service, ref.decl);
  StepTurn turn(t.cancelled);  // in an ordered parallel() branch, wait for this step's turn
  record_send(log, ref.service, ref.decl.name, "tcp", "send");
  auto started = Clock::now();
  std::string error = turn.ok() ? "" : "cancelled";
  std::string reply;
  CancelScope scope(&t.cancelled);
  {
    VmUnlocked unlocked;  // other branches run while this one waits on the network
    if (error.empty()) exchange_line(port, line, error, reply);
  }
  reply = reply.substr(0, reply.find('\n'));
  while (!reply.empty() && (reply.back() == '\r' || reply.back() == ' ')) reply.pop_back();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  record_recv(log, ref.service, ref.decl.name, "send", ms, error.empty(), 0, error);
  if (!error.empty()) return t.fail("tcp send failed: " + error);
  r = vm::make_string(reply);
  return true;
}

constexpr std::string_view kHttpMethods[] = {"delete", "get", "patch", "post", "put"};

// ---- redis -----------------------------------------------------------------------------------

/// One RESP reply at the start of `data` as a Starlark value (`error` for an error reply);
/// `used` is its length. False when it is not a reply.
bool resp_value(Thread& t, std::string_view data, std::size_t& used, Value& out,
                std::string& error) {
  if (data.size() < 3) return false;
  std::size_t eol = data.find("\r\n");
  if (eol == std::string_view::npos) return false;
  std::string line(data.substr(1, eol - 1));
  used = eol + 2;
  switch (data[0]) {
    case '+': out = vm::make_string(line); return true;
    case '-':
    case '!':
      error = line;
      out = Value();
      return true;
    case ':': out = Value::integer(std::strtoll(line.c_str(), nullptr, 10)); return true;
    case '_': out = Value(); return true;
    case '#': out = Value::boolean(line == "t"); return true;
    case ',': out = vm::make_string(line); return true;
    case '$':
    case '=': {
      long long n = std::strtoll(line.c_str(), nullptr, 10);
      if (n < 0) {
        out = Value();
        return true;
      }
      if (data.size() < used + static_cast<std::size_t>(n) + 2) return false;
      out = vm::make_string(std::string(data.substr(used, static_cast<std::size_t>(n))));
      used += static_cast<std::size_t>(n) + 2;
      return true;
    }
    case '*':
    case '~':
    case '>': {
      long long n = std::strtoll(line.c_str(), nullptr, 10);
      if (n < 0) {
        out = Value();
        return true;
      }
      std::vector<Value> items;
      for (long long i = 0; i < n; ++i) {
        std::size_t inner = 0;
        Value item;
        std::string item_error;
        if (!resp_value(t, data.substr(used), inner, item, item_error)) return false;
        items.push_back(item_error.empty() ? item : vm::make_string(item_error));
        used += inner;
      }
      out = vm::make_list(std::move(items));
      return true;
    }
    default: return false;
  }
}

/// Sends `args` as one command on `fd` and reads its reply, whole, into `reply`;
/// `error` for a transport failure. Touches no VM value (the VM lock is not held).
void redis_exchange(int fd, const std::vector<std::string>& args, std::string& reply,
                    std::string& error, Clock::time_point deadline) {
  std::string wire = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) wire += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  if (::send(fd, wire.data(), wire.size(), MSG_NOSIGNAL) < 0) {
    error = std::strerror(errno);
    return;
  }
  reply.clear();
  for (;;) {
    std::size_t used = 0;
    std::string why;
    auto parsed = proxy::resp::value_size(reply, used, why);
    if (parsed == proxy::resp::Parse::kComplete) {
      reply.resize(used);
      return;
    }
    if (parsed == proxy::resp::Parse::kMalformed) {
      error = "not a RESP reply: " + why;
      return;
    }
    if (CancelScope::cancelled()) {
      error = "cancelled";
      return;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      error = "timed out waiting for a reply";
      return;
    }
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 50)));
    if (ready <= 0) {
      if (ready < 0 && errno != EINTR) {
        error = std::strerror(errno);
        return;
      }
      continue;
    }
    char buffer[4096];
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) {
      error = "the connection was closed without a reply";
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      error = std::strerror(errno);
      return;
    }
    reply.append(buffer, static_cast<std::size_t>(n));
  }
}

/// get(key), set(key, value), del(key), ping(), keys(pattern="*"), lpush/rpush(key,
/// value), lrange(key, start="0", stop="-1"), incr(key), command(cmd=, args=): one
/// command on a fresh connection, AUTH first when the service's env (REDIS_USER,
/// REDIS_PASSWORD) or user=/password= give credentials. Returns a response with
/// .data = {"value": reply} and .ok; an error reply sets .error, it does not raise.
bool redis_step(Thread& t, const Value& self, Args& a, Value& r) {
  const auto* step = self.as<StepSelf>();
  const StepSelf& ref = *step;
  const std::string& m = step->method;
  std::string fn = ref.service + "." + ref.decl.name + "." + m;
  Value key, value, pattern, start, stop, cmd, cmd_args, user, password, timeout;
  // Every method takes user=, password= and timeout= after its own arguments.
  bool unpacked = false;
  if (m == "get" || m == "del" || m == "incr")
    unpacked = vm::unpack(
        t, fn, a,
        {{"key", &key}, {"user?", &user}, {"password?", &password}, {"timeout?", &timeout}});
  else if (m == "set" || m == "lpush" || m == "rpush")
    unpacked = vm::unpack(t, fn, a,
                          {{"key", &key},
                           {"value", &value},
                           {"user?", &user},
                           {"password?", &password},
                           {"timeout?", &timeout}});
  else if (m == "keys")
    unpacked = vm::unpack(t, fn, a,
                          {{"pattern?", &pattern},
                           {"user?", &user},
                           {"password?", &password},
                           {"timeout?", &timeout}});
  else if (m == "lrange")
    unpacked = vm::unpack(t, fn, a,
                          {{"key", &key},
                           {"start?", &start},
                           {"stop?", &stop},
                           {"user?", &user},
                           {"password?", &password},
                           {"timeout?", &timeout}});
  else if (m == "command")
    unpacked = vm::unpack(t, fn, a,
                          {{"cmd", &cmd},
                           {"args?", &cmd_args},
                           {"user?", &user},
                           {"password?", &password},
                           {"timeout?", &timeout}});
  else
    unpacked =
        vm::unpack(t, fn, a, {{"user?", &user}, {"password?", &password}, {"timeout?", &timeout}});
  if (!unpacked) return false;
  auto text = [&](const Value& v, const char* fallback) {
    if (v.is(vm::Type::kNone)) return std::string(fallback);
    return v.is(vm::Type::kString) ? vm::str(v) : vm::repr(v);
  };
  std::vector<std::string> args;
  if (m == "ping") args = {"PING"};
  if (m == "get") args = {"GET", text(key, "")};
  if (m == "del") args = {"DEL", text(key, "")};
  if (m == "incr") args = {"INCR", text(key, "")};
  if (m == "set") args = {"SET", text(key, ""), text(value, "")};
  if (m == "lpush") args = {"LPUSH", text(key, ""), text(value, "")};
  if (m == "rpush") args = {"RPUSH", text(key, ""), text(value, "")};
  if (m == "keys") args = {"KEYS", text(pattern, "*")};
  if (m == "lrange") args = {"LRANGE", text(key, ""), text(start, "0"), text(stop, "-1")};
  if (m == "command") {
    if (!cmd.is(vm::Type::kString) || vm::str(cmd).empty())
      return t.fail(fn + ": cmd must be a command name like \"HSET\"");
    std::string name = vm::str(cmd);
    std::istringstream words(name);
    for (std::string w; words >> w;) args.push_back(w);
    if (cmd_args.is(vm::Type::kList) || cmd_args.is(vm::Type::kTuple)) {
      for (const Value& v : cmd_args.as<vm::List>()->items) args.push_back(text(v, ""));
    } else if (!cmd_args.is(vm::Type::kNone)) {
      std::istringstream more(text(cmd_args, ""));
      for (std::string w; more >> w;) args.push_back(w);
    }
  }
  // Credentials: the step's own, else the service's env.
  std::string user_text = user.is(vm::Type::kNone) ? "" : text(user, "");
  std::string password_text = password.is(vm::Type::kNone) ? "" : text(password, "");
  if (Session* session = Session::of(t))
    if (const ServiceDecl* decl = session->find(ref.service))
      for (const auto& [k, v] : decl->env) {
        if (k == "REDIS_USER" && user.is(vm::Type::kNone)) user_text = v;
        if (k == "REDIS_PASSWORD" && password.is(vm::Type::kNone)) password_text = v;
      }
  std::chrono::milliseconds limit;
  if (!step_timeout(t, fn, timeout, limit)) return false;
  runtime::EventLog* log = step_log(t);
  int port = step_port(t, ref.service, ref.decl);
  StepTurn turn(t.cancelled);
  record_send(log, ref.service, ref.decl.name, "redis", m, {{"command", args.front()}});
  auto started = Clock::now();
  std::string error = turn.ok() ? "" : "cancelled";
  std::string wire;
  CancelScope scope(&t.cancelled);
  {
    VmUnlocked unlocked;  // other branches run while this one waits on the network
    if (error.empty()) wire = redis_call(port, args, user_text, password_text, limit, error);
  }
  Value reply;
  if (error.empty()) {
    std::size_t used = 0;
    std::string reply_error;
    if (!resp_value(t, wire, used, reply, reply_error))
      error = "not a RESP reply";
    else if (!reply_error.empty())
      error = "redis error: " + reply_error;
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  record_recv(log, ref.service, ref.decl.name, m, ms, error.empty(), 0, error);
  auto* response = new ResponseValue();
  r = Value::adopt(response);
  response->statusless = true;
  response->error = error;
  response->duration_ms = ms;
  response->body = reply.is(vm::Type::kString) ? vm::str(reply) : vm::repr(reply);
  auto* dict = new vm::Dict();
  Value data = Value::adopt(dict);
  vm::dict_set(t, *dict, vm::make_string("value"), reply);
  response->data = data;
  response->headers = Value::adopt(new vm::Dict());
  return true;
}

constexpr std::string_view kRedisMethods[] = {"command", "del",    "get",  "incr",  "keys",
                                              "lpush",   "lrange", "ping", "rpush", "set"};

/// The rows of a result as JSON: a dict per row, values typed by their column's type
/// (integers, floats and booleans as such, NULL as null, everything else as the text
/// the server sent).
nlohmann::json rows_json(const pg::Result& result) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : result.rows) {
    nlohmann::json object = nlohmann::json::object();
    for (std::size_t i = 0; i < row.size() && i < result.columns.size(); ++i) {
      const pg::Column& column = result.columns[i];
      nlohmann::json& cell = object[column.name];
      if (!row[i]) continue;  // stays null
      const std::string& text = *row[i];
      switch (column.type) {
        case 16: cell = text == "t"; break;  // bool
        case 20:                             // int8
        case 21:                             // int2
        case 23:                             // int4
        case 26:                             // oid
          cell = std::strtoll(text.c_str(), nullptr, 10);
          break;
        case 700:    // float4
        case 701: {  // float8
          double d = std::strtod(text.c_str(), nullptr);
          if (std::isfinite(d))
            cell = d;
          else
            cell = text;  // NaN and Infinity have no JSON form
          break;
        }
        default: cell = text;
      }
    }
    rows.push_back(std::move(object));
  }
  return rows;
}

/// query(sql=) and exec(sql=): one statement (or several) on a fresh connection.
/// Credentials come from user=/password=/database=, else the service's env
/// (POSTGRES_USER, default postgres; POSTGRES_PASSWORD; POSTGRES_DB); connstr= gives
/// all of them. query returns .data = [row dicts] of the first result set, exec
/// .data = {"rows_affected": n}; a server error sets .error ("ERROR: ... (SQLSTATE
/// 40P01)"), it does not raise.
bool postgres_step(Thread& t, const Value& self, Args& a, Value& r) {
  const auto* step = self.as<StepSelf>();
  const StepSelf& ref = *step;
  const std::string& m = step->method;
  std::string fn = ref.service + "." + ref.decl.name + "." + m;
  Value sql, user, password, database, connstr, timeout;
  if (!vm::unpack(t, fn, a,
                  {{"sql", &sql},
                   {"user?", &user},
                   {"password?", &password},
                   {"database?", &database},
                   {"connstr?", &connstr},
                   {"timeout?", &timeout}}))
    return false;
  if (!sql.is(vm::Type::kString) || vm::str(sql).empty())
    return t.fail(fn + ": sql must be a non-empty string");
  for (const Value* v : {&user, &password, &database, &connstr, &timeout})
    if (!v->is(vm::Type::kNone) && !v->is(vm::Type::kString))
      return t.fail(fn + ": user, password, database, connstr and timeout are strings, got " +
                    std::string(vm::type_of(*v)));
  pg::Target target;
  target.port = ref.decl.port;
  if (Session* session = Session::of(t))
    if (const ServiceDecl* decl = session->find(ref.service))
      for (const auto& [k, v] : decl->env) {
        if (k == "POSTGRES_USER" && !v.empty()) target.user = v;
        if (k == "POSTGRES_PASSWORD") target.password = v;
        if (k == "POSTGRES_DB") target.database = v;
      }
  if (user.is(vm::Type::kString)) target.user = vm::str(user);
  if (password.is(vm::Type::kString)) target.password = vm::str(password);
  if (database.is(vm::Type::kString)) target.database = vm::str(database);
  if (connstr.is(vm::Type::kString)) {
    std::string why;
    if (!pg::parse_connstr(vm::str(connstr), target, why)) return t.fail(fn + ": " + why);
  }
  // A step to the interface itself goes through the test driver's proxy, so the
  // interface's rules apply to it whichever way its address was written.
  bool local = target.host == "localhost" || target.host == "127.0.0.1" || target.host.empty();
  if (local && target.port == ref.decl.port) {
    target.host = "localhost";
    target.port = step_port(t, ref.service, ref.decl);
  }
  std::chrono::milliseconds limit;
  if (!step_timeout(t, fn, timeout, limit)) return false;
  runtime::EventLog* log = step_log(t);
  StepTurn turn(t.cancelled);
  record_send(log, ref.service, ref.decl.name, "postgres", m);
  auto started = Clock::now();
  pg::Result result;
  if (!turn.ok()) result.error = "cancelled";
  CancelScope scope(&t.cancelled);
  std::string body;
  {
    VmUnlocked unlocked;  // other branches run while this one waits on the network
    if (result.error.empty()) result = pg::run(target, vm::str(sql), limit);
    if (result.error.empty())
      body = m == "query" ? rows_json(result).dump()
                          : nlohmann::json{{"rows_affected", result.rows_affected}}.dump();
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  record_recv(log, ref.service, ref.decl.name, m, ms, result.error.empty(), 0, result.error);
  auto* response = new ResponseValue();
  r = Value::adopt(response);
  response->statusless = true;
  response->error = result.error;
  response->duration_ms = ms;
  response->body = body;
  if (body.empty() || !json_to_value(t, body, response->data)) response->data = Value();
  response->headers = Value::adopt(new vm::Dict());
  return true;
}

constexpr std::string_view kPostgresMethods[] = {"exec", "query"};

}  // namespace

std::string redis_call(int port, const std::vector<std::string>& args, const std::string& user,
                       const std::string& password, std::chrono::milliseconds timeout,
                       std::string& error) {
  auto deadline = Clock::now() + timeout;
  runtime::UniqueFd fd =
      dial("localhost", port, std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(5)),
           error);
  if (!fd) return "";
  std::string wire;
  if (!password.empty()) {
    std::vector<std::string> auth{"AUTH"};
    if (!user.empty()) auth.push_back(user);
    auth.push_back(password);
    redis_exchange(fd.get(), auth, wire, error, deadline);
    if (error.empty() && !wire.empty() && wire[0] == '-')
      error = "auth: " + wire.substr(1, wire.find("\r\n") - 1);
    if (!error.empty()) return "";
  }
  redis_exchange(fd.get(), args, wire, error, deadline);
  return error.empty() ? wire : "";
}

bool json_to_value(Thread& t, const std::string& text, Value& out) {
  if (text.empty() || runtime::json_nesting(text) > runtime::kMaxJsonNesting) return false;
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return false;
  return from_json(t, j, out);
}

bool step_method(const InterfaceRef& ref, const Value&, std::string_view name, Value& out) {
  auto make = [&](vm::NativeFn fn) {
    auto* self = new StepSelf();
    self->service = ref.service;
    self->decl = ref.decl;
    self->method = std::string(name);
    out = Value::adopt(new vm::Builtin(std::string(name), fn, Value::adopt(self)));
    return true;
  };
  if (ref.decl.protocol == "http") {
    for (auto m : kHttpMethods)
      if (name == m) return make(http_step);
  }
  if (ref.decl.protocol == "tcp" && name == "send") return make(tcp_send);
  if (ref.decl.protocol == "redis")
    for (auto m : kRedisMethods)
      if (name == m) return make(redis_step);
  if (ref.decl.protocol == "postgres")
    for (auto m : kPostgresMethods)
      if (name == m) return make(postgres_step);
  return false;
}

std::vector<std::string> step_methods(const InterfaceRef& ref) {
  if (ref.decl.protocol == "http") return {kHttpMethods, kHttpMethods + 5};
  if (ref.decl.protocol == "tcp") return {"send"};
  if (ref.decl.protocol == "redis") return {std::begin(kRedisMethods), std::end(kRedisMethods)};
  if (ref.decl.protocol == "postgres")
    return {std::begin(kPostgresMethods), std::end(kPostgresMethods)};
  return {};
}

}  // namespace fb::stdlib
