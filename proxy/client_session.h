#pragma once

#include <cstdint>
#include <string>

namespace ringproxy::proxy {

// What the proxy remembers about one client between its requests.
struct ClientSession {
  uint64_t id = 0;
  std::string name;                // CLIENT SETNAME
  bool authenticated = false;      // only consulted when the pool has redis_auth
  bool close_after_reply = false;  // QUIT, or too many wrong passwords
  uint32_t auth_failures = 0;      // wrong passwords given on this connection
};

}  // namespace ringproxy::proxy
