#include "runtime/event_log.h"

#include <ctime>

#include <nlohmann/json.hpp>

namespace fb::runtime {

bool happens_before(const VectorClock& a, const VectorClock& b) {
  bool less = false;
  for (const auto& [lane, count] : a) {
    auto it = b.find(lane);
    std::uint64_t other = it == b.end() ? 0 : it->second;
    if (count > other) return false;
    if (count < other) less = true;
  }
  // Entries only b has are > 0 in b and 0 in a.
  for (const auto& [lane, count] : b)
    if (count > 0 && !a.contains(lane)) less = true;
  return less;
}

const FieldValue* Event::field(std::string_view name) const {
  for (const auto& [key, value] : fields)
    if (key == name) return &value;
  return nullptr;
}

std::string Event::text(std::string_view name) const {
  const FieldValue* value = field(name);
  if (!value) return "";
  if (const auto* number = std::get_if<std::int64_t>(value)) return std::to_string(*number);
  return std::get<std::string>(*value);
}

namespace {

/// RFC 3339 in UTC with nanoseconds, as the reference writes timestamps.
std::string rfc3339(std::chrono::system_clock::time_point time) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buffer[64];
  std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buffer + n, sizeof buffer - n, ".%09lldZ",
                static_cast<long long>(ns % 1'000'000'000));
  return buffer;
}

}  // namespace

std::string to_json_line(const Event& event) {
  nlohmann::ordered_json j;
  j["seq"] = event.seq;
  j["time"] = rfc3339(event.time);
  j["type"] = event.type;
  if (!event.service.empty()) j["service"] = event.service;
  if (!event.fields.empty()) {
    auto& fields = j["fields"] = nlohmann::ordered_json::object();
    for (const auto& [key, value] : event.fields)
      std::visit([&](const auto& v) { fields[key] = v; }, value);
  }
  if (!event.clock.empty()) {
    auto& clock = j["vector_clock"] = nlohmann::ordered_json::object();
    for (const auto& [lane, count] : event.clock) clock[lane] = count;
  }
  // Paths read from a target may hold any bytes; replace what is not UTF-8.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::uint64_t EventLog::append(std::string type, std::string service, Fields fields) {
  std::lock_guard lock(mutex_);
  Event event;
  event.seq = events_.size() + 1;
  event.time = std::chrono::system_clock::now();
  event.type = std::move(type);
  event.fields = std::move(fields);
  if (!service.empty()) {
    auto it = clocks_.find(service);
    if (it == clocks_.end()) it = clocks_.emplace(service, VectorClock{}).first;
    ++it->second[service];
    event.clock = it->second;
  }
  event.service = std::move(service);
  events_.push_back(std::move(event));
  for (const auto& listener : listeners_) listener(events_.back());
  return events_.back().seq;
}

void EventLog::merge(std::string_view into, std::string_view from) {
  std::lock_guard lock(mutex_);
  auto source = clocks_.find(from);
  if (source == clocks_.end()) return;
  VectorClock seen = source->second;  // copied: `into` may be inserted next to it
  auto target = clocks_.find(into);
  if (target == clocks_.end()) target = clocks_.emplace(std::string(into), VectorClock{}).first;
  for (const auto& [lane, count] : seen) {
    auto& mine = target->second[lane];
    if (count > mine) mine = count;
  }
}

void EventLog::subscribe(Listener listener) {
  std::lock_guard lock(mutex_);
  listeners_.push_back(std::move(listener));
}

std::vector<Event> EventLog::snapshot() const {
  std::lock_guard lock(mutex_);
  return events_;
}

std::size_t EventLog::size() const {
  std::lock_guard lock(mutex_);
  return events_.size();
}

}  // namespace fb::runtime
