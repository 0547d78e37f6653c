#pragma once

#include <cstdint>
#include <string>

namespace ringproxy::proxy {

// What the proxy remembers about one client between its requests.
struct ClientSession {
  uint64_t id = 0;
  std::string name;                // CLIENT SETNAME
  bool authenticated = false;      // only consulted when the pool has redis_auth
  bool close_after_reply = false;  // QUIT
};

}  // namespace ringproxy::proxy
