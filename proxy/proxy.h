#pragma once
/// The proxy manager: one listener per dependency edge (a caller, which is a service or
/// the test driver, to a service's interface), so every connection's caller is known.
/// Connections are relayed to the real interface; a protocol filter looks at the bytes
/// both ways and applies the rules installed for the interface. Everything runs on one
/// Boost.Asio thread the manager owns; the rest of faultbox calls in from its own
/// threads.
///
/// Events (in the target service's lane): proxy_conn_open {interface, protocol, caller,
/// conn_id}, proxy_conn_close {interface, conn_id, bytes_c2s, bytes_s2c, reason}, and
/// proxy {interface, protocol, action, rule, ...protocol fields} when a rule fires.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/rules.h"
#include "runtime/event_log.h"
#include "runtime/supervisor.h"

namespace fb::proxy {

/// The real interface a proxy relays to.
struct Upstream {
  std::string service;
  std::string interface;
  std::string protocol;  // tcp, http, redis and postgres are filtered; others relay as bytes
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  /// An HTTP request head not complete this long after its first byte closes the
  /// connection (proxy_conn_close reason "head_timeout"): a slow or stalled client
  /// cannot hold connections open forever. An idle connection between requests is fine.
  std::chrono::milliseconds head_timeout{std::chrono::seconds(30)};
};

using RuleSetId = std::uint64_t;

class Manager {
 public:
  /// Probabilistic rules draw from H(seed, service, rule, occurrence).
  Manager(runtime::EventLog& log, std::uint64_t seed);
  /// Closes every listener and connection.
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  /// The listener for `caller` -> `upstream`, started on first use on an ephemeral
  /// port of 127.0.0.1. Returns its port, or nullopt with `error`.
  std::optional<std::uint16_t> listen(const std::string& caller, const Upstream& upstream,
                                      std::string& error);

  /// Adds rules for the interface, atomically: a message is decided either entirely
  /// without them or with all of them. Sets installed later are consulted first;
  /// within a set, rules go in order and the first that fires decides. Records
  /// fault_applied {interface, rules} in the service's lane, and remove() records
  /// fault_removed {interface, rules, fires}.
  RuleSetId install(const std::string& service, const std::string& interface,
                    std::vector<Rule> rules);
  /// Removes a set. False when it is not installed.
  bool remove(RuleSetId set);
  /// The counters of each rule of a set, installed or removed, in rule order.
  std::vector<runtime::RuleHits> hits(RuleSetId set) const;

  /// Closes the listeners and connections of a service.
  void close_service(const std::string& service);
  /// Closes the connections to a service and keeps its listeners (it stopped and will
  /// start again on the same ports).
  void cut(const std::string& service);
  void set_seed(std::uint64_t seed);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fb::proxy
