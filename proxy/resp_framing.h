#pragma once
/// RESP2/RESP3 framing for the Redis proxy: where one value ends, and what command a
/// request names. Pure functions, fuzzed alone.

#include <string>
#include <string_view>

#include "proxy/http_framing.h"  // Parse

namespace fb::proxy::resp {

using http::Parse;

/// The extent of one complete RESP value at the start of `data` (a reply, or a request
/// array of bulk strings), or of one inline command line ("PING\r\n"). kIncomplete until
/// it has arrived; kMalformed with `error` otherwise.
Parse value_size(std::string_view data, std::size_t& size, std::string& error);

/// A request's command (upper-cased) and key (its first argument, "" if none), from a
/// complete value that value_size() accepted.
void command_of(std::string_view request, std::string& command, std::string& key);

/// Whether a reply value is a RESP3 push (">..."), which answers no request.
inline bool is_push(std::string_view reply) { return !reply.empty() && reply[0] == '>'; }

}  // namespace fb::proxy::resp
