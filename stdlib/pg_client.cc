// The PostgreSQL step client: protocol 3.0 over a blocking socket, with the framing the
// proxy uses.
#include "stdlib/pg_client.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "proxy/pg_framing.h"
#include "stdlib/net.h"

namespace fb::stdlib::pg {

namespace framing = fb::proxy::pg;
using Clock = std::chrono::steady_clock;

namespace {

std::string hex(const unsigned char* bytes, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 15];
  }
  return out;
}

std::string md5_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), digest, &n, EVP_md5(), nullptr);
  return hex(digest, n);
}

std::string hmac256(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &n);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string sha256(const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string base64(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> unbase64(const std::string& text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t padding = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

/// The attribute `name` ("r", "s", "i", "v", "e") of a SCRAM message "r=...,s=...".
std::string scram_attr(const std::string& text, char name) {
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find(',', at);
    if (end == std::string::npos) end = text.size();
    if (end - at >= 2 && text[at] == name && text[at + 1] == '=')
      return text.substr(at + 2, end - at - 2);
    at = end + 1;
  }
  return "";
}

/// One connection's exchange: write, and read whole messages, within the deadline.
struct Conversation {
  runtime::UniqueFd fd;
  Clock::time_point deadline;
  std::string buf;
  std::string error;

  bool send(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        error = std::string("send: ") + std::strerror(errno);
        return false;
      }
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// The next server message, or nullopt with `error`.
  std::optional<std::string> next() {
    for (;;) {
      std::size_t size = 0;
      std::string why;
      auto parsed = framing::message_size(buf, false, size, why);
      if (parsed == framing::Parse::kComplete) {
        std::string m = buf.substr(0, size);
        buf.erase(0, size);
        return m;
      }
      if (parsed == framing::Parse::kMalformed) {
        error = "not a PostgreSQL server: " + why;
        return std::nullopt;
      }
      if (CancelScope::cancelled()) {
        error = "cancelled";
        return std::nullopt;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        error = "timed out waiting for the server";
        return std::nullopt;
      }
      pollfd p{fd.get(), POLLIN, 0};
      // In slices, so that a cancelled test does not wait out the deadline.
      int ready = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 50)));
      if (ready == 0) continue;
      if (ready < 0) {
        if (errno == EINTR) continue;
        error = std::strerror(errno);
        return std::nullopt;
      }
      char chunk[16384];
      ssize_t n = ::recv(fd.get(), chunk, sizeof chunk, 0);
      if (n == 0) {
        error = buf.empty() ? "the server closed the connection"
                            : "the server closed the connection inside a message";
        return std::nullopt;
      }
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        error = std::strerror(errno);
        return std::nullopt;
      }
      buf.append(chunk, static_cast<std::size_t>(n));
    }
  }
};

/// "ERROR: message (SQLSTATE code)" from an ErrorResponse; the code in `sqlstate`.
std::string describe_error(const std::string& m, std::string& sqlstate) {
  std::string severity = "ERROR", text;
  for (const auto& [code, value] : framing::error_fields(m)) {
    if (code == 'S') severity = value;
    if (code == 'C') sqlstate = value;
    if (code == 'M') text = value;
  }
  return severity + ": " + text + (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")");
}

