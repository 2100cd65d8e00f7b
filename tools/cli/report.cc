#include "tools/cli/report.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace fb::cli {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* verdict_word(TestOutcome::Verdict v) {
  switch (v) {
    case TestOutcome::Verdict::kPass: return "pass";
    case TestOutcome::Verdict::kFail: return "fail";
    case TestOutcome::Verdict::kError: return "error";
    case TestOutcome::Verdict::kHalted: return "halted";
    case TestOutcome::Verdict::kInconclusive: return "inconclusive";
  }
  return "error";
}

/// The reference's classification of a failure, from what we know rather than from
/// the reason's wording: assertion, timeout, service_start or error.
std::string failure_type(const TestOutcome& o) {
  if (o.verdict == TestOutcome::Verdict::kPass || o.verdict == TestOutcome::Verdict::kHalted)
    return "";
  if (o.code == "TEST_TIMEOUT") return "timeout";
  if (o.code == "SERVICE_START_FAILED" || o.code == "SERVICE_EXITED" ||
      o.code == "HEALTHCHECK_TIMEOUT" || o.code == "PORT_IN_USE")
    return "service_start";
  if (o.verdict == TestOutcome::Verdict::kFail && !o.failed_assertion.empty()) return "assertion";
  return "error";
}

std::string field_text(const runtime::FieldValue& v) {
  if (const auto* n = std::get_if<std::int64_t>(&v)) return std::to_string(*n);
  return std::get<std::string>(v);
}

json diagnostic_json(const Diagnostic& d) {
  json out{{"level", d.level}, {"code", d.code}, {"message", d.message}};
  if (!d.suggestion.empty()) out["suggestion"] = d.suggestion;
  if (!d.test.empty()) out["test"] = d.test;
  return out;
}

/// "write", "write/fsync", "write/pwrite64/writev/...": what a rule traps, for messages.
std::string syscalls_text(const FaultHits& f) {
  std::string out;
  for (std::size_t i = 0; i < f.syscalls.size() && i < 3; ++i)
    out += (i ? "/" : "") + f.syscalls[i];
  return f.syscalls.size() > 3 ? out + "/..." : out;
}

std::string paths_seen(const TestOutcome& o, const FaultHits& f) {
  // The paths the rule's syscalls met in the service, which its glob did not match: most
  // often the glob is written for other paths than the program uses.
  std::vector<std::string> paths;
  std::size_t more = 0;
  for (const runtime::Event& e : o.events) {
    if (e.type != "syscall" || e.service != f.service) continue;
    std::string path = e.text("path");
    if (path.empty() ||
        std::find(f.syscalls.begin(), f.syscalls.end(), e.text("syscall")) == f.syscalls.end() ||
        std::find(paths.begin(), paths.end(), path) != paths.end())
      continue;
    if (paths.size() < 5)
      paths.push_back(path);
    else
      ++more;
  }
  std::string out;
  for (const auto& p : paths) out += (out.empty() ? "" : ", ") + p;
  if (more) out += " and " + std::to_string(more) + " more";
  return out;
}

}  // namespace

// ---- diagnostics ---------------------------------------------------------------------------

