#include "tools/cli/test_runner.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "compiler/frontend.h"
#include "compiler/lower.h"
#include "grammar/names.h"
#include "grammar/render.h"
#include "grammar/suggest.h"
#include "runtime/output_dir.h"
#include "runtime/ports.h"
#include "runtime/redact.h"
#include "runtime/supervisor.h"
#include "runtime/syscalls.h"
#include "stdlib/builtins.h"
#include "stdlib/fanout.h"
#include "stdlib/faults.h"
#include "stdlib/net.h"
#include "stdlib/parallel.h"
#include "stdlib/pg_client.h"
#include "stdlib/protocol_faults.h"
#include "stdlib/scenarios.h"
#include "stdlib/steps.h"
#include "stdlib/temporal.h"
#include "stdlib/topology.h"
#include "tools/cli/output_observer.h"
#include "vm/ops.h"

extern char** environ;

namespace fb::cli {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TestRunner::TestRunner(std::string spec_path, std::string log_dir,
                       std::function<void(std::string_view)> print)
    : spec_path_(std::move(spec_path)), log_dir_(std::move(log_dir)), print_(std::move(print)) {
  thread_.memory->limit = vm::kDefaultMemoryLimit;
}

TestRunner::~TestRunner() {
  // Services kept with reuse=True are stopped as gently as the others.
  if (supervisor_) {
    supervisor_->stop_all(2000ms);
    for (const auto& [service, id] : reused_) supervisor_->wait(id);
  }
}

void TestRunner::interrupt() {
  interrupted_ = true;
  thread_.cancelled = true;
}

bool TestRunner::check_fault_keywords(const grammar::SourceMap& sources, grammar::FileId file,
                                      std::string& error) {
  // A keyword of fault() that names neither a syscall nor an op can never work; say so
  // where it is written, before any test starts, rather than when its test runs.
  std::string_view text = sources.file(file).text();
  std::vector<std::string> candidates = runtime::syscall_names(runtime::host_arch());
  for (const auto& f : runtime::family_names()) candidates.push_back(f);
  for (const auto& s : session_.services)
    for (const auto& [op, _] : s.ops) candidates.push_back(op);
  for (const auto& fact : program_->module.facts) {
    if (fact.builtin != "fault" && fact.builtin != "fault_start" && fact.builtin != "fault_all")
      continue;
    for (const auto& arg : fact.args) {
      const std::string& key = arg.keyword;
      if (key.empty() || key == "*" || key == "**" || key == "run" || key == "source" ||
          stdlib::faultable(key))
        continue;
      bool op = std::any_of(session_.services.begin(), session_.services.end(),
                            [&](const stdlib::ServiceDecl& s) { return s.ops.count(key) > 0; });
      if (op) continue;
      // Point at the keyword itself inside the call.
      grammar::Span span{file, fact.span.offset, fact.span.length};
      std::string_view call(text.data() + fact.span.offset, fact.span.length);
      for (std::size_t at = 0; (at = call.find(key, at)) != std::string_view::npos; ++at) {
        bool starts = at == 0 || !(std::isalnum(static_cast<unsigned char>(call[at - 1])) ||
                                   call[at - 1] == '_');
        std::size_t after = call.find_first_not_of(" \t\n", at + key.size());
        if (starts && after != std::string_view::npos && call[after] == '=') {
          span = {file, static_cast<std::uint32_t>(fact.span.offset + at),
                  static_cast<std::uint32_t>(key.size())};
          break;
        }
      }
      auto d = grammar::Diagnostic::make(
          grammar::Code::SPEC_UNKNOWN_KEYWORD, span,
          fact.builtin + ": \"" + key + "\" is neither a syscall nor an op of any service");
      if (auto near = grammar::closest_match(key, candidates))
        d.suggest("did you mean \"" + *near + "\"?");
      error += grammar::render_text(sources, d);
      load_diagnostics_.push_back(std::move(d));
    }
  }
  return error.empty();
}

bool TestRunner::load(std::string& error, const Pins& top_pins) {
  grammar::SourceMap sources;
  std::string why;
  auto id = sources.load(spec_path_, why);
  if (!id) {
    error = "cannot read '" + spec_path_ + "': " + why;
    return false;
  }
  grammar::DiagnosticList diagnostics;
  auto module = compiler::analyze(sources.file(*id), diagnostics);
  if (diagnostics.has_errors()) {
    diagnostics.sort_by_location();
    for (const auto& d : diagnostics.items())
      if (d.level == grammar::Level::kError) error += grammar::render_text(sources, d);
    return false;
  }
  ir::Module code = compiler::lower(*module, sources.file(*id));
  if (auto problems = ir::verify(code); !problems.empty()) {
    error = "internal error: invalid bytecode: " + problems.front();
    return false;
  }
  program_ = vm::load_program(std::move(code));
  thread_.predeclared = stdlib::lookup;
  thread_.print = print_;
  session_.attach(thread_);
  loader_ = std::make_unique<ModuleLoader>(spec_path_);
  loader_->attach(thread_);
  top_.pins = top_pins;
  session_.top = &top_;
  thread_.memory->reset();
  bool ran = loader_->run(thread_, spec_path_, program_);
  session_.top = nullptr;
  if (!ran) {
    error = vm::format_error(thread_);
    return false;
  }
  trapped_ = stdlib::trap_sets(program_->module.facts, session_.services,
                               [this](std::string_view name) { return service_named(name); });
  if (!check_fault_keywords(sources, *id, error)) return false;
  auto order = session_.start_order(error);
  if (!order) return false;
  order_ = std::move(*order);
  const auto& names = program_->module.globals;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const vm::Value& value = program_->globals[i];
    if (!names[i].starts_with("test_") || !program_->assigned[i] || !value.is(vm::Type::kFunction))
      continue;
    // A `def test_*` is an identifier; only its length can make it unusable as a folder.
    if (std::string bad = grammar::check_name(grammar::NameKind::kTest, names[i]); !bad.empty()) {
      error = names[i].substr(0, 40) + "...: " + bad + "\n";
      return false;
    }
    tests_.push_back(names[i]);
  }
  // test() registrations join them; a name defined both ways runs once (the def).
  for (const auto& decl : session_.registered)
    if (std::find(tests_.begin(), tests_.end(), decl.name) == tests_.end())
      tests_.push_back(decl.name);
  std::sort(tests_.begin(), tests_.end());
  return true;
}

