#include "proxy/listen_socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "proxy/topology.h"

namespace ringproxy::proxy {
namespace {

int Fail(int fd, const std::string& what, std::string* error) {
  *error = what + ": " + std::strerror(errno);
  if (fd >= 0) ::close(fd);
  return -1;
}

}  // namespace

int OpenListenSocket(const config::ListenAddress& listen, int backlog, bool reuseport,
                     std::string* error) {
  SocketAddress address;
  if (!ResolveAddress(listen.host, listen.port, listen.unix_path, &address, error)) return -1;
  const std::string where = address.ToString();
  const int fd = ::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(fd, "socket for " + where, error);
  if (address.is_unix()) {
    // A stale socket file from an earlier run would make bind fail; nutcracker removes it too.
    ::unlink(listen.unix_path.c_str());
  } else {
    const int on = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) {
      return Fail(fd, "SO_REUSEADDR on " + where, error);
    }
    if (reuseport && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
      return Fail(fd, "SO_REUSEPORT on " + where, error);
    }
  }
  if (::bind(fd, address.get(), address.length) != 0) return Fail(fd, "bind " + where, error);
  if (address.is_unix() && listen.unix_permissions != 0 &&
      ::chmod(listen.unix_path.c_str(), listen.unix_permissions) != 0) {
    return Fail(fd, "chmod " + where, error);
  }
  if (::listen(fd, backlog) != 0) return Fail(fd, "listen " + where, error);
  return fd;
}

}  // namespace ringproxy::proxy