void diagnose(TestOutcome& o) {
  bool passed = o.verdict == TestOutcome::Verdict::kPass;
  if (passed && o.assertions == 0)
    o.diagnostics.push_back({"warning", "TEST_NO_ASSERTIONS", o.name,
                             "passed without evaluating any assertion, so it cannot fail",
                             "add an assert_* call, or say in a comment that the test only "
                             "exercises a path"});
  int fired_faults = 0;
  for (const FaultHits& f : o.faults) {
    bool protocol = !f.interface.empty();
    bool is_fault = f.action == "deny" || f.action == "delay" || protocol;
    if (is_fault && f.hits > 0) ++fired_faults;
    if ((f.action == "deny" || (protocol && f.action != "delay")) && f.hits > 0 && passed &&
        o.assertions == 0)
      o.diagnostics.push_back(
          {"warning", "FAULT_FIRED_BUT_SUCCESS", o.name,
           f.rule + " on \"" + f.service + "\" fired " + std::to_string(f.hits) +
               " time(s) and the test passed without asserting anything: the fault's effect "
               "was not checked",
           "assert on what the fault should cause (a status, an event, a missing record)"});
    // A leaf whose pinned decisions say "never" for every call it saw is meant to be
    // quiet.
    auto pinned_calls =
        static_cast<std::uint64_t>(std::count(f.pinned.begin(), f.pinned.end(), ',') + 1);
    bool pinned_off =
        !f.pinned.empty() && f.pinned.find('1') == std::string::npos && f.matches <= pinned_calls;
    if (is_fault && f.hits == 0 && !pinned_off && o.verdict != TestOutcome::Verdict::kError) {
      std::string what = f.op.empty() ? f.syscall : f.syscall + " (op)";
      std::string message = f.rule + " on \"" + f.service + "\" never fired: ";
      std::string suggestion;
      if (protocol && f.matches == 0) {
        message = f.rule + " on " + f.service + "." + f.interface +
                  " never fired: no request through its proxy matched while it was installed";
        suggestion = "check that run= sends such a request to " + f.service + "." + f.interface +
                     " (source= limits the rule to one caller)";
      } else if (protocol) {
        message = f.rule + " on " + f.service + "." + f.interface + " never fired: it matched " +
                  std::to_string(f.matches) +
                  " request(s) but its probability, nth= or after= let none through";
        suggestion = "raise the probability, or lower nth=/after=";
      } else if (f.matches == 0) {
        message += "the service made no matching call while it was installed";
        if (!f.path.empty()) message += " (path glob \"" + f.path + "\")";
        if (std::string seen = paths_seen(o, f); !seen.empty())
          message += "; its " + syscalls_text(f) + " calls were on " + seen;
        suggestion =
            "check that run= exercises this path in \"" + f.service + "\", that it uses " + what +
            (f.path.empty() ? "" : " on paths matching \"" + f.path + "\"") + " (trace(" +
            f.service +
            ", syscalls = [...], run = ...) shows what it does), and "
            "that the call is not on a system path, which rules without a glob leave alone";
      } else {
        message += "it matched " + std::to_string(f.matches) +
                   " call(s) but its probability, nth= or after= let none through";
        suggestion = "raise the probability, or lower nth=/after=";
      }
      o.diagnostics.push_back({"warning", "FAULT_NOT_FIRED", o.name, message, suggestion});
    }
  }
  if (o.verdict == TestOutcome::Verdict::kFail && fired_faults > 1)
    o.diagnostics.push_back({"info", "MULTIPLE_FAULTS_INTERACTION", o.name,
                             std::to_string(fired_faults) +
                                 " faults fired in this failing test; the failure may come from "
                                 "their combination",
                             "run with one fault at a time to find which one matters"});
}

std::vector<Diagnostic> diagnose_run(const std::vector<TestOutcome>& outcomes, bool interrupted) {
  if (interrupted) return {};
  // Per interface stepped: did a passing test that asserted something see it succeed?
  std::map<std::string, bool> controlled;
  for (const TestOutcome& o : outcomes) {
    bool counts = o.verdict == TestOutcome::Verdict::kPass && o.assertions > 0;
    for (const runtime::Event& e : o.events) {
      if (e.type != "step_recv") continue;
      std::string iface = e.text("target") + "." + e.text("interface");
      bool& seen = controlled[iface];
      if (counts && e.text("success") == "true") seen = true;
    }
  }
  std::vector<Diagnostic> out;
  for (const auto& [iface, seen] : controlled)
    if (!seen)
      out.push_back({"warning", "NO_POSITIVE_CONTROL", "",
                     "no passing test that asserted anything saw a successful step on " + iface +
                         ": every test of it may pass for the wrong reason",
                     "add a test without faults that asserts " + iface + " works"});
  return out;
}

// ---- JSON ----------------------------------------------------------------------------------

json event_json(const runtime::Event& e) {
  json out;
  out["seq"] = e.seq;
  out["timestamp"] = runtime::rfc3339(e.time);
  out["type"] = e.type;
  std::string event_type = e.type;
  if (const auto* syscall = e.field("syscall"))
    event_type += "." + field_text(*syscall);
  else if (e.type == "service_started" || e.type == "service_ready")
    event_type = "lifecycle." + e.type.substr(8);
  else if ((e.type == "step_send" || e.type == "step_recv") && e.field("target"))
    event_type += "." + e.text("target");
  out["event_type"] = event_type;
  if (!e.service.empty()) {
    out["partition_key"] = e.service;
    out["service"] = e.service;
  }
  if (!e.fields.empty()) {
    json fields = json::object();
    for (const auto& [key, value] : e.fields) fields[key] = field_text(value);
    out["fields"] = std::move(fields);
  }
  if (!e.clock.empty()) out["vector_clock"] = e.clock;
  return out;
}

