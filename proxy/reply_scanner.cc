#include "proxy/reply_scanner.h"

#include <cstring>
#include <limits>

namespace ringproxy::proxy {
namespace {

bool ParseInteger(const char* begin, const char* end, int64_t* out) {
  if (begin == end || end - begin > 20) return false;
  bool negative = false;
  if (*begin == '-') {
    negative = true;
    ++begin;
    if (begin == end) return false;
  }
  int64_t value = 0;
  for (const char* p = begin; p < end; ++p) {
    if (*p < '0' || *p > '9') return false;
    if (value > (std::numeric_limits<int64_t>::max() - (*p - '0')) / 10) return false;
    value = value * 10 + (*p - '0');
  }
  *out = negative ? -value : value;
  return true;
}

}  // namespace

ReplyScanner::Status ReplyScanner::Scan(const char* data, size_t size) {
  if (pos_ == 0 && pending_.empty() && size > 0) type_ = data[0];
  while (true) {
    if (pos_ >= size) return Status::kIncomplete;
    const char* line = data + pos_;
    const size_t avail = size - pos_;
    const char* cr = static_cast<const char*>(std::memchr(line, '\r', avail));
    if (cr == nullptr || static_cast<size_t>(cr - line) + 1 >= avail) {
      return avail > kMaxLineBytes ? Status::kError : Status::kIncomplete;
    }
    if (cr[1] != '\n') return Status::kError;
    size_t next = static_cast<size_t>(cr - data) + 2;
    switch (line[0]) {
      case '+':
      case '-':
      case ':':
        break;
      case '$': {
        int64_t length = 0;
        if (!ParseInteger(line + 1, cr, &length) || length < -1) return Status::kError;
        if (length >= 0) {
          const size_t end = next + static_cast<size_t>(length) + 2;
          if (end > size) {
            expected_size_ = end;
            return Status::kIncomplete;
          }
          if (data[end - 2] != '\r' || data[end - 1] != '\n') return Status::kError;
          next = end;
        }
        break;
      }
      case '*': {
        int64_t count = 0;
        if (!ParseInteger(line + 1, cr, &count) || count < -1) return Status::kError;
        if (count > 0) {
          if (pending_.size() >= kMaxDepth) return Status::kError;
          pos_ = next;
          pending_.push_back(count);
          continue;  // the array's elements follow; it is not an element by itself yet
        }
        break;
      }
      default:
        return Status::kError;
    }
    pos_ = next;
    expected_size_ = 0;
    // One element finished: close every array it completes.
    while (!pending_.empty() && --pending_.back() == 0) pending_.pop_back();
    if (pending_.empty()) {
      size_ = pos_;
      pos_ = 0;
      return Status::kComplete;
    }
  }
}

}  // namespace ringproxy::proxy
