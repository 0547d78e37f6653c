#include "base/decimal.h"

#include <limits>

namespace ringproxy::proxy {

bool ParseDecimal(std::string_view text, int64_t* value) {
  const bool negative = !text.empty() && text.front() == '-';
  const std::string_view digits = negative ? text.substr(1) : text;
  if (digits.empty()) return false;
  // Only "0" may start with a zero; "-0" is refused with it, as Redis refuses it.
  if (digits.front() == '0') {
    if (digits.size() != 1 || negative) return false;
    *value = 0;
    return true;
  }
  // The magnitude is gathered unsigned so that INT64_MIN, whose magnitude no int64 holds, is
  // read like any other number.
  constexpr uint64_t kMaxPositive = std::numeric_limits<int64_t>::max();
  const uint64_t limit = negative ? kMaxPositive + 1 : kMaxPositive;
  uint64_t magnitude = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return false;
    const auto digit = static_cast<uint64_t>(c - '0');
    if (magnitude > (limit - digit) / 10) return false;
    magnitude = magnitude * 10 + digit;
  }
  *value = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  return true;
}

}  // namespace ringproxy::proxy
