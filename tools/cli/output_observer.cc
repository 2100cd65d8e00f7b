// Observed output streams: a pipe per stream, a thread per pipe, a line per event.
#include "tools/cli/output_observer.h"

#include "runtime/output_dir.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace fb::cli {

std::unique_ptr<OutputObserver> OutputObserver::open(
    runtime::EventLog& log, std::string service, std::string stream,
    std::shared_ptr<const runtime::LineDecoder> decoder, const std::string& file,
    std::string& error) {
  std::unique_ptr<OutputObserver> o(new OutputObserver());
  o->log_ = &log;
  o->service_ = std::move(service);
  o->stream_ = std::move(stream);
  o->decoder_ = std::move(decoder);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    error = std::string("pipe for ") + o->stream_ + ": " + std::strerror(errno);
    return nullptr;
  }
  o->read_ = runtime::UniqueFd(fds[0]);
  o->write_ = runtime::UniqueFd(fds[1]);
  o->file_ = runtime::create_private_file(file, error);
  if (!o->file_) return nullptr;
  return o;
}

void OutputObserver::start() {
  write_ = runtime::UniqueFd();
  thread_ = std::thread([this] { run(); });
}

void OutputObserver::drain() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (std::chrono::steady_clock::now() < deadline) {
    int unread = 0;
    if (::ioctl(read_.get(), FIONREAD, &unread) != 0) return;
    if (unread == 0 && !busy_.load()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

OutputObserver::~OutputObserver() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
}

void OutputObserver::emit(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return;  // as the reference: a blank line is no event
  log_->append(stream_, service_, decoder_->decode(line));
}

void OutputObserver::run() {
  std::string pending;  // the start of a line whose end has not come yet
  char chunk[65536];
  using Clock = std::chrono::steady_clock;
  auto quiet_since = Clock::now();
  std::optional<Clock::time_point> stop_by;
  for (;;) {
    if (stopping_.load()) {
      if (!stop_by) stop_by = Clock::now() + std::chrono::seconds(2);
      if (Clock::now() > *stop_by) break;  // a writer that never stops is not waited for
    }
    pollfd p{read_.get(), POLLIN, 0};
    int ready = ::poll(&p, 1, 50);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      // Nothing to read. Once stopping, a writer that lingers (a grandchild holding
      // the pipe) is not waited for long.
      if (stopping_.load() && Clock::now() - quiet_since > std::chrono::milliseconds(250)) break;
      continue;
    }
    busy_.store(true);
    ssize_t n = ::read(read_.get(), chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      busy_.store(false);
      continue;
    }
    if (n <= 0) break;  // every writer is gone
    quiet_since = Clock::now();
    (void)!::write(file_.get(), chunk, static_cast<std::size_t>(n));
    pending.append(chunk, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
      emit(std::string_view(pending).substr(start, nl - start));
    pending.erase(0, start);
    // A line that never ends is still reported, in pieces, rather than held forever.
    if (pending.size() > runtime::LineDecoder::kMaxRaw) {
      emit(pending);
      pending.clear();
    }
    busy_.store(false);
  }
  if (!pending.empty()) emit(pending);
  busy_.store(false);
}

}  // namespace fb::cli
