#include "dataplane/reply_scanner.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace ringproxy::proxy {
namespace {

// Element counts are kept in 32 bits: no aggregate that fits in a reply of this size has more
// elements than that.
constexpr size_t kLargestMaxReply =
    size_t{std::numeric_limits<uint32_t>::max()} * ReplyScanner::kMinElementBytes;

enum class Read : uint8_t { kDone, kIncomplete, kError };

// The line whose type byte is data[pos]: on kDone, *next is just past its LF.
[[gnu::always_inline]] inline Read ReadLine(const char* data, size_t size, size_t pos, size_t* next,
                                            const char** why) {
  // Text lines: any length, so memchr.
  const char* cr = static_cast<const char*>(std::memchr(data + pos, '\r', size - pos));
  if (cr == nullptr || static_cast<size_t>(cr - data) + 1 >= size) {
    if (size - pos > ReplyScanner::kMaxLineBytes) {
      *why = "a status line longer than 64 KiB";
      return Read::kError;
    }
    return Read::kIncomplete;
  }
  // The same limit as a line still waiting for its CR, so that where the reads cut a long line
  // never decides whether it passes.
  if (static_cast<size_t>(cr - data) + 1 - pos > ReplyScanner::kMaxLineBytes) {
    *why = "a status line longer than 64 KiB";
    return Read::kError;
  }
  if (cr[1] != '\n') {
    *why = "a CR not followed by LF";
    return Read::kError;
  }
  *next = static_cast<size_t>(cr - data) + 2;
  return Read::kDone;
}

// The number line whose type byte is data[pos]: on kDone, *value is its number and *next is just
// past its LF.
[[gnu::always_inline]] inline Read ReadNumber(const char* data, size_t size, size_t pos,
                                              int64_t* value, size_t* next) {
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
  if (i + 1 >= size && i - digits_start <= 19) return Read::kIncomplete;
  const size_t digits = i - digits_start;
  // As hiredis's (and Redis's) string2ll: no leading zeros, no "-0", within int64.
  constexpr uint64_t kInt64MinMagnitude = uint64_t{1} << 63;
  if (digits == 0 || digits > 19 || i + 1 >= size || data[i] != '\r' || data[i + 1] != '\n' ||
      (data[digits_start] == '0' && (digits > 1 || negative)) ||
      magnitude > (negative ? kInt64MinMagnitude : kInt64MinMagnitude - 1)) {
    return Read::kError;
  }
  *value = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
  *next = i + 2;
  return Read::kDone;
}

// The body of `length` bytes starting at data[start], and its CRLF: on kDone, *end is just past
// them; on kIncomplete, the offset they end at.
[[gnu::always_inline]] inline Read ReadBody(const char* data, size_t size, size_t start,
                                            int64_t length, size_t max_reply_bytes, size_t* end,
                                            const char** why) {
  // Checked before adding: a length near INT64_MAX must not wrap the end around.
  if (static_cast<uint64_t>(length) > max_reply_bytes - std::min(start, max_reply_bytes)) {
    *why = "a bulk string larger than the proxy's limit";
    return Read::kError;
  }
  *end = start + static_cast<size_t>(length) + 2;
  if (*end > size) return Read::kIncomplete;
  if (data[*end - 2] != '\r' || data[*end - 1] != '\n') {
    *why = "a bulk string not followed by CRLF";
    return Read::kError;
  }
  return Read::kDone;
}

bool IsDigit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

// A run of digits starting at text[*i]: whether there is at least one; *i ends past them.
bool SkipDigits(std::string_view text, size_t* i) {
  const size_t start = *i;
  while (*i < text.size() && IsDigit(text[*i])) ++*i;
  return *i > start;
}

// A double as Redis writes one: "%.17g" (or fpconv_dtoa) output, "inf", "-inf" or "nan" (older
// releases print a NaN with its sign, "-nan").
bool IsDouble(std::string_view text) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  if (text.substr(i) == "inf" || text.substr(i) == "nan") return true;
  if (!SkipDigits(text, &i)) return false;
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!SkipDigits(text, &i)) return false;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    if (!SkipDigits(text, &i)) return false;
  }
  return i == text.size();
}

bool IsBigNumber(std::string_view text) {
  size_t i = text.starts_with('-') ? 1 : 0;
  return SkipDigits(text, &i) && i == text.size();
}