namespace {

/// A cell's outcome as the reference names it.
std::string cell_outcome(const TestOutcome& o) {
  switch (o.verdict) {
    case TestOutcome::Verdict::kPass: return "passed";
    case TestOutcome::Verdict::kHalted: return "halted";
    case TestOutcome::Verdict::kError: return "errored";
    case TestOutcome::Verdict::kInconclusive: return "inconclusive";
    case TestOutcome::Verdict::kFail: break;
  }
  if (o.code == "FAULT_BYPASSED") return "fault_bypassed";
  if (o.expectation_violated) return "expectation_violated";
  return "failed";
}

/// Each fault_matrix() call's axes merged in order, without repeats.
void matrix_axes(const std::vector<stdlib::MatrixDecl>& matrices, std::vector<std::string>& rows,
                 std::vector<std::string>& columns) {
  auto add = [](std::vector<std::string>& to, const std::string& name) {
    if (std::find(to.begin(), to.end(), name) == to.end()) to.push_back(name);
  };
  for (const auto& m : matrices) {
    for (const auto& s : m.scenarios) add(rows, s);
    for (const auto& f : m.faults) add(columns, f);
  }
}

json matrix_json(const std::vector<stdlib::MatrixDecl>& matrices,
                 const std::vector<TestOutcome>& outcomes) {
  json cells = json::array();
  int passed = 0, failed = 0;
  for (const TestOutcome& o : outcomes) {
    if (o.matrix < 0) continue;
    json cell{{"scenario", o.cell_scenario},
              {"fault", o.cell_fault},
              {"test", o.name},
              {"passed", o.verdict == TestOutcome::Verdict::kPass},
              {"outcome", cell_outcome(o)},
              {"duration_ms", o.duration.count()},
              {"reason", o.reason}};
    if (!o.axes.empty()) cell["leaf_id"] = std::to_string(o.leaf);
    if (!o.expectation.empty()) cell["expectation"] = o.expectation;
    cells.push_back(std::move(cell));
    if (o.verdict == TestOutcome::Verdict::kPass) ++passed;
    if (o.verdict == TestOutcome::Verdict::kFail || o.verdict == TestOutcome::Verdict::kError)
      ++failed;
  }
  if (cells.empty()) return nullptr;
  std::vector<std::string> scenarios, faults;
  matrix_axes(matrices, scenarios, faults);
  json excluded = json::array();
  for (const auto& m : matrices)
    for (const auto& [s, f] : m.excluded) excluded.push_back({{"scenario", s}, {"fault", f}});
  json out{{"scenarios", scenarios}, {"faults", faults}, {"total", cells.size()},
           {"passed", passed},       {"failed", failed}, {"excluded", std::move(excluded)}};
  out["cells"] = std::move(cells);
  return out;
}

}  // namespace

