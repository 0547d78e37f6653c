// Resp3ReferenceFramer: where RESP2 and RESP3 replies end, read off the protocol's grammar by a
// plain recursive descent over a whole byte stream, for checking ReplyScanner where hiredis
// cannot (Debian 12's hiredis 0.14 predates RESP3). It is written for being obviously right, not
// fast: it keeps no state between calls, re-reads what it needs, and recurses once per level.
//
// It applies the rules the scanner documents, so that the two can be compared byte for byte:
// - numbers as Redis's string2ll reads them (no leading zero, no "-0", within int64);
// - a line (type byte through CR) of at most `max_line_bytes`, refused once more than that many
//   bytes have arrived without its CRLF; a CR inside a line not followed by LF is refused;
// - a bulk, blob error or verbatim string followed by CRLF exactly;
// - '_' is exactly "_\r\n", '#' is "t" or "f", ',' a decimal, exponent, "inf" or "nan" double
//   with an optional sign, '(' an optional '-' then digits;
// - '!' and '=' have no null form and '=' holds at least its "xxx:" format; "*-1" and "$-1" are
//   the only nulls of an aggregate or a string;
// - an attribute ('|', n pairs) is no element by itself: the element after it is read with it;
// - streamed forms ("$?", "*?", ';', '.') are refused.
// It has no size limit of its own (the scanner's max_reply_bytes is not a property of the bytes):
// a reply announcing more than the scanner accepts is simply awaited here.
#pragma once

#include <cstddef>
#include <string_view>

namespace ringproxy::fuzz {

class Resp3ReferenceFramer {
 public:
  enum class Status { kComplete, kIncomplete, kError };

  struct Frame {
    Status status = Status::kIncomplete;
    size_t end = 0;  // kComplete: offset in the stream just past the reply
    char type = 0;   // kComplete: the first byte of the reply proper, after any attributes
    // A RESP3 type byte was read in this reply (up to where it ended or stopped).
    bool resp3 = false;
    // Nested deeper than the framer recurses (kMaxDepth): not a verdict on the bytes.
    bool too_deep = false;
  };

  static constexpr int kMaxDepth = 4000;

  // `stream` must outlive the framer.
  Resp3ReferenceFramer(std::string_view stream, size_t max_line_bytes);

  // The next reply after the previous kComplete one. After kIncomplete or kError, every later
  // call returns the same.
  Frame Next();

 private:
  enum class Result { kOk, kIncomplete, kError, kTooDeep };

  // One element, with the attributes before it, starting at `pos`; on kOk, *next is past it.
  Result Element(size_t pos, int depth, size_t* next);
  // One element that is not preceded by an attribute (an attribute itself is read here too).
  Result Single(size_t pos, int depth, size_t* next);
  // The line whose type byte is at `pos`: on kOk, *text is what lies between the type byte and
  // the CRLF, and *next is past the CRLF.
  Result Line(size_t pos, std::string_view* text, size_t* next) const;
  // A line holding an int64 as Redis writes one.
  Result Number(size_t pos, long long* value, size_t* next) const;

  std::string_view stream_;
  size_t max_line_bytes_;
  size_t start_ = 0;
  bool done_ = false;
  Frame last_;
  // Of the reply being read:
  bool resp3_ = false;
  char type_ = 0;
};

}  // namespace ringproxy::fuzz
