// ReplyScanner: finds where one reply from a Redis server ends, without copying or building
// objects. Resumable across reads like RequestParser: progress is kept as offsets from the start
// of the reply, so a large or deeply nested reply arriving in pieces is scanned once.
//
// It frames RESP2 and every RESP3 type Redis sends: null '_', boolean '#', double ',', big number
// '(', blob error '!', verbatim string '=', map '%', set '~', push '>' and attribute '|'. An
// attribute is not an element of its own: it belongs to the element after it, so a reply (or an
// aggregate's element) that starts with attributes ends with the element they are attached to.
// The streamed forms ("$?", "*?", ';', '.') are never sent by Redis and are refused.
//
// The server is not trusted. Whatever it sends, the scanner's own memory stays within the bytes
// it was shown, and a reply is refused (kError, error() says why) once it cannot fit in
// `max_reply_bytes`: a bulk or an aggregate announcing more than that, or a reply that has grown
// past it. Nesting has no fixed limit: each open aggregate costs the scanner four bytes and the
// server at least four ("*1\r\n", "%1\r\n", "|0\r\n"), so any depth a real reply can have is
// framed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace ringproxy::proxy {

class ReplyScanner {
 public:
  enum class Status : uint8_t { kComplete, kIncomplete, kError };

  static constexpr size_t kMaxLineBytes = 64u << 10;
  static constexpr size_t kDefaultMaxReplyBytes = size_t{1} << 30;
  // The smallest RESP element ("+\r\n", "_\r\n"): an aggregate announcing more elements than the
  // rest of the largest reply could hold (a map or an attribute of n pairs announces 2n) is
  // refused before anything is kept for it.
  static constexpr size_t kMinElementBytes = 3;

  explicit ReplyScanner(size_t max_reply_bytes = kDefaultMaxReplyBytes);

  // Scans the reply starting at data[0]. After kComplete, size() is its length, leading
  // attributes included, and type() the first byte of the reply proper, after any attributes:
  // '+', '-', ':', '$', '*' and RESP3's '_', '#', ',', '(', '!', '=', '%', '~', '>'. A '>' is a
  // push (an invalidation or a pub/sub message), which answers no request. The next call starts
  // a new reply.
  Status Scan(const char* data, size_t size) {
    // Inline, for the replies of nearly every GET; everything else is ScanGeneral's.
    if (pos_ == 0 && pending_.empty()) {
      if (const size_t whole = WholeBulkString(data, size); whole != 0) {
        type_ = '$';
        size_ = whole;
        expected_size_ = 0;
        return Status::kComplete;
      }
    }
    return ScanGeneral(data, size);
  }

  size_t size() const { return size_; }
  char type() const { return type_; }
  // After kComplete: whether the reply is an error, RESP2's '-' or RESP3's blob error '!'.
  bool is_error() const { return type_ == '-' || type_ == '!'; }
  // Total bytes needed when a bulk body is being awaited; 0 otherwise. Never more than
  // max_reply_bytes.
  size_t expected_size() const { return expected_size_; }
  // After kError: what was wrong, for the log.
  std::string_view error() const { return error_; }
  size_t max_reply_bytes() const { return max_reply_bytes_; }

 private:
  // The length of a reply that is one whole bulk string ("$64\r\n...\r\n") or a nil ("$-1\r\n"),
  // or 0 for anything else, which ScanGeneral handles, including every malformed or incomplete
  // reply. Reads only within data[0..size), so a length it accepts is bytes already received.
  static size_t WholeBulkString(const char* data, size_t size) {
    if (size < 5 || data[0] != '$') return 0;
    unsigned digit = static_cast<unsigned char>(data[1]) - unsigned{'0'};
    if (digit - 1 > 8) {
      // "$0", "$-1" or something malformed.
      const bool nil = data[1] == '-' && data[2] == '1' && data[3] == '\r' && data[4] == '\n';
      return nil ? 5 : 0;
    }
    // Up to 9 digits, the first not a zero (checked above): no overflow; longer lengths take the
    // general path.
    size_t length = digit;
    size_t i = 2;
    const size_t digits_end = size < 10 ? size : 10;
    // False positive: cppcheck 2.10 concludes i < digits_end is always false, as if size could
    // be below 5 here; the early return above guarantees digits_end >= 5 > i.
    // cppcheck-suppress knownConditionTrueFalse
    for (; i < digits_end; ++i) {
      digit = static_cast<unsigned char>(data[i]) - unsigned{'0'};
      if (digit >= 10) break;
      length = length * 10 + digit;
    }
    if (i + 1 >= size || data[i] != '\r' || data[i + 1] != '\n') return 0;
    const size_t end = i + 2 + length + 2;
    if (end > size || data[end - 2] != '\r' || data[end - 1] != '\n') return 0;
    return end;
  }
  Status ScanGeneral(const char* data, size_t size);
  // The first byte of a complete reply after its leading attributes.
  char TypeAfterAttributes(const char* data) const;
  // A number line that cannot be read: says so, or that it starts a streamed reply ("$?").
  Status FailNumber(const char* data, size_t size, size_t pos);
  Status Fail(const char* why) {
    error_ = why;
    return Status::kError;
  }

  size_t max_reply_bytes_;
  size_t pos_ = 0;
  // Per open aggregate, the elements still to read. An attribute of n pairs is a level of 2n + 1:
  // its pairs and the element it is attached to, which together are one element of the
  // aggregate around them.
  std::vector<uint32_t> pending_;
  size_t size_ = 0;
  size_t expected_size_ = 0;
  const char* error_ = "";
  char type_ = 0;
};

}  // namespace ringproxy::proxy
