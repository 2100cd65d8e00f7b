// `faultbox run`: one binary under syscall faults given on the command line.
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <ostream>
#include <set>

#include "grammar/suggest.h"
#include "runtime/supervisor.h"
#include "tools/cli/command.h"
#include "tools/cli/signals.h"

extern char** environ;

namespace fb::cli {
namespace {

using namespace std::chrono_literals;

/// faultbox's environment with `--env K=V` settings applied (a key given again replaces
/// the inherited value).
std::optional<std::vector<std::string>> target_env(const std::vector<std::string>& settings,
                                                   std::string& error) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  for (const auto& setting : settings) {
    auto eq = setting.find('=');
    if (eq == std::string::npos || eq == 0) {
      error = "--env wants KEY=VALUE, got '" + setting + "'";
      return std::nullopt;
    }
    std::string prefix = setting.substr(0, eq + 1);
    std::erase_if(env, [&](const std::string& kv) { return kv.starts_with(prefix); });
    env.push_back(setting);
  }
  return env;
}

int run_run(const Context& context, const ParsedArgs& args) {
  if (args.positionals.empty())
    return usage_error(context, "run",
                       "expects a BINARY to run (faultbox run [flags] BINARY ARGS...)");
  std::string error;
  std::vector<runtime::FaultRule> rules;
  std::set<int> trapped;
  for (const auto& text : args.all("fault")) {
    auto rule = runtime::parse_fault(text, runtime::host_arch(), error, grammar::closest_match);
    if (!rule) return usage_error(context, "run", "--fault: " + error);
    for (const auto& name : rule->syscalls)
      trapped.insert(*runtime::syscall_number(runtime::host_arch(), name));
    rules.push_back(std::move(*rule));
  }
  std::uint64_t seed = 0;
  if (auto text = args.value("seed")) {
    auto value = parse_unsigned(*text);
    if (!value)
      return usage_error(context, "run",
                         "--seed wants a non-negative integer, got '" + *text + "'");
    seed = *value;
  }
  runtime::LaunchSpec spec;
  spec.binary = args.positionals[0];
  spec.args.assign(args.positionals.begin() + 1, args.positionals.end());
  auto env = target_env(args.all("env"), error);
  if (!env) return usage_error(context, "run", error);
  spec.env = std::move(*env);
  spec.trapped.assign(trapped.begin(), trapped.end());
  // Nobody reads the paths of merely allowed calls unless the events are written.
  spec.record_paths = args.has("events");
  // Run from an interactive shell, the target gets the terminal, as it would alone.
  spec.foreground_tty = ::isatty(STDIN_FILENO) && ::tcgetpgrp(STDIN_FILENO) == ::getpgrp();
  if (auto text = args.value("timeout")) {
    auto timeout = runtime::parse_duration(*text, error);
    if (!timeout || timeout->count() <= 0)
      return usage_error(context, "run",
                         "--timeout: " + (timeout ? "wants a positive duration" : error));
    spec.timeout = std::chrono::ceil<std::chrono::milliseconds>(*timeout);
  }

  runtime::EventLog log(/*retain=*/false);  // streamed to --events, never read back
  std::ofstream events_file;
  std::ostream* events = nullptr;
  if (auto path = args.value("events")) {
    if (*path == "-") {
      events = &std::cerr;
    } else {
      events_file.open(*path, std::ios::trunc);
      if (!events_file)
        return usage_error(context, "run", "--events: cannot write '" + *path + "'");
      events = &events_file;
    }
    // Written as they happen and flushed at least every 50 ms, so a run that is killed
    // leaves nearly all of its events behind without a write per event.
    log.subscribe(
        [events, last = std::chrono::steady_clock::now()](const runtime::Event& e) mutable {
          *events << runtime::to_json_line(e) << '\n';
          auto now = std::chrono::steady_clock::now();
          if (now - last >= 50ms || e.type == "service_exited") {
            events->flush();
            last = now;
          }
        });
  }

  SignalWatch signals;
  std::optional<runtime::ExitStatus> status;
  {
    std::string service = spec.binary.substr(spec.binary.rfind('/') + 1);
    runtime::Supervisor supervisor(log, seed);
    // The first signal stops the target gracefully, a second one kills it at once. A
    // Ctrl-C during the launch counts too.
    signals.start([&supervisor](int, bool first) {
      supervisor.stop_all(first ? std::chrono::milliseconds(2000) : std::chrono::milliseconds(0));
    });
    auto id = supervisor.launch(service, spec, std::move(rules), error);
    if (!id) {
      signals.stop_watching();
      if (int signal = signals.finish()) {
        context.err << "faultbox run: interrupted by SIG" << ::sigabbrev_np(signal)
                    << " while starting the target\n";
        return 128 + signal;
      }
      context.err << "faultbox run: " << error << "\n";
      return kExitUsage;
    }
    // A signal that came before the target was registered stopped nothing yet.
    if (signals.received()) supervisor.stop_all(std::chrono::milliseconds(2000));
    status = supervisor.wait(*id);
    signals.stop_watching();  // it calls into the supervisor, which is about to go
  }
  if (int signal = signals.finish()) {
    context.err << "faultbox run: interrupted by SIG" << ::sigabbrev_np(signal)
                << "; the target was stopped\n";
    return 128 + signal;
  }
  if (status->timed_out)
    context.err << "faultbox run: the target ran past --timeout and was stopped\n";
  return status->exit_code;
}

}  // namespace

const Command& command_run() {
  static const Command command{
      .name = "run",
      .summary = "Run one binary with syscall faults given on the command line",
      .usage =
          "faultbox run [--fault SPEC]... [--seed N] [--env K=V]... [--events FILE] "
          "[--timeout DUR] [--] BINARY ARGS...",
      .details =
          "Starts BINARY under a seccomp filter that traps exactly the syscalls named by the\n"
          "faults; every other syscall runs at native speed. faultbox's flags end at BINARY.\n"
          "\n"
          "A fault is SYSCALL=ERRNO[:PROB%][:GLOB][:nth=N|after=N] (fail the call with\n"
          "ERRNO) or SYSCALL=delay:DURATION[:PROB%][:GLOB][:nth=N|after=N] (let it go on\n"
          "after DURATION). SYSCALL is a syscall or a family (write, read, open, fsync,\n"
          "sendto, recvfrom, accept, ...). GLOB matches the file or socket the call is about\n"
          "('*' within a path segment, '**' across); it cannot contain ':'. Later faults take\n"
          "precedence over earlier ones. Probabilities draw from --seed (default 0): the same\n"
          "seed gives the same decisions.\n"
          "\n"
          "The exit status is the target's, 128+N if it was killed by signal N, and 1 when\n"
          "faultbox itself failed (a bad flag, a binary that cannot be run). SIGINT, SIGTERM\n"
          "or SIGHUP stop the target's process group (SIGTERM, then SIGKILL after 2 s; a\n"
          "second signal kills at once) and faultbox exits with 128+N.",
      .flags = {{"fault", FlagKind::kRepeated, "SPEC", "a syscall fault (repeatable)"},
                {"seed", FlagKind::kValue, "N", "seed for probabilistic faults (default 0)"},
                {"env", FlagKind::kRepeated, "K=V",
                 "set an environment variable for the target (repeatable)"},
                {"events", FlagKind::kValue, "FILE",
                 "write the event log as JSON lines to FILE ('-': stderr)"},
                {"timeout", FlagKind::kValue, "DUR",
                 "stop the target after DUR (SIGTERM, SIGKILL 2 s later)"}},
      .stop_at_positional = true,
      .run = run_run,
  };
  return command;
}

}  // namespace fb::cli