namespace {

/// `value` with every "localhost:<from>" and "127.0.0.1:<from>" (not followed by
/// another digit) naming "127.0.0.1:<to>" instead: a service's own settings that point
/// at another service go through its proxy.
std::string rewire(std::string value, int from, int to) {
  std::string port = std::to_string(from);
  for (std::string host : {"localhost:", "127.0.0.1:"}) {
    std::string needle = host + port;
    for (std::size_t at = value.find(needle); at != std::string::npos;
         at = value.find(needle, at)) {
      std::size_t end = at + needle.size();
      if (end < value.size() && std::isdigit(static_cast<unsigned char>(value[end]))) {
        at = end;
        continue;
      }
      std::string replacement = "127.0.0.1:" + std::to_string(to);
      value.replace(at, needle.size(), replacement);
      at += replacement.size();
    }
  }
  return value;
}

/// The last lines of a log file, for a report.
std::string tail(const std::string& path, std::size_t lines = 20) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += "    " + all[i] + "\n";
  return out;
}

bool port_free(int port) {
  runtime::UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_ANY);
  return ::bind(s.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
}

/// "" once `port` is free; otherwise who holds it. A port one of faultbox's own
/// processes holds (the previous test's service, still exiting) is waited for, up to
/// 10 s; one another program holds is reported at once.
std::string port_holder(int port) {
  auto deadline = Clock::now() + 10s;
  for (;;) {
    if (port_free(port)) return "";
    auto owners = runtime::socket_owners(runtime::listening_sockets(port));
    auto ours = runtime::process_tree(::getpid());
    bool foreign =
        !owners.empty() && std::none_of(owners.begin(), owners.end(), [&](const auto& o) {
          return std::find(ours.begin(), ours.end(), o.pid) != ours.end();
        });
    if (foreign || Clock::now() >= deadline) return runtime::describe_owners(owners);
    std::this_thread::sleep_for(100ms);
  }
}

/// One attempt of a healthcheck: true when the service answers.
/// One ready() attempt: the service's first interface asked in its protocol.
bool ready(const stdlib::ServiceDecl& service) {
  const stdlib::InterfaceDecl& iface = service.interfaces.front();
  std::string error;
  if (iface.protocol == "http") {
    auto response = stdlib::http_request(
        "GET", "http://localhost:" + std::to_string(iface.port) + "/", "", {}, 2s);
    return response.status >= 200 && response.status < 400;
  }
  if (iface.protocol == "postgres") {
    // SELECT 1 as the service's own user: it answers only once it takes queries.
    stdlib::pg::Target target;
    target.port = iface.port;
    for (const auto& [k, v] : service.env) {
      if (k == "POSTGRES_USER" && !v.empty()) target.user = v;
      if (k == "POSTGRES_PASSWORD") target.password = v;
      if (k == "POSTGRES_DB") target.database = v;
    }
    return stdlib::pg::run(target, "SELECT 1", 2s).error.empty();
  }
  if (iface.protocol != "redis")
    return static_cast<bool>(stdlib::dial("localhost", iface.port, 2s, error));
  // PING with the service's own credentials: "+PONG" means it serves.
  std::string user, password;
  for (const auto& [k, v] : service.env) {
    if (k == "REDIS_USER") user = v;
    if (k == "REDIS_PASSWORD") password = v;
  }
  return stdlib::redis_call(iface.port, {"PING"}, user, password, 2s, error) == "+PONG\r\n";
}

bool healthy(const stdlib::ServiceDecl& service) {
  const stdlib::Healthcheck& check = service.healthcheck;
  std::string error;
  if (check.kind == stdlib::Healthcheck::Kind::kReady) return ready(service);
  if (check.kind == stdlib::Healthcheck::Kind::kTcp) {
    std::string host;
    int port = 0;
    if (!stdlib::split_host_port(check.target, host, port)) return false;
    return static_cast<bool>(stdlib::dial(host, port, 2s, error));
  }
  auto response = stdlib::http_request("GET", check.target, "", {}, 2s);
  return response.status >= 200 && response.status < 400;
}

/// The local port a service's healthcheck reaches, or 0 when it checks another host.
int checked_port(const stdlib::ServiceDecl& service) {
  const stdlib::Healthcheck& check = service.healthcheck;
  if (check.kind == stdlib::Healthcheck::Kind::kReady) return service.interfaces.front().port;
  std::string target = check.target;
  if (auto scheme = target.find("://"); scheme != std::string::npos) target.erase(0, scheme + 3);
  target = target.substr(0, target.find('/'));
  std::string host;
  int port = 0;
  if (check.kind == stdlib::Healthcheck::Kind::kHttp && target.find(':') == std::string::npos)
    target += check.target.starts_with("https:") ? ":443" : ":80";
  if (!stdlib::split_host_port(target, host, port)) return 0;
  bool local = host == "localhost" || host == "::1" || host == "[::1]" || host.starts_with("127.");
  return local ? port : 0;
}

