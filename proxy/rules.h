#pragma once
/// Protocol fault rules as plain data, and how a message is matched against them. The
/// matching follows the reference's semantics, which specs rely on: an empty pattern
/// matches everything, a pattern without `*` is a case-insensitive exact match, and one
/// with `*` is a shell-style match in which `*` and `?` stay within a `/` segment, with
/// a trailing `*` falling back to a prefix test and a leading one to a suffix test (so
/// "/api/*" matches "/api/v1/orders").

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace fb::proxy {

/// The reference's glob (see the file comment).
bool glob_match(std::string_view pattern, std::string_view text);

/// What a protocol filter knows about one message it is deciding.
struct Message {
  std::string method;   // HTTP method, tcp first bytes, gRPC method
  std::string path;     // HTTP path without the query
  std::string query;    // SQL text, or an HTTP query string
  std::string command;  // Redis or memcached command, upper-cased
  std::string key;      // Redis or memcached key, collection
  std::string topic;    // Kafka topic, NATS subject, AMQP routing key
};

struct Rule {
  enum class Action { kRespond, kError, kDelay, kDrop, kDuplicate } action = Action::kError;
  // Matchers, as globs; empty matches anything.
  std::string method, path, query, command, key, topic;
  int status = 0;        // respond/error: the status to answer with (0: the protocol's)
  std::string body;      // respond: what to answer
  std::string message;   // error: the protocol's error text
  std::string sqlstate;  // error on postgres: the SQLSTATE (else from the message, or XX000)
  std::chrono::nanoseconds delay{0};
  double probability = 1.0;  // 0 < p <= 1
  std::uint64_t nth = 0;     // fire only on the nth match (1-based), 0: off
  std::uint64_t after = 0;   // fire on every match after the first `after`
  std::string source;        // only for connections from this service ("" any caller)
  std::string label;
  std::string text;  // the rule as written, for events and reports
};

/// The matchers a protocol fills in a Message.
enum Field : unsigned {
  kMethod = 1,
  kPath = 2,
  kQuery = 4,
  kCommand = 8,
  kKey = 16,
  kTopic = 32,
};

/// Whether the matchers of `rule` accept `message`. Those in `own` are matched as globs.
/// A matcher the protocol does not fill is compared with "" when `strict` (as the
/// reference's HTTP and Redis filters do, so `query=` on an HTTP rule matches only
/// "*"), and ignored otherwise.
bool matches(const Rule& rule, const Message& message, unsigned own, bool strict);

const char* action_name(Rule::Action action);

}  // namespace fb::proxy
