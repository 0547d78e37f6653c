#include "config/server_line.h"

#include <array>

#include "config/nutcracker_number.h"

namespace ringproxy::config {
namespace {

// libmemcached's ketama names a server on the memcached port by its host alone; nutcracker keeps
// that for every pool, Redis ones included, and placement depends on the name.
constexpr int kKetamaDefaultPort = 11211;

constexpr std::string_view kFormat =
    "is not \"host:port:weight [name]\" or \"/unix/socket/path:weight [name]\"";

}  // namespace

std::optional<std::string> ParseServerLine(std::string_view text, ServerConfig* out) {
  const bool is_unix = text.starts_with('/');
  // Fields are cut from the end, each at the last occurrence of its delimiter in what is left.
  // The name is optional; a unix entry has no port; anything left over (a fourth field, i.e. a
  // NUL byte in the text, which nutcracker's C strings cannot hold) is refused.
  static constexpr std::array<char, 4> kDelimiters = {' ', ':', ':', '\0'};
  const size_t wanted = is_unix ? 2 : 3;
  std::optional<std::string_view> name;
  std::string_view weight_text;
  std::string_view port_text;
  size_t end = text.size();
  size_t cut = 0;
  for (; cut < kDelimiters.size(); ++cut) {
    const size_t at = text.substr(0, end).rfind(kDelimiters[cut]);
    if (at == std::string_view::npos) {
      if (cut == 0) {
        continue;
      }
      break;
    }
    const std::string_view field = text.substr(at + 1, end - at - 1);
    if (cut == 0) {
      name = field;
    } else if (cut == 1) {
      weight_text = field;
    } else if (cut == 2) {
      port_text = field;
    }
    end = at;
  }
  if (cut != wanted) {
    return std::string(kFormat);
  }
  const std::string_view address = text.substr(0, end);

  std::string reason;
  const std::optional<int> weight = ParseNutcrackerNumber(weight_text, &reason);
  if (!weight) {
    return "has an invalid weight \"" + std::string(weight_text) + "\": a whole number > 0 " +
           "is expected";
  }
  if (*weight == 0) {
    return std::string("has a zero weight: a weight must be at least 1");
  }

  int port = 0;
  if (!is_unix) {
    const std::optional<int> parsed = ParseNutcrackerNumber(port_text, &reason);
    if (!parsed || *parsed < 1 || *parsed > 65535) {
      return "has an invalid port \"" + std::string(port_text) + "\": expected 1-65535";
    }
    port = *parsed;
  }

  out->host = is_unix ? std::string() : std::string(address);
  out->port = static_cast<uint16_t>(port);
  out->unix_path = is_unix ? std::string(address) : std::string();
  out->weight = static_cast<uint32_t>(*weight);
  out->has_explicit_name = name.has_value();
  if (name) {
    out->name = std::string(*name);
  } else if (port == kKetamaDefaultPort) {
    out->name = std::string(address);
  } else {
    // "host:port" as written; for a unix entry (no port) nutcracker's arithmetic keeps the ':'
    // that precedes the weight, so "/tmp/r.sock:1" is named "/tmp/r.sock:".
    out->name = std::string(text.substr(0, address.size() + 1 + port_text.size()));
  }
  return std::nullopt;
}

}  // namespace ringproxy::config