std::string matrix_text(const std::vector<stdlib::MatrixDecl>& matrices,
                        const std::vector<TestOutcome>& outcomes) {
  std::string out;
  for (std::size_t index = 0; index < matrices.size(); ++index) {
    const auto& m = matrices[index];
    // A cell's word: its worst leaf (ERROR, FAIL, INCONCLUSIVE, PASS, then HALTED).
    std::map<std::pair<std::string, std::string>, int> rank;
    bool any = false;
    for (const TestOutcome& o : outcomes) {
      if (o.matrix != static_cast<int>(index)) continue;
      any = true;
      int r = o.verdict == TestOutcome::Verdict::kError          ? 4
              : o.verdict == TestOutcome::Verdict::kFail         ? 3
              : o.verdict == TestOutcome::Verdict::kInconclusive ? 2
              : o.verdict == TestOutcome::Verdict::kPass         ? 1
                                                                 : 0;
      auto& cell = rank[{o.cell_scenario, o.cell_fault}];
      cell = std::max(cell, r + 1);
    }
    if (!any) continue;
    std::size_t cells = m.scenarios.size() * m.faults.size() - m.excluded.size();
    out += "Fault matrix: " + std::to_string(m.scenarios.size()) + " scenario" +
           (m.scenarios.size() == 1 ? "" : "s") + " x " + std::to_string(m.faults.size()) +
           " fault" + (m.faults.size() == 1 ? "" : "s") + " = " + std::to_string(cells) + " cell" +
           (cells == 1 ? "" : "s") + "\n";
    std::size_t first = 0;
    for (const auto& s : m.scenarios) first = std::max(first, s.size());
    std::vector<std::size_t> widths;
    for (const auto& f : m.faults) widths.push_back(std::max<std::size_t>(f.size(), 6));
    auto pad = [](std::string s, std::size_t w) {
      return s + std::string(w > s.size() ? w - s.size() : 0, ' ');
    };
    std::string header = "  " + pad("", first);
    for (std::size_t i = 0; i < m.faults.size(); ++i) header += "  " + pad(m.faults[i], widths[i]);
    while (!header.empty() && header.back() == ' ') header.pop_back();
    out += header + "\n";
    for (const auto& s : m.scenarios) {
      std::string line = "  " + pad(s, first);
      for (std::size_t i = 0; i < m.faults.size(); ++i) {
        auto it = rank.find({s, m.faults[i]});
        static const char* const kWords[] = {"-",    "HALTED", "PASS", "INCONCLUSIVE",
                                             "FAIL", "ERROR"};
        line += "  " + pad(kWords[it == rank.end() ? 0 : it->second], widths[i]);
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
  }
  return out;
}

json report_json(const RunSummary& run, const std::vector<TestOutcome>& outcomes,
                 const std::vector<Diagnostic>& run_diagnostics) {
  int pass = 0, fail = 0, errored = 0, halted = 0, inconclusive = 0;
  json tests = json::array();
  for (const TestOutcome& o : outcomes) {
    if (o.verdict == TestOutcome::Verdict::kPass) ++pass;
    if (o.verdict == TestOutcome::Verdict::kFail) ++fail;
    if (o.verdict == TestOutcome::Verdict::kError) ++errored;
    if (o.verdict == TestOutcome::Verdict::kHalted) ++halted;
    if (o.verdict == TestOutcome::Verdict::kInconclusive) ++inconclusive;
    if (run.show_failures_only && o.verdict == TestOutcome::Verdict::kPass) continue;
    json t;
    t["name"] = o.name;
    t["leaf_id"] = std::to_string(o.leaf);
    json choices = json::object();
    for (const auto& [axis, value] : o.choices) choices[axis] = value;
    t["choices"] = std::move(choices);
    t["result"] = verdict_word(o.verdict);
    t["reason"] = o.reason;
    if (auto type = failure_type(o); !type.empty()) t["failure_type"] = type;
    if (!o.code.empty()) t["error_code"] = o.code;
    if (!o.expectation.empty()) {
      t["expectation"] = o.expectation;
      t["expectation_violated"] = o.expectation_violated;
    }
    if (!o.failed_assertion.empty()) t["error_detail"] = {{"assertion_type", o.failed_assertion}};
    if (o.violation) t["violation_event"] = event_json(*o.violation);
    t["seed"] = o.seed;
    t["duration_ms"] = o.duration.count();
    std::string short_name = o.name.starts_with("test_") ? o.name.substr(5) : o.name;
    if (!o.axes.empty()) short_name = "'" + short_name + "[leaf=" + std::to_string(o.leaf) + "]'";
    t["replay_command"] =
        "faultbox test " + run.spec + " --test " + short_name + " --seed " + std::to_string(o.seed);
    t["assertions"] = o.assertions;
    json faults = json::array();
    for (const FaultHits& f : o.faults) {
      json j{{"service", f.service}, {"syscall", f.syscall}, {"action", f.action},
             {"errno", f.error},     {"label", f.label},     {"hits", f.hits},
             {"matches", f.matches}, {"rule", f.rule}};
      if (!f.op.empty()) j["op"] = f.op;
      if (!f.path.empty()) j["path"] = f.path;
      if (!f.pinned.empty()) j["pinned"] = f.pinned;
      if (!f.interface.empty()) j["interface"] = f.interface;
      faults.push_back(std::move(j));
    }
    t["faults"] = std::move(faults);
    json diagnostics = json::array();
    for (const Diagnostic& d : o.diagnostics) diagnostics.push_back(diagnostic_json(d));
    t["diagnostics"] = std::move(diagnostics);
    json events = json::array();
    for (const runtime::Event& e : o.events) events.push_back(event_json(e));
    t["events"] = std::move(events);
    tests.push_back(std::move(t));
  }
  json out;
  out["version"] = 2;
  out["star_file"] = run.spec;
  out["duration_ms"] = run.duration.count();
  out["seed"] = run.seed;
  out["pass"] = pass;
  out["fail"] = fail + errored;
  out["errored"] = errored;
  out["inconclusive"] = inconclusive;
  out["halted"] = halted;
  out["interrupted"] = run.interrupted;
  out["tests"] = std::move(tests);
  json diagnostics = json::array();
  for (const Diagnostic& d : run_diagnostics) diagnostics.push_back(diagnostic_json(d));
  out["diagnostics"] = std::move(diagnostics);
  if (json matrix = matrix_json(run.matrices, outcomes); !matrix.is_null())
    out["matrix"] = std::move(matrix);
  return out;
}

// ---- normalized trace ----------------------------------------------------------------------

namespace {

/// The lowest ephemeral port: ports from here up are the kernel's choice and differ
/// between runs, so a normalized trace masks them.
int ephemeral_floor() {
  static const int floor = [] {
    std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
    int low = 0;
    return in >> low && low > 0 ? low : 32768;
  }();
  return floor;
}

/// "socket:tcp:127.0.0.1:40312->127.0.0.1:7001" → "socket:tcp:127.0.0.1:*->127.0.0.1:7001".
std::string mask_ports(const std::string& path) {
  if (!path.starts_with("socket:")) return path;
  std::string out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == ':' && i + 1 < path.size() &&
        std::isdigit(static_cast<unsigned char>(path[i + 1]))) {
      std::size_t j = i + 1;
      while (j < path.size() && std::isdigit(static_cast<unsigned char>(path[j]))) ++j;
      bool port_end = j == path.size() || path[j] == '-';
      if (port_end && j - i - 1 <= 5 &&
          std::stoi(path.substr(i + 1, j - i - 1)) >= ephemeral_floor()) {
        out += ":*";
        i = j;
        continue;
      }
      out.append(path, i, j - i);
      i = j;
      continue;
    }
    out += path[i++];
  }
  return out;
}

/// One event as a normalized line, or "" to leave it out.
std::string normal_line(const runtime::Event& e) {
  if (e.type == "syscall") {
    std::string decision = e.text("decision");
    if (decision == "allow" || decision.starts_with("allow ")) return "";
    std::string line = e.text("syscall") + " " + decision;
    if (std::string path = e.text("path"); !path.empty()) line += " " + mask_ports(path);
    if (std::string op = e.text("op"); !op.empty()) line += " op=" + op;
    if (std::string label = e.text("label"); !label.empty()) line += " label=" + label;
    return line;
  }
  if (e.type == "service_started" || e.type == "service_ready" || e.type == "service_reused")
    return e.type;
  if (e.type == "service_exited")
    return e.field("signal") ? "service_exited signal=" + e.text("signal")
                             : "service_exited code=" + e.text("code");
  // A protocol window names its interface; a syscall window does not.
  std::string on = e.field("interface") ? " on " + e.text("interface") : "";
  if (e.type == "fault_applied") return "fault_applied" + on + " " + e.text("rules");
  if (e.type == "fault_removed")
    return "fault_removed" + on + " " + e.text("rules") + " fires=" + e.text("fires");
  if (e.type == "proxy")
    return "proxy " + e.text("action") + " " + e.text("interface") + " " + e.text("rule") +
           " caller=" + e.text("caller");
  if (e.type == "step_send") {
    std::string line =
        "step_send " + e.text("target") + "." + e.text("interface") + " " + e.text("method");
    if (std::string path = e.text("path"); !path.empty()) line += " " + path;
    return line;
  }
  if (e.type == "step_recv") {
    std::string line = "step_recv " + e.text("target") + "." + e.text("interface");
    if (e.field("status_code")) line += " " + e.text("status_code");
    line += e.text("success") == "true" ? " ok" : " failed";
    return line;
  }
  if (e.type == "held" || e.type == "released") return e.type + " " + e.text("syscall");
  if (e.type == "vacuous_property") return "vacuous_property " + e.text("property");
  if (e.type == "stdout" || e.type == "stderr") {
    // An observed output line: its fields in the order the decoder gave them.
    std::string line = e.type;
    for (const auto& [name, value] : e.fields) line += " " + name + "=" + e.text(name);
    return mask_ports(line);
  }
  return "";
}

}  // namespace