/// The SCRAM-SHA-256 exchange, from the server's list of mechanisms to its final
/// message (which the client checks: it proves the server knew the password too).
bool scram(Conversation& c, const Target& t, const std::string& mechanisms, std::string& sqlstate) {
  bool offered = false;
  for (std::size_t at = 9; at < mechanisms.size();) {
    std::size_t end = mechanisms.find('\0', at);
    if (end == std::string::npos || end == at) break;
    offered = offered || mechanisms.substr(at, end - at) == "SCRAM-SHA-256";
    at = end + 1;
  }
  if (!offered) {
    c.error = "the server offers no SASL mechanism this client speaks (want SCRAM-SHA-256)";
    return false;
  }
  unsigned char raw[18];
  RAND_bytes(raw, sizeof raw);
  std::string nonce = base64(std::string(reinterpret_cast<char*>(raw), sizeof raw));
  std::string first_bare = "n=,r=" + nonce;  // the server takes the user from startup
  std::string first = "n,," + first_bare;
  std::string body = std::string("SCRAM-SHA-256") + '\0';
  framing::put_u32(body, static_cast<std::uint32_t>(first.size()));
  if (!c.send(framing::typed_message('p', body + first))) return false;
  auto server_first_msg = c.next();
  if (!server_first_msg) return false;
  if ((*server_first_msg)[0] == 'E') {
    c.error = describe_error(*server_first_msg, sqlstate);
    return false;
  }
  if ((*server_first_msg)[0] != 'R' || server_first_msg->size() < 9 ||
      framing::read_u32(server_first_msg->substr(5)) != 11) {
    c.error = "SCRAM: expected the server's first message";
    return false;
  }
  std::string server_first = server_first_msg->substr(9);
  std::string server_nonce = scram_attr(server_first, 'r');
  auto salt = unbase64(scram_attr(server_first, 's'));
  int iterations = std::atoi(scram_attr(server_first, 'i').c_str());
  if (!server_nonce.starts_with(nonce) || !salt || iterations <= 0) {
    c.error = "SCRAM: the server's first message is not valid";
    return false;
  }
  std::string salted(32, '\0');
  PKCS5_PBKDF2_HMAC(t.password.data(), static_cast<int>(t.password.size()),
                    reinterpret_cast<const unsigned char*>(salt->data()),
                    static_cast<int>(salt->size()), iterations, EVP_sha256(), 32,
                    reinterpret_cast<unsigned char*>(salted.data()));
  std::string client_key = hmac256(salted, "Client Key");
  std::string final_bare = "c=biws,r=" + server_nonce;  // biws: base64("n,,")
  std::string auth_message = first_bare + "," + server_first + "," + final_bare;
  std::string signature = hmac256(sha256(client_key), auth_message);
  std::string proof = client_key;
  for (std::size_t i = 0; i < proof.size(); ++i) proof[i] ^= signature[i];
  if (!c.send(framing::typed_message('p', final_bare + ",p=" + base64(proof)))) return false;
  auto server_final = c.next();
  if (!server_final) return false;
  if ((*server_final)[0] == 'E') {
    c.error = describe_error(*server_final, sqlstate);
    return false;
  }
  if ((*server_final)[0] != 'R' || server_final->size() < 9 ||
      framing::read_u32(server_final->substr(5)) != 12) {
    c.error = "SCRAM: expected the server's final message";
    return false;
  }
  std::string expected = base64(hmac256(hmac256(salted, "Server Key"), auth_message));
  if (scram_attr(server_final->substr(9), 'v') != expected) {
    c.error = "SCRAM: the server's signature does not match (it does not know the password)";
    return false;
  }
  return true;
}

/// Startup and authentication up to the first ReadyForQuery.
bool start(Conversation& c, const Target& t, std::string& sqlstate) {
  std::string params;
  auto param = [&](const std::string& name, const std::string& value) {
    params += name + '\0' + value + '\0';
  };
  param("user", t.user);
  if (!t.database.empty()) param("database", t.database);
  param("application_name", "faultbox");
  param("client_encoding", "UTF8");
  std::string startup;
  framing::put_u32(startup, static_cast<std::uint32_t>(8 + params.size() + 1));
  framing::put_u32(startup, framing::kProtocol3);
  startup += params + '\0';
  if (!c.send(startup)) return false;
  for (;;) {
    auto m = c.next();
    if (!m) return false;
    char type = (*m)[0];
    if (type == 'E') {
      c.error = describe_error(*m, sqlstate);
      return false;
    }
    if (type == 'Z') return true;
    if (type != 'R') continue;  // ParameterStatus, BackendKeyData, notices
    std::uint32_t kind = framing::read_u32(m->substr(5));
    if (kind == 0) continue;  // AuthenticationOk
    if ((kind == 3 || kind == 5 || kind == 10) && t.password.empty()) {
      c.error =
          "the server asks for a password and none is given (POSTGRES_PASSWORD in the "
          "service's env, password=, or connstr=)";
      return false;
    }
    if (kind == 3) {
      if (!c.send(framing::typed_message('p', t.password + '\0'))) return false;
    } else if (kind == 5 && m->size() >= 13) {
      std::string salt = m->substr(9, 4);
      std::string answer = "md5" + md5_hex(md5_hex(t.password + t.user) + salt);
      if (!c.send(framing::typed_message('p', answer + '\0'))) return false;
    } else if (kind == 10) {
      if (!scram(c, t, *m, sqlstate)) return false;
    } else {
      c.error = "the server asks for an authentication method this client does not speak (" +
                std::to_string(kind) + ")";
      return false;
    }
  }
}

}  // namespace

