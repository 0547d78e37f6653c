#include "hashing/server_order.h"

namespace ringproxy::hashing {

bool NutcrackerNameLess(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return a.size() < b.size();
  }
  // nutcracker compares equal-length names with strncmp: unsigned bytes, and the comparison ends
  // at the first NUL the two names share, so "a\0x" and "a\0y" are equal (neither is less).
  for (size_t i = 0; i < a.size(); ++i) {
    const auto ca = static_cast<unsigned char>(a[i]);
    const auto cb = static_cast<unsigned char>(b[i]);
    if (ca != cb) {
      return ca < cb;
    }
    if (ca == 0) {
      return false;
    }
  }
  return false;
}

}  // namespace ringproxy::hashing
