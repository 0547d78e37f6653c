#include "net/socket_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

namespace ringproxy::proxy {

std::string SocketAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {0};
  switch (storage.ss_family) {
    case AF_INET: {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
      inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
      return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
    }
    case AF_INET6: {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
      inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
      return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    case AF_UNIX:
      return reinterpret_cast<const sockaddr_un*>(&storage)->sun_path;
    default:
      return "?";
  }
}

bool ResolveAddress(const std::string& host, uint16_t port, const std::string& unix_path,
                    SocketAddress* out, std::string* error) {
  *out = SocketAddress{};
  if (!unix_path.empty()) {
    sockaddr_un un{};
    if (unix_path.size() >= sizeof(un.sun_path)) {
      *error = "unix socket path too long: " + unix_path;
      return false;
    }
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, unix_path.data(), unix_path.size());
    std::memcpy(&out->storage, &un, sizeof(un));
    out->length = sizeof(un);
    return true;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &result);
  if (rc != 0 || result == nullptr) {
    *error = "cannot resolve '" + host + "': " + gai_strerror(rc);
    return false;
  }
  std::memcpy(&out->storage, result->ai_addr, result->ai_addrlen);
  out->length = result->ai_addrlen;
  freeaddrinfo(result);
  return true;
}

bool SocketAddress::operator==(const SocketAddress& other) const {
  return length == other.length && std::memcmp(&storage, &other.storage, length) == 0;
}

}  // namespace ringproxy::proxy