std::string normalize(const std::vector<TestOutcome>& outcomes, const std::string& spec_path) {
  std::error_code ec;
  std::string spec_dir =
      fs::weakly_canonical(fs::absolute(spec_path, ec).parent_path(), ec).string();
  std::string cwd = fs::current_path(ec).string();
  auto relative = [&](std::string line) {
    for (const auto& [prefix, name] : {std::pair{spec_dir, "$SPEC_DIR"}, std::pair{cwd, "$CWD"}}) {
      if (prefix.empty() || prefix == "/") continue;
      for (std::size_t at = 0; (at = line.find(prefix + "/", at)) != std::string::npos;)
        line.replace(at, prefix.size(), name), at += std::string_view(name).size();
    }
    return line;
  };
  std::string out;
  for (const TestOutcome& o : outcomes) {
    out += "=== " + o.name;
    if (!o.axes.empty()) out += "[leaf=" + std::to_string(o.leaf) + "]";
    out += " ===\n";
    std::map<std::string, std::vector<std::string>> lanes;
    for (const runtime::Event& e : o.events) {
      std::string line = relative(normal_line(e));
      if (!line.empty()) lanes[e.service.empty() ? "test" : e.service].push_back(std::move(line));
    }
    for (const auto& [lane, lines] : lanes) {
      out += "--- " + lane + " ---\n";
      for (const auto& line : lines) out += line + "\n";
    }
  }
  return out;
}