/// "" when every listener on the ports the service declares and its healthcheck reaches
/// belongs to the service's own processes; otherwise why not, naming the stranger.
std::string foreign_listener(const stdlib::ServiceDecl& service, pid_t root) {
  std::vector<int> ports;
  for (const auto& iface : service.interfaces) ports.push_back(iface.port);
  if (int port = checked_port(service)) ports.push_back(port);
  std::vector<pid_t> tree;  // found only if the root process itself is not the listener
  for (int port : ports) {
    auto inodes = runtime::listening_sockets(port);
    if (inodes.empty()) continue;
    std::vector<unsigned long> others;
    for (auto inode : inodes) {
      if (runtime::holds_any({root}, {inode})) continue;
      if (tree.empty()) tree = runtime::process_tree(root);
      if (!runtime::holds_any(tree, {inode})) others.push_back(inode);
    }
    if (others.empty()) continue;
    return "port " + std::to_string(port) + " of service \"" + service.name + "\" is held by " +
           runtime::describe_owners(runtime::socket_owners(others)) + ", not by the service (pid " +
           std::to_string(root) + "): its healthcheck may have reached that program instead";
  }
  return "";
}

/// The test's fault rules with the supervisor's counters, identical ones summed.
std::vector<FaultHits> fault_hits(const stdlib::Session::Run& state,
                                  const runtime::Supervisor& supervisor,
                                  const proxy::Manager& proxies) {
  using Action = runtime::FaultRule::Action;
  std::vector<FaultHits> out;
  auto add = [&](FaultHits h) {
    // Identical rules installed again (a loop) are counted as one.
    auto same = std::find_if(out.begin(), out.end(), [&](const FaultHits& o) {
      return o.service == h.service && o.interface == h.interface && o.rule == h.rule;
    });
    if (same == out.end()) {
      out.push_back(std::move(h));
    } else {
      same->matches += h.matches;
      same->hits += h.hits;
    }
  };
  for (const auto& installed : state.installed) {
    auto counters = supervisor.hits(installed.set);
    for (std::size_t i = 0; i < installed.rules.size(); ++i) {
      const runtime::FaultRule& rule = installed.rules[i];
      FaultHits h;
      h.service = installed.service;
      h.rule = rule.source;
      h.syscall = rule.action == Action::kTrace ? rule.source.substr(6, rule.source.size() - 7)
                                                : rule.source.substr(0, rule.source.find('='));
      h.action = rule.action == Action::kDeny    ? "deny"
                 : rule.action == Action::kDelay ? "delay"
                 : rule.action == Action::kAllow ? "allow"
                 : rule.action == Action::kTrace ? "trace"
                                                 : "hold";
      if (rule.action == Action::kDeny)
        if (const auto* e = runtime::errno_info(rule.error)) h.error = std::string(e->name);
      h.label = rule.label;
      h.op = rule.op;
      h.path = rule.path_glob;
      h.syscalls = rule.syscalls;
      if (i < counters.size()) {
        h.matches = counters[i].matches;
        h.hits = counters[i].fires;
      }
      if (!rule.pinned.empty()) {
        h.pinned = "[";
        for (std::size_t b = 0; b < rule.pinned.size(); ++b)
          h.pinned += std::string(b ? "," : "") + (rule.pinned[b] ? "1" : "0");
        h.pinned += "]";
      }
      add(std::move(h));
    }
  }
  for (const auto& installed : state.proxy_installed) {
    auto counters = proxies.hits(installed.set);
    for (std::size_t i = 0; i < installed.rules.size(); ++i) {
      FaultHits h;
      h.service = installed.service;
      h.interface = installed.interface;
      h.rule = installed.rules[i].text;
      h.action = proxy::action_name(installed.rules[i].action);
      h.label = installed.rules[i].label;
      h.path = installed.rules[i].path;
      if (i < counters.size()) {
        h.matches = counters[i].matches;
        h.hits = counters[i].fires;
      }
      add(std::move(h));
    }
  }
  return out;
}

std::string describe(const stdlib::ServiceDecl& service) {
  const stdlib::Healthcheck& check = service.healthcheck;
  if (check.kind == stdlib::Healthcheck::Kind::kReady) {
    const auto& iface = service.interfaces.front();
    std::string how = iface.protocol == "http"    ? "GET /"
                      : iface.protocol == "redis" ? "PING"
                                                  : "a TCP connect";
    return "ready() (" + how + " on " + service.name + "." + iface.name + ")";
  }
  return (check.kind == stdlib::Healthcheck::Kind::kTcp ? "TCP healthcheck \""
                                                        : "HTTP healthcheck \"") +
         runtime::redact(check.target) + "\"";
}

}  // namespace

const vm::Value* TestRunner::global(std::string_view name) const {
  const auto& names = program_->module.globals;
  auto at = std::find(names.begin(), names.end(), name);
  if (at == names.end()) return nullptr;
  auto i = static_cast<std::size_t>(at - names.begin());
  return program_->assigned[i] ? &program_->globals[i] : nullptr;
}

std::string TestRunner::service_named(std::string_view name) const {
  const vm::Value* v = global(name);
  if (!v || !v->is(vm::Type::kHost) || vm::type_of(*v) != "service") return "";
  return v->as<stdlib::ServiceValue>()->name;
}

