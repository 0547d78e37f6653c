#include "config/listen_line.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstdlib>

#include "config/nutcracker_number.h"

namespace ringproxy::config {
namespace {

constexpr uint32_t kMaxPermissions = 0777;

std::optional<std::string> ParseUnixListen(std::string_view text, ListenAddress* out) {
  std::string_view path = text;
  uint32_t permissions = 0;
  if (const size_t blank = text.rfind(' '); blank != std::string_view::npos) {
    path = text.substr(0, blank);
    // nutcracker reads the mode with strtol(..., 8) and checks only errno and the upper bound,
    // so "abc" or "9" read as 0 and pass, while "-1" becomes a huge mode_t and fails. Reading it
    // the same way keeps the same files valid.
    const std::string mode(text.substr(blank + 1));
    errno = 0;
    const long parsed = std::strtol(mode.c_str(), nullptr, 8);
    const auto as_mode = static_cast<mode_t>(parsed);
    if (errno != 0 || as_mode > kMaxPermissions) {
      return "has an invalid file permission \"" + mode +
             "\": an octal mode up to 0777 is expected";
    }
    permissions = static_cast<uint32_t>(as_mode);
  }
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return "has a unix socket path longer than " +
           std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes";
  }
  out->host.clear();
  out->port = 0;
  out->unix_path = std::string(path);
  out->unix_permissions = permissions;
  return std::nullopt;
}

std::optional<std::string> ParseTcpListen(std::string_view text, ListenAddress* out) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return "is not \"host:port\" or \"/unix/socket/path [permissions]\"";
  }
  const std::string host(text.substr(0, colon));
  const std::string_view port_text = text.substr(colon + 1);
  std::string reason;
  const std::optional<int> port = ParseNutcrackerNumber(port_text, &reason);
  if (!port || *port < 1 || *port > 65535) {
    return "has an invalid port \"" + std::string(port_text) + "\": expected 1-65535";
  }

  addrinfo hints{};
  hints.ai_flags = AI_NUMERICSERV;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(*port);
  const int status = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (status != 0) {
    return "has a host \"" + host + "\" that does not resolve: " + gai_strerror(status);
  }
  freeaddrinfo(found);

  out->host = host;
  out->port = static_cast<uint16_t>(*port);
  out->unix_path.clear();
  out->unix_permissions = 0;
  return std::nullopt;
}

}  // namespace

std::optional<std::string> ParseListenLine(std::string_view text, ListenAddress* out) {
  if (text.starts_with('/')) {
    return ParseUnixListen(text, out);
  }
  return ParseTcpListen(text, out);
}

}  // namespace ringproxy::config
