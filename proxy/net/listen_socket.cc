#include "net/listen_socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringproxy::proxy {
namespace {

int Fail(int fd, const std::string& what, std::string* error) {
  *error = what + ": " + std::strerror(errno);
  if (fd >= 0) ::close(fd);
  return -1;
}

bool Refuse(int fd, const std::string& what, std::string* error) {
  Fail(fd, what, error);
  return false;
}

std::string ListenText(const config::ListenAddress& listen) {
  return listen.is_unix() ? listen.unix_path : listen.host + ":" + std::to_string(listen.port);
}

uint16_t PortOf(const SocketAddress& address) {
  if (address.storage.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&address.storage)->sin6_port);
}

bool IsWildcard(const SocketAddress& address) {
  if (address.storage.ss_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_addr.s_addr ==
           htonl(INADDR_ANY);
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
  return IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
}

bool SameHost(const SocketAddress& a, const SocketAddress& b) {
  if (a.storage.ss_family != b.storage.ss_family) return false;
  if (a.storage.ss_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in*>(&b.storage)->sin_addr.s_addr;
  }
  return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_addr,
                     &reinterpret_cast<const sockaddr_in6*>(&b.storage)->sin6_addr,
                     sizeof(in6_addr)) == 0;
}

// Whether a process accepts connections on the unix socket at `path`: a file left by a process
// that is gone refuses them.
bool UnixSocketAnswers(const SocketAddress& address) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool answers = ::connect(fd, address.get(), address.length) == 0;
  ::close(fd);
  return answers;
}

}  // namespace

bool ResolveListenAddress(const config::ListenAddress& listen, SocketAddress* address,
                          std::string* error) {
  return ResolveAddress(listen.host, listen.port, listen.unix_path, address, error);
}

int OpenListenSocket(const config::ListenAddress& listen, int backlog, PortSharing sharing,
                     std::string* error) {
  SocketAddress address;
  if (!ResolveListenAddress(listen, &address, error)) return -1;
  const std::string where = address.ToString();
  const int fd = ::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(fd, "socket for " + where, error);
  const int on = 1;
  if (address.is_unix()) {
    // A socket file left by a process that is gone would make bind fail: remove it, as
    // nutcracker does. One that a live process answers on is that process's address.
    if (UnixSocketAnswers(address)) {
      errno = EADDRINUSE;
      return Fail(fd, "bind " + where, error);
    }
    ::unlink(listen.unix_path.c_str());
  } else {
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) {
      return Fail(fd, "SO_REUSEADDR on " + where, error);
    }
    const bool before_bind =
        sharing == PortSharing::kJoinGroup || sharing == PortSharing::kAnyProcess;
    if (before_bind && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
      return Fail(fd, "SO_REUSEPORT on " + where, error);
    }
  }
  if (::bind(fd, address.get(), address.length) != 0) return Fail(fd, "bind " + where, error);
  // Bound exclusively, so nobody else holds the address; from here on the sockets of this
  // process's other workers may join it (the kernel forms the group when this one listens).
  if (sharing == PortSharing::kFirstOfGroup &&
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
    return Fail(fd, "SO_REUSEPORT on " + where, error);
  }
  if (address.is_unix() && listen.unix_permissions != 0 &&
      ::chmod(listen.unix_path.c_str(), listen.unix_permissions) != 0) {
    return Fail(fd, "chmod " + where, error);
  }
  if (::listen(fd, backlog) != 0) return Fail(fd, "listen " + where, error);
  return fd;
}

bool ListenAddressesOverlap(const SocketAddress& a, const SocketAddress& b) {
  if (a.is_unix() || b.is_unix()) return a == b;
  if (PortOf(a) != PortOf(b)) return false;
  if (SameHost(a, b)) return true;
  // A wildcard takes the port on every address of its family; an IPv6 one, dual-stack by
  // default, on the IPv4 ones too.
  if (IsWildcard(a) &&
      (a.storage.ss_family == b.storage.ss_family || a.storage.ss_family == AF_INET6)) {
    return true;
  }
  return IsWildcard(b) &&
         (a.storage.ss_family == b.storage.ss_family || b.storage.ss_family == AF_INET6);
}

bool CheckListenAddresses(const std::vector<config::PoolConfig>& pools, std::string* error) {
  std::vector<SocketAddress> addresses(pools.size());
  for (size_t i = 0; i < pools.size(); ++i) {
    if (!ResolveListenAddress(pools[i].listen, &addresses[i], error)) {
      *error = "pool '" + pools[i].name + "': listen: " + *error;
      return false;
    }
    for (size_t j = 0; j < i; ++j) {
      if (ListenAddressesOverlap(addresses[j], addresses[i])) {
        *error = "pool '" + pools[i].name + "': listen " + ListenText(pools[i].listen) + " (" +
                 addresses[i].ToString() + "): " + std::strerror(EADDRINUSE) + " by pool '" +
                 pools[j].name + "' (listen " + ListenText(pools[j].listen) + ")";
        return false;
      }
    }
  }
  return true;
}

bool ProbeListenAddress(const config::ListenAddress& listen, std::string* error) {
  SocketAddress address;
  if (!ResolveListenAddress(listen, &address, error)) return false;
  if (address.is_unix()) {
    if (!UnixSocketAnswers(address)) return true;
    errno = EADDRINUSE;
    return Refuse(-1, "bind " + address.ToString(), error);
  }
  const int fd = ::socket(address.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Refuse(fd, "socket for " + address.ToString(), error);
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (::bind(fd, address.get(), address.length) != 0) {
    return Refuse(fd, "bind " + address.ToString(), error);
  }
  ::close(fd);
  return true;
}

}  // namespace ringproxy::proxy