namespace {

/// The services a fault assumption faults, and its exhaustive probability sites, named
/// as installing them names their axes (faults.cc).
plan::AssumptionFacts assumption_facts(const stdlib::AssumptionValue& assumption) {
  plan::AssumptionFacts facts;
  for (const auto& group : assumption.proxy_groups) facts.faulted.insert(group.service);
  for (const auto& group : assumption.groups) {
    facts.faulted.insert(group.service);
    for (const auto& rule : group.rules) {
      if (std::find(rule.syscalls.begin(), rule.syscalls.end(), "connect") != rule.syscalls.end())
        facts.connect_faulted.insert(group.service);
      if (!rule.exhaustive || rule.max_fires == 0 || rule.max_fires > 62) continue;
      plan::Axis axis;
      axis.kind = plan::Axis::Kind::kProbability;
      std::string key = rule.op.empty() ? rule.source.substr(0, rule.source.find('=')) : rule.op;
      axis.name = rule.label.empty() ? group.service + ":" + key : rule.label;
      axis.cardinality = std::uint64_t{1} << rule.max_fires;
      axis.options = "2^" + std::to_string(rule.max_fires) +
                     " (max_fires=" + std::to_string(rule.max_fires) + ")";
      axis.site = "fault_assumption \"" + assumption.name + "\"";
      if (std::none_of(facts.axes.begin(), facts.axes.end(),
                       [&](const plan::Axis& a) { return a.name == axis.name; }))
        facts.axes.push_back(std::move(axis));
    }
  }
  return facts;
}

}  // namespace

plan::Plan TestRunner::plan() const {
  plan::Globals globals;
  globals.function = [&](std::string_view name) -> std::optional<std::uint32_t> {
    const vm::Value* v = global(name);
    // A function of a load()ed module indexes that module's code, not this one's.
    if (!v || !v->is(vm::Type::kFunction) || v->as<vm::Function>()->program != program_.get())
      return std::nullopt;
    return v->as<vm::Function>()->index;
  };
  globals.list_length = [&](std::string_view name) -> std::optional<std::uint64_t> {
    const vm::Value* v = global(name);
    if (!v || !v->is(vm::Type::kList)) return std::nullopt;
    return v->as<vm::List>()->items.size();
  };
  globals.service = [this](std::string_view name) { return service_named(name); };
  globals.assumption = [&](std::string_view name) -> std::optional<plan::AssumptionFacts> {
    const vm::Value* v = global(name);
    if (!v || !v->is(vm::Type::kHost) || vm::type_of(*v) != "fault_assumption") return std::nullopt;
    return assumption_facts(*v->as<stdlib::AssumptionValue>());
  };
  std::vector<plan::TestEntry> entries;
  for (const auto& name : tests_) {
    plan::TestEntry entry;
    entry.name = name;
    const vm::Value* v = global(name);
    entry.function = UINT32_MAX;  // unknown until found below
    if (v && v->is(vm::Type::kFunction)) {
      entry.kind = "def";
      if (auto index = globals.function(name)) entry.function = *index;
    } else {
      for (const auto& decl : session_.registered) {
        if (decl.name != name) continue;
        entry.kind = decl.kind;
        if (decl.body.is(vm::Type::kFunction) &&
            decl.body.as<vm::Function>()->program == program_.get())
          entry.function = decl.body.as<vm::Function>()->index;
        for (const auto& f : decl.faults) {
          auto facts = assumption_facts(*f.as<stdlib::AssumptionValue>());
          entry.faulted.insert(facts.faulted.begin(), facts.faulted.end());
          entry.connect_faulted.insert(facts.connect_faulted.begin(), facts.connect_faulted.end());
          for (auto& axis : facts.axes)
            if (std::none_of(entry.axes.begin(), entry.axes.end(),
                             [&](const plan::Axis& a) { return a.name == axis.name; }))
              entry.axes.push_back(std::move(axis));
        }
        if (!decl.faults.empty()) {
          std::string faults;
          for (const auto& f : decl.faults)
            faults += (faults.empty() ? "" : ", ") + f.as<stdlib::AssumptionValue>()->name;
          entry.details.emplace_back("faults", "[" + faults + "]");
        }
        if (!decl.expect.is(vm::Type::kNone))
          entry.details.emplace_back("expect", stdlib::expectation_name(decl.expect));
        if (decl.kind != "test_builtin" && decl.kind != "scenario")
          entry.details.emplace_back("timeout", runtime::format_duration(decl.timeout));
      }
    }
    entries.push_back(std::move(entry));
  }
  plan::Plan result = plan::make_plan(program_->module, entries, globals);
  // The top level really ran: its axes are known exactly, options and all.
  std::vector<plan::Axis> top;
  for (const auto& axis : top_.axes) {
    plan::Axis a;
    a.kind = plan::Axis::Kind::kChoose;
    a.name = axis.name;
    a.cardinality = axis.cardinality;
    std::string options;
    for (const auto& o : axis.options) options += (options.empty() ? "" : ", ") + o;
    a.options = "[" + options + "]";
    a.site = axis.site;
    a.top_level = true;
    top.push_back(std::move(a));
  }
  plan::prepend_axes(result, top);
  for (const auto& s : session_.services) result.services.push_back(s.name);
  return result;
}

TestRunner::Topology TestRunner::topology() const {
  Topology edges;
  for (const auto& s : session_.services) {
    for (const auto& d : s.depends_on) edges.depends_on.emplace_back(s.name, d);
    // An env value that names another service's port ("localhost:5432", ":5432") is a
    // dependency too.
    for (const auto& [key, value] : s.env)
      for (const auto& other : session_.services) {
        if (other.name == s.name) continue;
        for (const auto& iface : other.interfaces) {
          std::string port = ":" + std::to_string(iface.port);
          auto at = value.find(port);
          bool whole = at != std::string::npos &&
                       (at + port.size() == value.size() ||
                        !std::isdigit(static_cast<unsigned char>(value[at + port.size()])));
          if (whole) edges.env.emplace_back(s.name, other.name);
        }
      }
  }
  return edges;
}

std::string TestRunner::matrix_scenario(const std::string& name) const {
  for (const auto& d : session_.registered)
    if (d.name == name && d.kind == "fault_matrix") return d.cell_scenario;
  return "";
}

