// ReplyScanner: finds where one RESP2 reply from a Redis server ends, without copying or building
// objects. Resumable across reads like RequestParser: progress is kept as offsets from the start
// of the reply, so a large or deeply nested reply arriving in pieces is scanned once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringproxy::proxy {

class ReplyScanner {
 public:
  enum class Status : uint8_t { kComplete, kIncomplete, kError };

  static constexpr size_t kMaxDepth = 512;
  static constexpr size_t kMaxLineBytes = 64u << 10;

  // Scans the reply starting at data[0]. After kComplete, size() is its length and type() its
  // first byte ('+', '-', ':', '$', '*'); the next call starts a new reply.
  Status Scan(const char* data, size_t size);

  size_t size() const { return size_; }
  char type() const { return type_; }
  // Total bytes needed when a bulk body is being awaited; 0 otherwise.
  size_t expected_size() const { return expected_size_; }

 private:
  size_t pos_ = 0;
  std::vector<int64_t> pending_;  // elements still to read, per open array
  size_t size_ = 0;
  size_t expected_size_ = 0;
  char type_ = 0;
};

}  // namespace ringproxy::proxy
