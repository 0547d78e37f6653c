#include "proxy/reply_scanner.h"

#include <cstring>

namespace ringproxy::proxy {
ReplyScanner::Status ReplyScanner::ScanGeneral(const char* data, size_t size) {
  if (pos_ == 0 && pending_.empty() && size > 0) type_ = data[0];
  size_t pos = pos_;  // in a local while scanning; stored back on every exit
  while (true) {
    if (pos >= size) {
      pos_ = pos;
      return Status::kIncomplete;
    }
    const char type = data[pos];
    size_t next = 0;
    int64_t value = 0;
    if (type == '+' || type == '-') {
      // Text lines: any length, so memchr.
      const char* cr = static_cast<const char*>(std::memchr(data + pos, '\r', size - pos));
      if (cr == nullptr || static_cast<size_t>(cr - data) + 1 >= size) {
        pos_ = pos;
        return size - pos > kMaxLineBytes ? Status::kError : Status::kIncomplete;
      }
      if (cr[1] != '\n') return Status::kError;
      next = static_cast<size_t>(cr - data) + 2;
    } else if (type == ':' || type == '$' || type == '*') {
      // Number lines are short: a hand loop beats memchr's call.
      size_t i = pos + 1;
      const bool negative = i < size && data[i] == '-';
      if (negative) ++i;
      const size_t digits_start = i;
      uint64_t magnitude = 0;
      while (i < size && static_cast<unsigned char>(data[i] - '0') < 10) {
        magnitude = magnitude * 10 + static_cast<uint64_t>(data[i] - '0');
        ++i;
      }
      if (i + 1 >= size) {
        pos_ = pos;
        return i - pos > kMaxLineBytes ? Status::kError : Status::kIncomplete;
      }
      const size_t digits = i - digits_start;
      // As hiredis's (and Redis's) string2ll: no leading zeros, no "-0", within int64.
      constexpr uint64_t kInt64MinMagnitude = uint64_t{1} << 63;
      if (data[i] != '\r' || data[i + 1] != '\n' || digits == 0 || digits > 19 ||
          (data[digits_start] == '0' && (digits > 1 || negative)) ||
          magnitude > (negative ? kInt64MinMagnitude : kInt64MinMagnitude - 1)) {
        return Status::kError;
      }
      value = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
      next = i + 2;
    } else {
      return Status::kError;
    }
    if (type == '$') {
      if (value < -1) return Status::kError;
      if (value >= 0) {
        const size_t end = next + static_cast<size_t>(value) + 2;
        if (end > size) {
          pos_ = pos;
          expected_size_ = end;
          return Status::kIncomplete;
        }
        if (data[end - 2] != '\r' || data[end - 1] != '\n') return Status::kError;
        next = end;
      }
    } else if (type == '*') {
      if (value < -1) return Status::kError;
      if (value > 0) {
        if (pending_.size() >= kMaxDepth) return Status::kError;
        pos = next;
        pending_.push_back(value);
        continue;  // the array's elements follow; it is not an element by itself yet
      }
    }
    pos = next;
    expected_size_ = 0;
    // One element finished: close every array it completes.
    while (!pending_.empty() && --pending_.back() == 0) pending_.pop_back();
    if (pending_.empty()) {
      size_ = pos;
      pos_ = 0;
      return Status::kComplete;
    }
  }
}

}  // namespace ringproxy::proxy
