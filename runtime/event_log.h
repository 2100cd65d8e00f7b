#pragma once
/// The run's event log: append-only, thread-safe, one global sequence number, and a
/// vector clock per service lane so that causality between services can be asked later.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace fb::runtime {

/// A vector clock: lane → how many events that lane had seen.
using VectorClock = std::map<std::string, std::uint64_t, std::less<>>;

/// True when `a` happened before `b`: every entry ≤ and at least one < (missing is 0).
bool happens_before(const VectorClock& a, const VectorClock& b);

/// A field's value keeps its type so that JSON shows numbers as numbers.
using FieldValue = std::variant<std::int64_t, std::string>;

struct Event {
  std::uint64_t seq = 0;
  std::chrono::system_clock::time_point time{};
  std::string type;     // "syscall", "service_started", "fault_applied", ...
  std::string service;  // the lane; empty for events that belong to no service
  std::vector<std::pair<std::string, FieldValue>> fields;  // in the order they were set
  VectorClock clock;

  /// The field's value, or nullptr.
  const FieldValue* field(std::string_view name) const;
  /// The field as text ("" when absent; numbers in decimal).
  std::string text(std::string_view name) const;
};

/// RFC 3339 in UTC with nanoseconds, as the reference writes timestamps.
std::string rfc3339(std::chrono::system_clock::time_point time);

/// One line of JSON: {"seq":..,"time":"RFC 3339 with ns","type":..,"service":..,
/// "fields":{..},"vector_clock":{..}}; empty maps are left out.
std::string to_json_line(const Event& event);

class EventLog {
 public:
  using Fields = std::vector<std::pair<std::string, FieldValue>>;
  using Listener = std::function<void(const Event&)>;
  /// An appended event is immutable and shared: the log and its readers hold the same
  /// one, so that a reader that keeps every event (a monitor) copies none.
  using Shared = std::shared_ptr<const Event>;
  using SharedListener = std::function<void(const Shared&)>;

  /// `retain`: keep every event for snapshot(). A log only streamed to listeners (as
  /// `faultbox run` does) need not grow without bound.
  explicit EventLog(bool retain = true) : retain_(retain), observed_(retain) {}

  /// Appends an event, ticking `service`'s own clock entry, and returns its seq.
  /// Listeners run under the log's lock, in seq order.
  std::uint64_t append(std::string type, std::string service, Fields fields);

  /// `into` has now seen everything `from` had: entry-wise max, then a tick is not
  /// taken (the next event of `into` ticks). Used when a message crosses lanes.
  void merge(std::string_view into, std::string_view from);

  /// Called for every event appended from now on (e.g. a JSON-lines writer), until
  /// unsubscribe() with the returned id.
  std::uint64_t subscribe(Listener listener);
  std::uint64_t subscribe_shared(SharedListener listener);
  /// Stops calling a listener; once this returns it is not running and never will.
  void unsubscribe(std::uint64_t id);

  /// Whether anything will see an appended event: the log keeps events or has a
  /// listener. When not, a caller on a hot path may tick() instead of building one.
  bool observed() const { return observed_.load(std::memory_order_relaxed); }
  /// Counts an event nobody will see: its seq and its lane's clock move on as if it
  /// had been appended.
  void tick(std::string_view service);

  /// Every event appended so far (none when the log does not retain them).
  std::vector<Event> snapshot() const;
  /// The retained events from index `from` (0-based) on: what a poller has not seen yet.
  std::vector<Shared> since(std::size_t from) const;
  /// How many events were appended.
  std::size_t size() const;
  /// How many events `service`'s own lane has had (appended or ticked), since clear():
  /// a cheap way to see whether a service did anything.
  std::uint64_t count(std::string_view service) const;
  /// Forgets every event and clock and starts seq again at 1 (listeners stay): one
  /// log can then serve test after test.
  void clear();

 private:
  mutable std::mutex mutex_;
  bool retain_ = true;
  std::atomic<bool> observed_{true};
  std::uint64_t appended_ = 0;
  std::vector<Shared> events_;
  std::map<std::string, VectorClock, std::less<>> clocks_;
  struct Subscriber {
    std::uint64_t id;
    Listener plain;
    SharedListener shared;
  };
  std::vector<Subscriber> listeners_;
  std::uint64_t next_listener_ = 1;
};

}  // namespace fb::runtime
