// SocketAddress: a resolved server or listener address (IPv4, IPv6 or a unix socket path), as
// the DNS resolver produces it and connections dial it.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace ringproxy::proxy {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  bool is_unix() const { return storage.ss_family == AF_UNIX; }
  std::string ToString() const;
  bool operator==(const SocketAddress& other) const;
};

// Resolves host:port (first address, as nutcracker) or a unix path. Blocking.
bool ResolveAddress(const std::string& host, uint16_t port, const std::string& unix_path,
                    SocketAddress* out, std::string* error);

}  // namespace ringproxy::proxy