bool TestRunner::has_assumptions(const std::string& name) const {
  return std::any_of(
      session_.registered.begin(), session_.registered.end(),
      [&](const stdlib::TestDecl& d) { return d.name == name && !d.assume.empty(); });
}

TestOutcome TestRunner::run(const std::string& name, std::uint64_t seed,
                            const std::vector<stdlib::Axis>& axes, const Pins& pins,
                            bool discovery) {
  TestOutcome outcome;
  outcome.name = name;
  outcome.seed = seed;
  auto started = Clock::now();
  // One log and one supervisor serve every test of the run: the log is cleared for
  // each test, and services declared with reuse=True stay up between tests.
  if (!supervisor_) {
    log_ = std::make_unique<runtime::EventLog>();
    supervisor_ = std::make_unique<runtime::Supervisor>(*log_, seed);
    proxies_ = std::make_unique<proxy::Manager>(*log_, seed);
  }
  runtime::EventLog& log = *log_;
  runtime::Supervisor& supervisor = *supervisor_;
  log.clear();
  std::vector<std::unique_ptr<OutputObserver>> observers;  // the services' observed output
  supervisor.set_seed(seed);
  proxies_->set_seed(seed);
  // The test's log folder, inside the run's: named from the test's encoded name and
  // never removed (a run's folder is new; a --logs folder's files are overwritten).
  std::string dir_error;
  std::optional<std::string> made_dir = runtime::private_subdir(log_dir_, name, dir_error);
  std::string dir = made_dir.value_or(log_dir_ + "/" + runtime::path_component(name));
  {
    stdlib::Session::Run state;
    state.pins = pins;
    // The spec was loaded with the top level's options: the body sees the same ones.
    // (a top-level axis it was not pinned for took its first option).
    for (const auto& axis : top_.axes) {
      auto pin = top_.pins.find(axis.name);
      state.pins[axis.name] = pin == top_.pins.end() ? 0 : pin->second;
    }
    // The leaf's named choices are known before the body makes them: assume=
    // predicates see them, and the report lists them in axis order.
    // The top level's choices come first; the load already took their options.
    std::vector<stdlib::Axis> known = top_.axes;
    for (const auto& axis : axes)
      if (std::none_of(known.begin(), known.end(),
                       [&](const stdlib::Axis& a) { return a.name == axis.name; }))
        known.push_back(axis);
    for (const auto& axis : known) {
      if (axis.kind != stdlib::Axis::Kind::kChoose) continue;
      auto pin = state.pins.find(axis.name);
      std::size_t digit = pin == state.pins.end() ? 0 : static_cast<std::size_t>(pin->second);
      if (digit >= axis.values.size()) continue;
      state.chosen.emplace_back(axis.name, axis.values[digit]);
      state.choices.emplace_back(axis.name, axis.options[digit]);
    }
    state.log = &log;
    state.supervisor = &supervisor;
    state.proxies = proxies_.get();
    session_.run = &state;
    // A `def test_*` global, or a test() registration with its setup, assumptions,
    // timeout, monitors and temporal properties.
    const stdlib::TestDecl* registered = nullptr;
    vm::Value fn;
    if (const vm::Value* v = global(name)) fn = *v;
    for (const auto& decl : session_.registered)
      if (fn.is(vm::Type::kNone) && decl.name == name) registered = &decl, fn = decl.body;
    // Monitors judge every event of the test from the first one on: the spec-wide ones
    // (those no monitors= list claimed), its fault assumptions' and its own.
    stdlib::Temporal temporal(log, thread_);
    state.temporal = &temporal;
    {
      stdlib::VmLocked vm_lock;
      for (const auto& m : session_.monitors)
        if (!m.as<stdlib::MonitorValue>()->claimed) temporal.add_monitor(m);
      if (registered) {
        for (const auto& f : registered->faults)
          for (const auto& m : f.as<stdlib::AssumptionValue>()->monitors) temporal.add_monitor(m);
        for (const auto& m : registered->monitors) temporal.add_monitor(m);
        for (const auto& p : registered->properties)
          temporal.add_property(p, stdlib::Temporal::Role::kExpect);
        if (!registered->terminate_when.is(vm::Type::kNone))
          temporal.add_property(registered->terminate_when, stdlib::Temporal::Role::kTerminate);
      }
    }
    temporal.start();
    auto error_out = [&](std::string code, std::string reason) {
      outcome.verdict = TestOutcome::Verdict::kError;
      outcome.code = std::move(code);
      outcome.reason = std::move(reason);
    };
    // The proxies: one listener per caller and interface, the test's own first.
    auto proxy_port = [&](const std::string& caller, const stdlib::ServiceDecl& to,
                          const stdlib::InterfaceDecl& iface) -> std::optional<int> {
      std::string why;
      auto port = proxies_->listen(caller,
                                   {to.name, iface.name, iface.protocol, "127.0.0.1",
                                    static_cast<std::uint16_t>(iface.port), iface.idle_timeout},
                                   why);
      if (!port) error_out("PROXY_FAILED", why);
      return port;
    };
    bool up = true;
    if (!made_dir) {
      error_out("LOGS_UNWRITABLE", "the test's log folder: " + dir_error);
      up = false;
    }
    for (const stdlib::ServiceDecl* service : order_)
      for (const auto& iface : service->interfaces)
        if (auto port = proxy_port("test", *service, iface))
          state.step_ports[service->name + "." + iface.name] = *port;
        else
          up = false;
    // Start every service, dependencies first.
    std::vector<std::string> base_env;
    for (char** e = environ; e && *e; ++e) base_env.emplace_back(*e);
    for (const stdlib::ServiceDecl* service : order_) {
      if (!up) break;
      if (auto kept = reused_.find(service->name); kept != reused_.end()) {
        if (!supervisor.wait_for(kept->second, 0ms)) {
          state.targets[service->name] = kept->second;
          log.append("service_reused", service->name, {});
          continue;
        }
        reused_.erase(kept);  // it exited since: start it afresh
      }
      for (const auto& iface : service->interfaces) {
        std::string why;
        std::string where =
            "port " + std::to_string(iface.port) + " of " + service->name + "." + iface.name;
        if (claims_ && !claims_->claim(iface.port, claimant_, why)) {
          error_out("PORT_IN_USE", where + ": " + why);
          up = false;
          break;
        }
        if (std::string holder = port_holder(iface.port); !holder.empty()) {
          error_out("PORT_IN_USE", where + " is in use by " + holder);
          up = false;
          break;
        }
      }
      if (!up) break;
      runtime::LaunchSpec spec;
      spec.binary = service->binary;
      spec.args = service->args;
      // The service reaches every other service through its own proxies: the wiring
      // variables name them, and so do addresses of their ports in its declared env.
      std::vector<std::pair<std::string, std::string>> settings;
      std::vector<std::pair<int, int>> rewired;  // declared port -> proxy port
      for (const auto& other : session_.services) {
        for (const auto& iface : other.interfaces) {
          std::string prefix =
              "FAULTBOX_" + stdlib::env_name(other.name) + "_" + stdlib::env_name(iface.name) + "_";
          int port = iface.port;
          std::string host = "localhost";
          if (other.name != service->name) {
            auto proxied = proxy_port(service->name, other, iface);
            if (!proxied) break;
            port = *proxied;
            host = "127.0.0.1";
            rewired.emplace_back(iface.port, port);
          }
          settings.emplace_back(prefix + "HOST", host);
          settings.emplace_back(prefix + "PORT", std::to_string(port));
          settings.emplace_back(prefix + "ADDR", host + ":" + std::to_string(port));
        }
      }
      if (outcome.verdict == TestOutcome::Verdict::kError) {
        up = false;
        break;
      }
      for (auto [key, value] : service->env) {
        for (auto [from, to] : rewired) value = rewire(value, from, to);
        settings.emplace_back(key, value);
      }
      spec.env = base_env;
      for (const auto& [key, value] : settings) {
        std::string prefix = key + "=";
        std::erase_if(spec.env, [&](const std::string& kv) { return kv.starts_with(prefix); });
        spec.env.push_back(prefix + value);
      }
      if (service->seccomp) {
        const auto& numbers = trapped_[service->name];
        spec.trapped.assign(numbers.begin(), numbers.end());
      }
      // A reused service outlives this test: its output goes next to the tests' logs.
      std::string out_dir = service->reuse ? log_dir_ : dir;
      std::string file = out_dir + "/" + runtime::path_component(service->name);
      spec.stdout_path = file + ".stdout";
      spec.stderr_path = file + ".stderr";
      std::string error;
      // Observed streams go through a pipe; their observer keeps the same log file.
      std::vector<OutputObserver*> opened;
      for (const auto& o : service->observe) {
        bool out = o.stream == "stdout";
        auto observer = OutputObserver::open(log, service->name, o.stream, o.decoder,
                                             out ? spec.stdout_path : spec.stderr_path, error);
        if (!observer) break;
        (out ? spec.stdout_fd : spec.stderr_fd) = observer->write_fd();
        opened.push_back(observer.get());
        observers.push_back(std::move(observer));
      }
      if (!error.empty()) {
        error_out("SERVICE_START_FAILED", "service \"" + service->name + "\": " + error);
        up = false;
        break;
      }
      auto id = supervisor.launch(service->name, spec, {}, error);
      for (OutputObserver* observer : opened) observer->start();
      if (!id) {
        error_out("SERVICE_START_FAILED", "service \"" + service->name + "\": " + error);
        up = false;
        break;
      }
      state.targets[service->name] = *id;
      if (service->reuse) reused_[service->name] = *id;
      if (service->healthcheck.kind == stdlib::Healthcheck::Kind::kNone) continue;
      auto deadline = Clock::now() + service->healthcheck.timeout;
      bool ready = false;
      // Poll soon, then less often: most services are ready within milliseconds, and a
      // fixed 100 ms interval would be most of a test's overhead.
      auto pause = std::chrono::milliseconds(2);
      for (;;) {
        if (auto status = supervisor.wait_for(*id, 0ms)) {
          error_out("SERVICE_EXITED",
                    "service \"" + service->name + "\" exited before becoming ready (exit code " +
                        std::to_string(status->exit_code) + ")\n" + tail(spec.stderr_path));
          break;
        }
        if (healthy(*service)) {
          // What answered must be the service itself, not a program (another run's
          // service, say) that held the port when it failed to bind.
          std::string stranger = foreign_listener(*service, supervisor.pid(*id));
          if (!stranger.empty()) error_out("PORT_IN_USE", stranger + "\n" + tail(spec.stderr_path));
          ready = stranger.empty();
          break;
        }
        if (interrupted_) {
          error_out("INTERRUPTED", "faultbox was interrupted while service \"" + service->name +
                                       "\" was starting");
          break;
        }
        if (Clock::now() >= deadline) {
          error_out("HEALTHCHECK_TIMEOUT",
                    "service \"" + service->name + "\" not ready: " + describe(*service) +
                        " timed out after " +
                        runtime::format_duration(service->healthcheck.timeout) + "\n" +
                        tail(spec.stderr_path));
          break;
        }
        std::this_thread::sleep_for(pause);
        pause = std::min<std::chrono::milliseconds>(pause * 2, 100ms);
      }
      if (!ready) {
        up = false;
        break;
      }
      log.append("service_ready", service->name, {});
    }
    if (up) {
      // Starlark runs here under the VM lock, which the body gives up while it waits;
      // the monitors judge events then.
      stdlib::VmLocked vm_lock;
      auto limit = registered ? registered->timeout : timeout;
      vm::Args args;
      vm::Value result;
      thread_.clear_error();
      thread_.steps = 0;
      thread_.memory->reset();  // each test body has the whole budget
      // A body that runs too long is cancelled from a timer thread: the VM checks the
      // flag as it steps (a step client waits at most its own timeout first).
      std::mutex mutex;
      std::condition_variable done_changed;
      bool done = false, timed_out = false;
      std::thread timer;
      if (limit.count() > 0) {
        state.deadline = Clock::now() + limit;
        timer = std::thread([&] {
          std::unique_lock lock(mutex);
          if (!done_changed.wait_for(lock, limit, [&] { return done; })) {
            timed_out = true;
            thread_.cancelled = true;
          }
        });
      }
      bool go = !interrupted_;
      if (go && registered && !registered->setup.is(vm::Type::kNone) &&
          !vm::call(thread_, registered->setup, args, result)) {
        outcome.verdict = TestOutcome::Verdict::kFail;
        outcome.reason = "setup failed: " + vm::format_error(thread_);
        thread_.clear_error();
        go = false;
      }
      for (std::size_t i = 0; go && registered && !discovery && i < registered->assume.size();
           ++i) {
        bool holds = false;
        if (!stdlib::evaluate_assumption(thread_, registered->assume[i], &state, holds)) {
          error_out("ASSUME_FAILED", "assume[" + std::to_string(i) +
                                         "] could not be evaluated: " + vm::format_error(thread_));
          thread_.clear_error();
          go = false;
        } else if (!holds) {
          outcome.verdict = TestOutcome::Verdict::kHalted;
          outcome.reason = "assume[" + std::to_string(i) + "] does not hold for this leaf";
          go = false;
        }
      }
      // fault_scenario and matrix cells: the scenario runs under its faults, and its
      // result is judged after them.
      bool judged = registered && !registered->faults.empty();
      judged |= registered && !registered->expect.is(vm::Type::kNone);
      std::vector<runtime::RuleSetId> scenario_sets;
      if (go && judged &&
          !stdlib::apply_assumptions(thread_, registered->kind, registered->faults,
                                     scenario_sets)) {
        outcome.verdict = TestOutcome::Verdict::kFail;
        outcome.reason = "the faults could not be applied: " + vm::format_error(thread_);
        thread_.clear_error();
        go = false;
      }
      bool returned = false;
      if (go) {
        temporal.anchor("body_start");
        returned = vm::call(thread_, fn, args, result);
        // A violation or terminate_when= cancels the body: that is not its failure.
        bool stopped = !returned && (temporal.failed() || temporal.terminated());
        if (!returned && !stopped) {
          if (state.halted) {
            outcome.verdict = TestOutcome::Verdict::kHalted;
            outcome.reason = state.halt_reason;
          } else if (thread_.limit_exceeded() && !thread_.cancelled.load()) {
            // The body ran out of memory, steps or stack: that establishes nothing
            // about the services, so the test is an error, not a failure.
            error_out("SPEC_LIMIT_EXCEEDED", vm::format_error(thread_));
          } else {
            outcome.verdict = TestOutcome::Verdict::kFail;
            outcome.reason = vm::format_error(thread_);
          }
        }
        thread_.clear_error();
        if (returned || stopped) temporal.anchor("body_end");
        // The body returning is not the end while an expected eventually() has not held:
        // the test goes on until it holds, terminate_when= holds, a check fails or the
        // timeout (then it is inconclusive).
        stdlib::VmUnlocked unlocked;
        temporal.catch_up();
        while (returned && !temporal.satisfied() && !temporal.failed() && !temporal.terminated() &&
               !thread_.cancelled.load())
          temporal.wait_for_change(50ms);
        // What the services printed by now is judged too, not only what was read.
        for (const auto& observer : observers) observer->drain();
        temporal.catch_up();
      }
      {
        std::lock_guard lock(mutex);
        done = true;
      }
      done_changed.notify_all();
      if (timer.joinable()) timer.join();
      {
        stdlib::VmUnlocked unlocked;  // the engine may be waiting for the lock to finish
        temporal.stop();
      }
      state.temporal = nullptr;
      std::string pending;  // properties a timeout left undecided
      {
        using Cause = stdlib::Temporal::Cause;
        Cause cause = temporal.failed()                                ? Cause::kFailed
                      : temporal.terminated()                          ? Cause::kTerminated
                      : timed_out                                      ? Cause::kTimeout
                      : outcome.verdict == TestOutcome::Verdict::kPass ? Cause::kNatural
                                                                       : Cause::kFailed;
        auto properties = temporal.verdict(cause);
        state.assertions +=
            static_cast<int>(std::min<std::uint64_t>(temporal.judgements(), 1 << 20));
        for (const auto& what : properties.vacuous)
          log.append("vacuous_property", "",
                     {{"property", what}, {"why", std::string("its window never opened")}});
        if (properties.failed) {
          // Monitors and always() fail the test whatever else ended it.
          if (outcome.verdict == TestOutcome::Verdict::kFail)
            outcome.reason += "\n" + properties.reason;
          else
            outcome.reason = properties.reason;
          outcome.verdict = TestOutcome::Verdict::kFail;
          outcome.code = "PROPERTY_VIOLATED";
          if (auto at = temporal.failure_event()) outcome.violation = *at;
          timed_out = false;
        } else if (properties.pending) {
          pending = properties.reason;
        }
      }
      if (judged) {
        if (!interrupted_) thread_.cancelled = false;
        stdlib::remove_sets(thread_, scenario_sets);
        outcome.expectation = stdlib::expectation_name(registered->expect);
      }
      if (registered && registered->matrix >= 0) {
        outcome.matrix = registered->matrix;
        outcome.cell_scenario = registered->cell_scenario;
        outcome.cell_fault = registered->cell_fault;
      }
      // A scenario that returned, or that was stopped by its timeout (a hang, which
      // expect_hang() wants), is judged by its expectation.
      // A monitor or property that failed has the last word.
      bool violated = outcome.code == "PROPERTY_VIOLATED";
      if (judged && go && !interrupted_ && !violated && !registered->expect.is(vm::Type::kNone) &&
          (returned || timed_out)) {
        std::string why;
        // Stopped by its timeout: whatever the body still returned (a step that saw the
        // cancellation) is not the scenario's answer.
        if (!returned || timed_out) result = vm::Value();
        if (stdlib::judge(thread_, registered->expect, result, why)) {
          if (timed_out) outcome.verdict = TestOutcome::Verdict::kPass, outcome.reason.clear();
          timed_out = false;  // the hang was the expected outcome
        } else {
          outcome.verdict = TestOutcome::Verdict::kFail;
          outcome.expectation_violated = true;
          outcome.reason =
              "expectation violated: " + (why.empty() ? vm::format_error(thread_) : why);
          thread_.clear_error();
          timed_out = false;
        }
      }
      if (judged && registered->require_faults_fire &&
          outcome.verdict == TestOutcome::Verdict::kPass) {
        for (auto set : scenario_sets)
          for (const auto& h : set& stdlib::kProxySet ? proxies_->hits(set & ~stdlib::kProxySet)
                                                      : supervisor.hits(set))
            if (h.fires == 0) {
              outcome.verdict = TestOutcome::Verdict::kFail;
              outcome.code = "FAULT_BYPASSED";
              outcome.reason += "require_faults_fire: " + h.rule +
                                " never fired, so the cell "
                                "did not test its fault\n";
            }
      }
      if (timed_out) {
        // A truncated run establishes nothing: inconclusive, never a pass (nor a failure).
        outcome.verdict = TestOutcome::Verdict::kInconclusive;
        outcome.code = "TEST_TIMEOUT";
        outcome.reason = "the test ran longer than its timeout of " +
                         runtime::format_duration(limit) + " and was stopped";
        if (!pending.empty()) outcome.reason += "\n" + pending;
      } else if (interrupted_) {
        outcome.verdict = TestOutcome::Verdict::kError;
        outcome.code = "INTERRUPTED";
        outcome.reason = "faultbox was interrupted";
      }
      if (!interrupted_) thread_.cancelled = false;
    }
    outcome.assertions = state.assertions;
    // An expectation is an assertion about the scenario's result.
    if (!outcome.expectation.empty()) ++outcome.assertions;
    if (outcome.verdict == TestOutcome::Verdict::kFail)
      outcome.failed_assertion = state.failed_assertion;
    // A service that exited while the body ran (rather than when stopped below) is
    // worth knowing about whatever the verdict; a failing test shows its stderr.
    if (up) {
      for (const auto& [service, id] : state.targets) {
        auto status = supervisor.wait_for(id, 0ms);
        if (!status || (status->exit_code == 0 && !status->signal)) continue;
        std::string how = status->signal
                              ? std::string("signal SIG") + ::sigabbrev_np(status->signal)
                              : "exit code " + std::to_string(status->exit_code);
        const stdlib::ServiceDecl* decl = session_.find(service);
        std::string stderr_path = (decl && decl->reuse ? log_dir_ : dir) + "/" +
                                  runtime::path_component(service) + ".stderr";
        outcome.diagnostics.push_back(
            {"warning", "SERVICE_CRASHED", name,
             "service \"" + service + "\" exited during the test (" + how + ")",
             "its output is in " + stderr_path});
        if (outcome.verdict == TestOutcome::Verdict::kFail)
          outcome.reason += "service \"" + service + "\" exited during the test (" + how +
                            "); the end of its stderr:\n" + tail(stderr_path);
      }
    }
    // What the services wrote before the stop comes before their exits in the trace.
    for (const auto& observer : observers) observer->drain();
    // Stop every service, whatever happened: SIGTERM, SIGKILL two seconds later. A
    // reused one keeps running, without the rules this test installed on it.
    for (const auto& installed : state.installed)
      if (reused_.count(installed.service)) supervisor.remove(installed.set);
    for (const auto& [service, id] : state.targets)
      if (!reused_.count(service)) supervisor.stop(id, 2000ms);
    for (const auto& [service, id] : state.targets)
      if (!reused_.count(service)) supervisor.wait(id);
    observers.clear();  // the rest of what the services wrote becomes events
    for (const auto& [service, id] : state.targets)
      if (!reused_.count(service)) proxies_->cut(service);
    // Rules a window left behind (it was cancelled) go with the test.
    for (const auto& installed : state.proxy_installed) proxies_->remove(installed.set);
    outcome.faults = fault_hits(state, supervisor, *proxies_);
    // The top level's axes are the test's first ones, whether or not the body met them.
    outcome.axes = top_.axes;
    for (const auto& axis : state.axes)
      if (std::none_of(top_.axes.begin(), top_.axes.end(),
                       [&](const stdlib::Axis& a) { return a.name == axis.name; }))
        outcome.axes.push_back(axis);
    // A leaf lists the choices it made. One halted before the body met them (assume=)
    // still shows what it would have chosen.
    for (auto& choice : state.choices)
      if (outcome.verdict == TestOutcome::Verdict::kHalted ||
          std::any_of(outcome.axes.begin(), outcome.axes.end(),
                      [&](const stdlib::Axis& a) { return a.name == choice.first; }))
        outcome.choices.push_back(std::move(choice));
    session_.run = nullptr;
  }
  outcome.events = log.snapshot();
  outcome.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  return outcome;
}

}  // namespace fb::cli
