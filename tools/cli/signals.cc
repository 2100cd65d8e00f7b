#include "tools/cli/signals.h"

#include <pthread.h>

namespace fb::cli {

namespace {
constexpr int kWatched[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};  // SIGUSR1 ends the watcher
}

SignalWatch::SignalWatch() {
  ::sigemptyset(&set_);
  for (int s : kWatched) ::sigaddset(&set_, s);
  ::pthread_sigmask(SIG_BLOCK, &set_, &old_);
}

SignalWatch::~SignalWatch() { finish(); }

void SignalWatch::start(std::function<void(int, bool)> on_signal) {
  thread_ = std::thread([this, on_signal = std::move(on_signal)] {
    for (;;) {
      int signal = 0;
      if (::sigwait(&set_, &signal) != 0 || signal == SIGUSR1) return;
      std::lock_guard lock(mutex_);
      bool first = received_ == 0;
      if (first) received_ = signal;
      on_signal(signal, first);
    }
  });
}

int SignalWatch::received() {
  std::lock_guard lock(mutex_);
  return received_;
}

void SignalWatch::stop_watching() {
  if (thread_.joinable()) {
    ::pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }
}

int SignalWatch::finish() {
  stop_watching();
  if (finished_) return received_;
  finished_ = true;
  // A signal that arrived after the watcher ended is still pending: take it, so that
  // restoring the mask does not deliver it to a process that has finished its work.
  timespec zero{};
  sigset_t pending;
  ::sigpending(&pending);
  for (int s : kWatched) {
    if (!::sigismember(&pending, s)) continue;
    sigset_t one;
    ::sigemptyset(&one);
    ::sigaddset(&one, s);
    ::sigtimedwait(&one, nullptr, &zero);
    if (!received_ && s != SIGUSR1) received_ = s;
  }
  ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  return received_;
}

}  // namespace fb::cli
