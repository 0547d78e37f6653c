#include "config/nutcracker_number.h"

#include <cstdint>
#include <limits>

namespace ringproxy::config {

std::optional<int> ParseNutcrackerNumber(std::string_view text, std::string* reason) {
  if (text.empty()) {
    *reason = "is not a number";
    return std::nullopt;
  }
  int64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      *reason = "is not a number: only the digits 0-9 are accepted (no sign, no blanks)";
      return std::nullopt;
    }
    value = value * 10 + (c - '0');
    if (value > std::numeric_limits<int32_t>::max()) {
      *reason = "is too large: the largest accepted number is 2147483647";
      return std::nullopt;
    }
  }
  return static_cast<int>(value);
}

}  // namespace ringproxy::config
