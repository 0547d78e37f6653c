// HiredisFramer: hiredis's reader (the parser every C client of Redis uses) as a reference for
// where RESP replies end. It is fed a whole byte stream and hands out one frame per reply.
//
// The reader is built with redisReaderCreateWithFunctions and object callbacks that allocate
// nothing: the default callbacks (redisReaderCreate) calloc an array for every "*<n>" header
// before its elements arrive, so a fuzz input announcing two billion elements would trip the
// fuzzer's allocation limit rather than test anything. The callbacks also note the liberties
// hiredis takes that the proxy's parsers do not (see Frame), so a fuzzer can tell a documented
// strictness difference from a disagreement.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

struct redisReader;

namespace ringproxy::fuzz {

class HiredisFramer {
 public:
  enum class Status { kComplete, kIncomplete, kError };

  struct Frame {
    Status status = Status::kIncomplete;
    size_t end = 0;     // kComplete: offset in the stream just past the reply
    std::string error;  // kError: hiredis's message
    // hiredis 0.14's own limits, not faults in the bytes: arrays nested deeper than 7 and arrays
    // of more than INT_MAX elements (hiredis 1.x lifted the latter).
    bool hiredis_limit = false;
    // Liberties hiredis took inside this reply (in the elements read so far, when incomplete):
    bool lone_cr = false;           // a status or error line holding a '\r' not followed by '\n'
    bool bad_trailer = false;       // a bulk string's body not followed by "\r\n" (hiredis skips 2)
    bool long_line = false;         // a status or error line longer than `long_line_bytes`
    bool non_bulk_element = false;  // an array element other than a bulk string
    bool nil_element = false;       // an array element "$-1" or "*-1"
  };

  // `stream` must outlive the framer. Lines longer than `long_line_bytes` are flagged.
  HiredisFramer(std::string_view stream, size_t long_line_bytes);
  ~HiredisFramer();
  HiredisFramer(const HiredisFramer&) = delete;
  HiredisFramer& operator=(const HiredisFramer&) = delete;

  // The next reply after the previous kComplete one. After kIncomplete or kError, every later
  // call returns the same.
  Frame Next();

  // For the object callbacks.
  void NoteString(int type, int parent_type, const char* text, size_t length);
  void NoteElement(int type, int parent_type, bool nil);

 private:
  redisReader* reader_;
  std::string_view stream_;
  size_t long_line_bytes_;
  Frame current_;
  Frame last_;
  bool done_ = false;
};

}  // namespace ringproxy::fuzz
