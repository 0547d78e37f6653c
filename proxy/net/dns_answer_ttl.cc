#include "net/dns_answer_ttl.h"

#include <algorithm>

namespace ringproxy::proxy {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr size_t kQuestionFixedSize = 4;  // type, class
constexpr size_t kRecordFixedSize = 10;   // type, class, TTL, data length

uint16_t ReadU16(const unsigned char* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

uint32_t ReadU32(const unsigned char* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
}

// Advances `*offset` past the (possibly compressed) name there. Only skips: a compression pointer
// ends the name in the record, so where it points does not matter here.
bool SkipName(const unsigned char* message, size_t length, size_t* offset) {
  size_t at = *offset;
  while (at < length) {
    const unsigned char label = message[at];
    if ((label & 0xC0) == 0xC0) {
      if (at + 2 > length) {
        return false;
      }
      *offset = at + 2;
      return true;
    }
    if ((label & 0xC0) != 0) {
      return false;  // 0x40 and 0x80 label types are reserved / obsolete
    }
    if (label == 0) {
      *offset = at + 1;
      return true;
    }
    at += 1 + label;
  }
  return false;
}

}  // namespace

std::optional<uint32_t> MinimumAnswerTtl(const unsigned char* message, size_t length) {
  if (message == nullptr || length < kHeaderSize) {
    return std::nullopt;
  }
  const uint16_t questions = ReadU16(message + 4);
  const uint16_t answers = ReadU16(message + 6);
  size_t offset = kHeaderSize;
  for (uint16_t i = 0; i < questions; ++i) {
    if (!SkipName(message, length, &offset) || offset + kQuestionFixedSize > length) {
      return std::nullopt;
    }
    offset += kQuestionFixedSize;
  }
  std::optional<uint32_t> minimum;
  for (uint16_t i = 0; i < answers; ++i) {
    if (!SkipName(message, length, &offset) || offset + kRecordFixedSize > length) {
      return std::nullopt;
    }
    uint32_t ttl = ReadU32(message + offset + 4);
    if ((ttl & 0x80000000U) != 0) {
      ttl = 0;
    }
    const size_t data_length = ReadU16(message + offset + 8);
    offset += kRecordFixedSize;
    if (offset + data_length > length) {
      return std::nullopt;
    }
    offset += data_length;
    minimum = minimum ? std::min(*minimum, ttl) : ttl;
  }
  return minimum;
}

}  // namespace ringproxy::proxy
