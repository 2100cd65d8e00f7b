#pragma once
/// A service's observed output stream (service(observe=[observe.stdout(...)])): the
/// service writes into a pipe, and a thread copies every byte to the stream's log file
/// and turns every line into an event of type "stdout"/"stderr" in the service's lane,
/// its fields from the stream's decoder.

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "runtime/event_log.h"
#include "runtime/line_decoder.h"
#include "runtime/process.h"

namespace fb::cli {

class OutputObserver {
 public:
  /// A pipe for the stream: give write_fd() to the launch, then start(). nullptr with
  /// `error` when no pipe can be made or the log file not opened.
  static std::unique_ptr<OutputObserver> open(runtime::EventLog& log, std::string service,
                                              std::string stream,
                                              std::shared_ptr<const runtime::LineDecoder> decoder,
                                              const std::string& file, std::string& error);
  /// Stops: what the service wrote is read to its end, the last unterminated line
  /// included. When another process still holds the pipe, reading stops a quarter
  /// second after the last data, and two seconds after the stop at the latest.
  ~OutputObserver();
  OutputObserver(const OutputObserver&) = delete;
  OutputObserver& operator=(const OutputObserver&) = delete;

  int write_fd() const { return write_.get(); }
  /// After the launch (recorded as service_started): closes this copy of the write end,
  /// which the service holds now, and starts reading. What the service wrote meanwhile
  /// waited in the pipe, so its lines follow service_started in the trace.
  void start();
  /// Waits (up to half a second) until everything written so far has become events, so
  /// that lines written before a stop come before service_exited in the trace.
  void drain();

 private:
  OutputObserver() = default;
  void run();
  void emit(std::string_view line);

  runtime::EventLog* log_ = nullptr;
  std::string service_, stream_;
  std::shared_ptr<const runtime::LineDecoder> decoder_;
  runtime::UniqueFd read_, write_, file_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> busy_{false};  // between a read and the events of its lines
  std::thread thread_;
};

}  // namespace fb::cli
