#include "dataplane/reply_scanner.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace ringproxy::proxy {
namespace {

// Array counts are kept in 32 bits: no array that fits in a reply of this size has more
// elements than that.
constexpr size_t kLargestMaxReply =
    size_t{std::numeric_limits<uint32_t>::max()} * ReplyScanner::kMinElementBytes;

}  // namespace

ReplyScanner::ReplyScanner(size_t max_reply_bytes)
    : max_reply_bytes_(std::min(max_reply_bytes, kLargestMaxReply)) {}

ReplyScanner::Status ReplyScanner::ScanGeneral(const char* data, size_t size) {
  if (pos_ == 0 && pending_.empty() && size > 0) type_ = data[0];
  size_t pos = pos_;  // in a local while scanning; stored back on every exit
  while (true) {
    if (pos >= size) {
      pos_ = pos;
      return Status::kIncomplete;
    }
    // Every element starts here: a reply that has grown past the limit stops growing now, not
    // when its server decides to finish it.
    if (pos >= max_reply_bytes_) [[unlikely]] {
      return Fail("a reply larger than the proxy's limit");
    }
    const char type = data[pos];
    size_t next = 0;
    int64_t value = 0;
    if (type == '+' || type == '-') {
      // Text lines: any length, so memchr.
      const char* cr = static_cast<const char*>(std::memchr(data + pos, '\r', size - pos));
      if (cr == nullptr || static_cast<size_t>(cr - data) + 1 >= size) {
        pos_ = pos;
        if (size - pos > kMaxLineBytes) return Fail("a status line longer than 64 KiB");
        return Status::kIncomplete;
      }
      // The same limit as a line still waiting for its CR, so that where the reads cut a long
      // line never decides whether it passes.
      if (static_cast<size_t>(cr - data) + 1 - pos > kMaxLineBytes) {
        return Fail("a status line longer than 64 KiB");
      }
      if (cr[1] != '\n') return Fail("a CR not followed by LF");
      next = static_cast<size_t>(cr - data) + 2;
    } else if (type == ':' || type == '$' || type == '*') {
      // Number lines are short: a hand loop beats memchr's call.
      size_t i = pos + 1;
      const bool negative = i < size && data[i] == '-';
      if (negative) ++i;
      const size_t digits_start = i;
      uint64_t magnitude = 0;
      // At most 20 digits are read: more cannot be an int64, and the line is refused below.
      while (i < size && i - digits_start <= 19 && static_cast<unsigned char>(data[i] - '0') < 10) {
        magnitude = magnitude * 10 + static_cast<uint64_t>(data[i] - '0');
        ++i;
      }
      if (i + 1 >= size && i - digits_start <= 19) {
        pos_ = pos;
        return Status::kIncomplete;
      }
      const size_t digits = i - digits_start;
      // As hiredis's (and Redis's) string2ll: no leading zeros, no "-0", within int64.
      constexpr uint64_t kInt64MinMagnitude = uint64_t{1} << 63;
      if (digits == 0 || digits > 19 || i + 1 >= size || data[i] != '\r' || data[i + 1] != '\n' ||
          (data[digits_start] == '0' && (digits > 1 || negative)) ||
          magnitude > (negative ? kInt64MinMagnitude : kInt64MinMagnitude - 1)) {
        return Fail("a malformed number line");
      }
      value = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
      next = i + 2;
    } else {
      return Fail("an unknown reply type");
    }
    if (type == '$') {
      if (value < -1) return Fail("a negative bulk length");
      if (value >= 0) {
        // Checked before adding: a length near INT64_MAX must not wrap the end around.
        if (static_cast<uint64_t>(value) > max_reply_bytes_ - std::min(next, max_reply_bytes_)) {
          return Fail("a bulk string larger than the proxy's limit");
        }
        const size_t end = next + static_cast<size_t>(value) + 2;
        if (end > size) {
          pos_ = pos;
          expected_size_ = end;
          return Status::kIncomplete;
        }
        if (data[end - 2] != '\r' || data[end - 1] != '\n') {
          return Fail("a bulk string not followed by CRLF");
        }
        next = end;
      }
    } else if (type == '*') {
      if (value < -1) return Fail("a negative array length");
      if (value > 0) {
        const size_t room = max_reply_bytes_ - std::min(next, max_reply_bytes_);
        if (static_cast<uint64_t>(value) > room / kMinElementBytes) {
          return Fail("an array larger than the proxy's limit");
        }
        pos = next;
        pending_.push_back(static_cast<uint32_t>(value));
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
      // A reply nested thousands deep leaves a large stack behind: give it back.
      if (pending_.capacity() > 4096) pending_.shrink_to_fit();
      return Status::kComplete;
    }
  }
}

}  // namespace ringproxy::proxy
