#pragma once
/// Turning SIGINT, SIGTERM and SIGHUP into orderly stops: the signals are blocked for
/// the whole process while a command runs (threads started later inherit the mask) and
/// taken by one watcher thread, which tells the command through a callback.

#include <signal.h>

#include <functional>
#include <mutex>
#include <thread>

namespace fb::cli {

class SignalWatch {
 public:
  SignalWatch();
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  /// Starts watching; `on_signal(signal, first)` runs on the watcher thread for every
  /// signal, `first` telling whether it is the first one.
  void start(std::function<void(int signal, bool first)> on_signal);
  /// The first signal received so far (0: none).
  int received();
  /// Stops watching (before what the callback touches goes away); signals stay blocked.
  void stop_watching();
  /// Ends the watch, restores the signal mask; returns the first signal received.
  int finish();

 private:
  sigset_t set_{}, old_{};
  std::thread thread_;
  std::mutex mutex_;
  int received_ = 0;
  bool finished_ = false;
};

}  // namespace fb::cli
