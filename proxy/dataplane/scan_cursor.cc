#include "dataplane/scan_cursor.h"

#include <limits>

namespace ringproxy::proxy {

bool ParseServerCursor(std::string_view text, uint64_t* value) {
  if (text.empty()) return false;
  uint64_t result = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    if (__builtin_mul_overflow(result, 10u, &result) ||
        __builtin_add_overflow(result, static_cast<uint64_t>(c - '0'), &result)) {
      return false;
    }
  }
  *value = result;
  return true;
}

bool ScanCursor::Decode(std::string_view text, uint32_t servers, ScanCursor* cursor) {
  if (servers == 0) return false;
  uint64_t value = 0;
  // Redis parses the cursor with strtoul and refuses only a leading space, trailing characters
  // and overflow: "" is 0, "+5" is 5, "-1" is 2^64 - 1 (strtoul negates in unsigned arithmetic).
  bool negative = false;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
    if (text.empty()) return false;  // a sign without digits converts nothing
  }
  if (!text.empty() && !ParseServerCursor(text, &value)) return false;
  if (negative) value = 0 - value;
  cursor->server = static_cast<uint32_t>(value % servers);
  cursor->server_cursor = value / servers;
  return true;
}

bool ScanCursor::Next(uint32_t server, uint64_t returned, uint32_t servers, uint64_t* next) {
  if (returned == 0) {
    // A server finished: the next one starts at its own 0 (an empty page with a non-zero cursor
    // is a valid SCAN reply), and the pool's scan ends with the last server's.
    *next = server + 1 < servers ? server + 1 : 0;
    return true;
  }
  if (returned > (std::numeric_limits<uint64_t>::max() - server) / servers) return false;
  *next = returned * servers + server;
  return true;
}

}  // namespace ringproxy::proxy