// ---- diff ----------------------------------------------------------------------------------

namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

std::string line_diff(const std::string& a_text, const std::string& b_text) {
  auto a = split_lines(a_text), b = split_lines(b_text);
  // Common head and tail first: most traces differ in a few places.
  std::size_t head = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head]) ++head;
  std::size_t tail = 0;
  while (tail < a.size() - head && tail < b.size() - head &&
         a[a.size() - 1 - tail] == b[b.size() - 1 - tail])
    ++tail;
  std::size_t n = a.size() - head - tail, m = b.size() - head - tail;
  if (n == 0 && m == 0) return "";
  // ' ' common, '-' only in a, '+' only in b, over the whole texts.
  std::vector<std::pair<char, std::string>> script;
  for (std::size_t i = 0; i < head; ++i) script.emplace_back(' ', a[i]);
  constexpr std::size_t kTableLimit = 40'000'000;  // cells of the LCS table
  if (n * m <= kTableLimit) {
    // lcs[i][j]: the longest common subsequence of a[head+i..] and b[head+j..].
    std::vector<std::uint32_t> lcs((n + 1) * (m + 1), 0);
    auto at = [&](std::size_t i, std::size_t j) -> std::uint32_t& { return lcs[i * (m + 1) + j]; };
    for (std::size_t i = n; i-- > 0;)
      for (std::size_t j = m; j-- > 0;)
        at(i, j) = a[head + i] == b[head + j] ? at(i + 1, j + 1) + 1
                                              : std::max(at(i + 1, j), at(i, j + 1));
    std::size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[head + i] == b[head + j]) {
        script.emplace_back(' ', a[head + i]);
        ++i, ++j;
      } else if (i < n && (j == m || at(i + 1, j) >= at(i, j + 1))) {
        script.emplace_back('-', a[head + i++]);
      } else {
        script.emplace_back('+', b[head + j++]);
      }
    }
  } else {
    // Too large to align: the differing middle is shown whole.
    for (std::size_t i = 0; i < n; ++i) script.emplace_back('-', a[head + i]);
    for (std::size_t j = 0; j < m; ++j) script.emplace_back('+', b[head + j]);
  }
  for (std::size_t i = a.size() - tail; i < a.size(); ++i) script.emplace_back(' ', a[i]);

  // Show the changes with three lines of context; say which test and lane they are in.
  constexpr std::size_t kContext = 3;
  std::vector<bool> shown(script.size(), false);
  for (std::size_t k = 0; k < script.size(); ++k)
    if (script[k].first != ' ')
      for (std::size_t c = k >= kContext ? k - kContext : 0;
           c < std::min(script.size(), k + kContext + 1); ++c)
        shown[c] = true;
  std::string out, test, lane;
  bool gap = false;
  for (std::size_t k = 0; k < script.size(); ++k) {
    const auto& [mark, line] = script[k];
    if (line.starts_with("=== ")) test = line, lane.clear();
    if (line.starts_with("--- ")) lane = line;
    if (!shown[k]) {
      gap = true;
      continue;
    }
    if (gap || out.empty()) {
      out += "@@ " + (test.empty() ? std::string("(start)") : test) +
             (lane.empty() || line.starts_with("--- ") ? "" : " " + lane) + " @@\n";
      gap = false;
    }
    out += std::string(1, mark) + " " + line + "\n";
  }
  return out;
}

}  // namespace fb::cli