// Why the text of a RESP3 line of `type` is refused, or nullptr when it is well formed.
const char* FaultInLine(char type, std::string_view text) {
  switch (type) {
    case '_':
      return text.empty() ? nullptr : "a null with text";
    case '#':
      return text == "t" || text == "f" ? nullptr : "a boolean other than t or f";
    case ',':
      return IsDouble(text) ? nullptr : "a malformed double";
    default:
      return IsBigNumber(text) ? nullptr : "a malformed big number";
  }
}

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
    const char* why = nullptr;
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
      const Read read = ReadNumber(data, size, pos, &value, &next);
      if (read == Read::kIncomplete) {
        pos_ = pos;
        return Status::kIncomplete;
      }
      if (read == Read::kError) return FailNumber(data, size, pos);
      if (type == '$') {
        if (value < -1) return Fail("a negative bulk length");
        if (value >= 0) {
          size_t end = 0;
          const Read body = ReadBody(data, size, next, value, max_reply_bytes_, &end, &why);
          if (body == Read::kIncomplete) {
            pos_ = pos;
            expected_size_ = end;
            return Status::kIncomplete;
          }
          if (body == Read::kError) return Fail(why);
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
    } else {
      // RESP3's types, after RESP2's: a server speaking RESP2 never sends them.
      switch (type) {
        case '_':
        case '#':
        case ',':
        case '(': {
          const Read read = ReadLine(data, size, pos, &next, &why);
          if (read == Read::kIncomplete) {
            pos_ = pos;
            return Status::kIncomplete;
          }
          if (read == Read::kError) return Fail(why);
          why = FaultInLine(type, std::string_view(data + pos + 1, next - pos - 3));
          if (why != nullptr) return Fail(why);
          break;
        }
        case '!':
        case '=': {
          const Read read = ReadNumber(data, size, pos, &value, &next);
          if (read == Read::kIncomplete) {
            pos_ = pos;
            return Status::kIncomplete;
          }
          if (read == Read::kError) return FailNumber(data, size, pos);
          // No null form: "!-1" and "=-1" are not RESP3.
          if (value < 0) return Fail("a negative blob error or verbatim string length");
          // A verbatim string's body starts with its format, "txt:" or "mkd:".
          if (type == '=' && value < 4) return Fail("a verbatim string without its format");
          size_t end = 0;
          const Read body = ReadBody(data, size, next, value, max_reply_bytes_, &end, &why);
          if (body == Read::kIncomplete) {
            pos_ = pos;
            expected_size_ = end;
            return Status::kIncomplete;
          }
          if (body == Read::kError) return Fail(why);
          if (type == '=' && data[next + 3] != ':') {
            return Fail("a verbatim string without its format");
          }
          next = end;
          break;
        }
        case '%':
        case '~':
        case '>':
        case '|': {
          const Read read = ReadNumber(data, size, pos, &value, &next);
          if (read == Read::kIncomplete) {
            pos_ = pos;
            return Status::kIncomplete;
          }
          if (read == Read::kError) return FailNumber(data, size, pos);
          // Only RESP2's "*-1" has a null form.
          if (value < 0) return Fail("a negative aggregate length");
          const size_t room = max_reply_bytes_ - std::min(next, max_reply_bytes_);
          const uint64_t most = room / kMinElementBytes;
          if (type == '|') {
            // An attribute and the element it is attached to make one element of what holds
            // them: a level of 2n + 1 elements.
            if (most == 0 || static_cast<uint64_t>(value) > (most - 1) / 2) {
              return Fail("an attribute larger than the proxy's limit");
            }
            pos = next;
            pending_.push_back(static_cast<uint32_t>(value * 2 + 1));
            continue;
          }
          if (value > 0) {
            const uint64_t elements = type == '%' ? static_cast<uint64_t>(value) * 2 : value;
            if (elements > most) {
              return Fail("an aggregate larger than the proxy's limit");
            }
            pos = next;
            pending_.push_back(static_cast<uint32_t>(elements));
            continue;  // its elements follow; it is not an element by itself yet
          }
          break;
        }
        case ';':
        case '.':
          return Fail("a streamed reply, which Redis never sends");
        default:
          return Fail("an unknown reply type");
      }
    }
    pos = next;
    expected_size_ = 0;
    // One element finished: close every aggregate it completes.
    while (!pending_.empty() && --pending_.back() == 0) pending_.pop_back();
    if (pending_.empty()) {
      size_ = pos;
      pos_ = 0;
      // A reply nested thousands deep leaves a large stack behind: give it back.
      if (pending_.capacity() > 4096) pending_.shrink_to_fit();
      if (type_ == '|') [[unlikely]]
        type_ = TypeAfterAttributes(data);
      return Status::kComplete;
    }
  }
}

char ReplyScanner::TypeAfterAttributes(const char* data) const {
  // Rare (Redis sends no attributes today), so the attributes are walked again rather than
  // tracked while scanning: the loop over elements stays as RESP2 needs it.
  size_t pos = 0;
  while (data[pos] == '|') {
    int64_t pairs = 0;
    size_t next = 0;
    ReadNumber(data, size_, pos, &pairs, &next);  // read whole before
    pos = next;
    if (pairs > 0) {
      // The pairs alone, as one level of 2n elements; a scanner with no type to settle, so an
      // attribute inside them costs no walk of its own.
      ReplyScanner walker(max_reply_bytes_);
      walker.pending_.push_back(static_cast<uint32_t>(pairs * 2));
      walker.pos_ = pos;
      walker.ScanGeneral(data, size_);
      pos = walker.size_;
    }
  }
  return data[pos];
}

ReplyScanner::Status ReplyScanner::FailNumber(const char* data, size_t size, size_t pos) {
  if (data[pos] != ':' && pos + 1 < size && data[pos + 1] == '?') {
    return Fail("a streamed reply, which Redis never sends");
  }
  return Fail("a malformed number line");
}

}  // namespace ringproxy::proxy
