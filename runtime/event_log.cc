#include "runtime/event_log.h"

#include <ctime>

#include <cstdio>

namespace fb::runtime {

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

/// The length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char lead = byte(i);
  std::size_t n = lead >= 0xF0 && lead <= 0xF4 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 0;
  if (n == 0 || lead > 0xF4 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  unsigned char second = byte(i + 1);
  if (lead == 0xE0 && second < 0xA0) return 0;  // overlong
  if (lead == 0xED && second > 0x9F) return 0;  // surrogates
  if (lead == 0xF0 && second < 0x90) return 0;  // overlong
  if (lead == 0xF4 && second > 0x8F) return 0;  // beyond U+10FFFF
  return n;
}

/// Appends `s` as a JSON string. Paths read from a target may hold any bytes: what is
/// not UTF-8 becomes U+FFFD, so every line stays valid JSON.
void append_string(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (std::size_t n = utf8_length(s, i)) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        out += "\xEF\xBF\xBD";
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char escape[8];
          std::snprintf(escape, sizeof escape, "\\u%04x", c);
          out += escape;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

}  // namespace

// Written by hand rather than through a JSON tree: with every event going out as it
// happens, building a tree per line was a visible share of the supervisor's time.
std::string to_json_line(const Event& event) {
  std::string out;
  out.reserve(256);
  out += "{\"seq\":" + std::to_string(event.seq) + ",\"time\":";
  append_string(out, rfc3339(event.time));
  out += ",\"type\":";
  append_string(out, event.type);
  if (!event.service.empty()) {
    out += ",\"service\":";
    append_string(out, event.service);
  }
  if (!event.fields.empty()) {
    out += ",\"fields\":{";
    bool first = true;
    for (const auto& [key, value] : event.fields) {
      if (!first) out += ',';
      first = false;
      append_string(out, key);
      out += ':';
      if (const auto* number = std::get_if<std::int64_t>(&value))
        out += std::to_string(*number);
      else
        append_string(out, std::get<std::string>(value));
    }
    out += '}';
  }
  if (!event.clock.empty()) {
    out += ",\"vector_clock\":{";
    bool first = true;
    for (const auto& [lane, count] : event.clock) {
      if (!first) out += ',';
      first = false;
      append_string(out, lane);
      out += ':' + std::to_string(count);
    }
    out += '}';
  }
  out += '}';
  return out;
}

std::uint64_t EventLog::append(std::string type, std::string service, Fields fields) {
  std::lock_guard lock(mutex_);
  auto made = std::make_shared<Event>();
  Event& event = *made;
  event.seq = ++appended_;
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
  Shared shared = std::move(made);
  for (const auto& s : listeners_) {
    if (s.plain) s.plain(*shared);
    if (s.shared) s.shared(shared);
  }
  if (retain_) events_.push_back(std::move(shared));
  return appended_;
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

std::uint64_t EventLog::subscribe(Listener listener) {
  std::lock_guard lock(mutex_);
  listeners_.push_back({next_listener_, std::move(listener), nullptr});
  observed_ = true;
  return next_listener_++;
}

std::uint64_t EventLog::subscribe_shared(SharedListener listener) {
  std::lock_guard lock(mutex_);
  listeners_.push_back({next_listener_, nullptr, std::move(listener)});
  observed_ = true;
  return next_listener_++;
}

void EventLog::unsubscribe(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  std::erase_if(listeners_, [&](const Subscriber& s) { return s.id == id; });
  observed_ = retain_ || !listeners_.empty();
}

void EventLog::tick(std::string_view service) {
  std::lock_guard lock(mutex_);
  ++appended_;
  if (service.empty()) return;
  auto it = clocks_.find(service);
  if (it == clocks_.end()) it = clocks_.emplace(std::string(service), VectorClock{}).first;
  auto own = it->second.find(service);
  if (own == it->second.end()) own = it->second.emplace(std::string(service), 0).first;
  ++own->second;
}

std::vector<Event> EventLog::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<Event> copy;
  copy.reserve(events_.size());
  for (const auto& e : events_) copy.push_back(*e);
  return copy;
}

std::vector<EventLog::Shared> EventLog::since(std::size_t from) const {
  std::lock_guard lock(mutex_);
  if (from >= events_.size()) return {};
  return {events_.begin() + static_cast<std::ptrdiff_t>(from), events_.end()};
}

void EventLog::clear() {
  std::lock_guard lock(mutex_);
  events_.clear();
  clocks_.clear();
  appended_ = 0;
}

std::uint64_t EventLog::count(std::string_view service) const {
  std::lock_guard lock(mutex_);
  auto it = clocks_.find(service);
  if (it == clocks_.end()) return 0;
  auto own = it->second.find(service);
  return own == it->second.end() ? 0 : own->second;
}

std::size_t EventLog::size() const {
  std::lock_guard lock(mutex_);
  return appended_;
}

}  // namespace fb::runtime