bool parse_connstr(const std::string& text, Target& t, std::string& error) {
  auto decode = [](std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {  // escapes were checked by valid_hex
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += s[i];
      }
    }
    return out;
  };
  auto valid_hex = [](std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i)
      if (s[i] == '%' &&
          (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
           !std::isxdigit(static_cast<unsigned char>(s[i + 2]))))
        return false;
    return true;
  };
  std::string_view s = text;
  for (std::string_view scheme : {"postgres://", "postgresql://"}) {
    if (!s.starts_with(scheme)) continue;
    if (!valid_hex(s)) {
      error = "connstr: a '%' escape is not two hex digits";
      return false;
    }
    s.remove_prefix(scheme.size());
    std::string_view authority = s.substr(0, s.find_first_of("/?"));
    std::string_view rest = s.substr(authority.size());
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
      std::string_view userinfo = authority.substr(0, at);
      authority.remove_prefix(at + 1);
      auto colon = userinfo.find(':');
      t.user = decode(userinfo.substr(0, colon));
      if (colon != std::string_view::npos) t.password = decode(userinfo.substr(colon + 1));
    }
    if (!authority.empty()) {
      auto colon = authority.rfind(':');
      if (colon != std::string_view::npos) {
        t.host = std::string(authority.substr(0, colon));
        std::string port(authority.substr(colon + 1));
        char* end = nullptr;
        long p = std::strtol(port.c_str(), &end, 10);
        if (port.empty() || *end || p <= 0 || p > 65535) {
          error = "connstr: port '" + port + "' is not a port number";
          return false;
        }
        t.port = static_cast<int>(p);
      } else {
        t.host = std::string(authority);
      }
    }
    if (rest.starts_with("/")) t.database = decode(rest.substr(1, rest.find('?') - 1));
    return true;
  }
  // key=value pairs separated by spaces; values may be quoted with '...'.
  std::size_t at = 0;
  while (at < text.size()) {
    while (at < text.size() && std::isspace(static_cast<unsigned char>(text[at]))) ++at;
    if (at >= text.size()) break;
    auto eq = text.find('=', at);
    if (eq == std::string::npos) {
      error = "connstr: '" + text.substr(at) + "' is not key=value";
      return false;
    }
    std::string key = text.substr(at, eq - at);
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    at = eq + 1;
    while (at < text.size() && text[at] == ' ') ++at;
    std::string value;
    if (at < text.size() && text[at] == '\'') {
      for (++at; at < text.size() && text[at] != '\''; ++at) {
        if (text[at] == '\\' && at + 1 < text.size()) ++at;
        value += text[at];
      }
      if (at >= text.size()) {
        error = "connstr: an unterminated quote in " + key + "=";
        return false;
      }
      ++at;
    } else {
      while (at < text.size() && !std::isspace(static_cast<unsigned char>(text[at])))
        value += text[at++];
    }
    if (key == "host" || key == "hostaddr") {
      t.host = value;
    } else if (key == "port") {
      char* end = nullptr;
      long p = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end || p <= 0 || p > 65535) {
        error = "connstr: port '" + value + "' is not a port number";
        return false;
      }
      t.port = static_cast<int>(p);
    } else if (key == "user") {
      t.user = value;
    } else if (key == "password") {
      t.password = value;
    } else if (key == "dbname") {
      t.database = value;
    }
  }
  return true;
}

Result run(const Target& t, const std::string& sql, std::chrono::milliseconds timeout) {
  Result r;
  Conversation c;
  c.deadline = Clock::now() + timeout;
  c.fd = dial(t.host, t.port, std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(5)),
              r.error);
  if (!c.fd) return r;
  if (!start(c, t, r.sqlstate)) {
    r.error = c.error;
    return r;
  }
  if (!c.send(framing::typed_message('Q', sql + '\0'))) {
    r.error = c.error;
    return r;
  }
  bool first_set_done = false;
  for (;;) {
    auto m = c.next();
    if (!m) {
      // A FATAL error ends the connection: the server's own words explain it best.
      if (r.error.empty()) r.error = c.error;
      return r;
    }
    char type = (*m)[0];
    if (type == 'Z') break;
    if (type == 'E' && r.error.empty()) r.error = describe_error(*m, r.sqlstate);
    // (Every length below is checked: a server's message may be shorter than it should.)
    if (type == 'T' && m->size() >= 7 && r.columns.empty() && !first_set_done) {
      std::size_t at = 5 + 2;
      std::uint32_t count = static_cast<std::uint32_t>((static_cast<unsigned char>((*m)[5]) << 8) |
                                                       static_cast<unsigned char>((*m)[6]));
      for (std::uint32_t i = 0; i < count; ++i) {
        auto end = m->find('\0', at);
        if (end == std::string::npos || end + 19 > m->size()) break;
        Column col;
        col.name = m->substr(at, end - at);
        col.type = framing::read_u32(m->substr(end + 7));
        r.columns.push_back(std::move(col));
        at = end + 19;
      }
    }
    if (type == 'D' && !first_set_done && m->size() >= 7) {
      std::vector<std::optional<std::string>> row;
      std::size_t count =
          (static_cast<unsigned char>((*m)[5]) << 8) | static_cast<unsigned char>((*m)[6]);
      std::size_t at = 7;
      for (std::size_t i = 0; i < count && at + 4 <= m->size(); ++i) {
        std::uint32_t n = framing::read_u32(m->substr(at));
        at += 4;
        if (n == 0xffffffffu) {
          row.emplace_back(std::nullopt);
          continue;
        }
        if (at + n > m->size()) break;
        row.emplace_back(m->substr(at, n));
        at += n;
      }
      r.rows.push_back(std::move(row));
    }
    if (type == 'C') {
      if (!r.columns.empty()) first_set_done = true;
      r.tag = m->substr(5, m->find('\0', 5) - 5);
      auto space = r.tag.rfind(' ');
      r.rows_affected =
          space == std::string::npos ? 0 : std::strtoll(r.tag.c_str() + space + 1, nullptr, 10);
    }
  }
  // Be polite: Terminate, so the server logs no "unexpected EOF".
  c.send(framing::typed_message('X', ""));
  return r;
}

}  // namespace fb::stdlib::pg
