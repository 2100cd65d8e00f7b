#pragma once
/// A small PostgreSQL client for steps and ready(): one connection per call, startup and
/// authentication (trust, cleartext, MD5, SCRAM-SHA-256), one simple-protocol query.
/// Touches no VM value, so it may run without the VM lock; every wait is bounded and
/// ends early when the thread's CancelScope is cancelled.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fb::stdlib::pg {

struct Target {
  std::string host = "localhost";
  int port = 5432;
  std::string user = "postgres";
  std::string password;
  std::string database;  // "" means the user's name, as the server defaults
};

/// Reads a connection string over `target`: a URL (postgres://user:pass@host:port/db,
/// or postgresql://) or libpq's key=value form (host port user password dbname; other
/// keys such as sslmode are accepted and ignored, the client speaks plaintext).
bool parse_connstr(const std::string& text, Target& target, std::string& error);

struct Column {
  std::string name;
  std::uint32_t type = 0;  // the type's OID
};

struct Result {
  std::vector<Column> columns;                                // of the first result set
  std::vector<std::vector<std::optional<std::string>>> rows;  // text values, nullopt = NULL
  std::string tag;                 // the last CommandComplete tag ("INSERT 0 1")
  std::int64_t rows_affected = 0;  // its count
  /// "" on success; else a transport failure, or the server's error as
  /// "SEVERITY: message (SQLSTATE code)".
  std::string error;
  std::string sqlstate;  // the server error's code
};

/// Connects, authenticates and runs `sql` (one or more statements) within `timeout`.
Result run(const Target& target, const std::string& sql, std::chrono::milliseconds timeout);

}  // namespace fb::stdlib::pg
