#include "dataplane/request_parser.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

namespace ringproxy::proxy {
namespace {

constexpr int64_t kMaxLength = std::numeric_limits<int32_t>::max();

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

enum class LineScan : uint8_t { kOk, kIncomplete, kMalformed };

// Reads the integer of a header line that starts at data[pos] with its type byte ('*' or '$'),
// as Redis's string2ll does (optional '-', digits, no leading zeros), up to "\r\n"; *next is
// where the line ends. A hand loop: header lines are a few bytes, where memchr's call costs
// more than the scan.
[[gnu::always_inline]] inline LineScan ScanLine(const char* data, size_t size, size_t pos,
                                                int64_t* value, size_t* next) {
  size_t i = pos + 1;
  bool negative = false;
  if (i < size && data[i] == '-') {
    negative = true;
    ++i;
  }
  const size_t digits_start = i;
  uint64_t result = 0;
  while (i < size && data[i] >= '0' && data[i] <= '9') {
    result = result * 10 + static_cast<uint64_t>(data[i] - '0');
    ++i;
  }
  // More digits than any length we accept: malformed once the line ends; until then the caller
  // sees an incomplete line and applies its line-length limit, as Redis does.
  const bool overflow = i - digits_start > 18;
  *next = i;  // on failure: how far the line went, for the caller's line-length check
  if (i + 1 >= size) {
    // Not even "\r\n" yet; only a digit run (or nothing) so far is a valid prefix.
    return i == size || data[i] == '\r' ? LineScan::kIncomplete : LineScan::kMalformed;
  }
  const size_t digits = i - digits_start;
  // As Redis's string2ll: no leading zeros, and no "-0".
  if (overflow || data[i] != '\r' || data[i + 1] != '\n' || digits == 0 ||
      (data[digits_start] == '0' && (digits > 1 || negative))) {
    return LineScan::kMalformed;
  }
  *value = negative ? -static_cast<int64_t>(result) : static_cast<int64_t>(result);
  *next = i + 2;
  return LineScan::kOk;
}

// The header lines of nearly every request: one digit, or two without a leading zero, then
// "\r\n" ("*2\r\n", "$3\r\n", "$16\r\n"). `line` has at least 8 readable bytes (the caller
// checks), read as one little-endian word so the type byte, the digits and the CRLF are checked
// together. Returns the line's length with its type byte, or 0 when the line has any other
// shape or type; ScanLine then decides, with its error texts.
[[gnu::always_inline]] inline size_t ShortLine(const char* line, char type, int64_t* value) {
  uint64_t word = 0;
  std::memcpy(&word, line, sizeof word);
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
  const uint64_t type_byte = static_cast<unsigned char>(type);
  constexpr uint64_t kCrlfAt2 = uint64_t{'\r'} << 16 | uint64_t{'\n'} << 24;
  if ((word & 0xFFFF00FF) == (type_byte | kCrlfAt2)) {
    const auto digit = static_cast<unsigned>((word >> 8) & 0xFF) - unsigned{'0'};
    if (digit > 9) return 0;
    *value = digit;
    return 4;
  }
  if ((word & 0xFFFF0000FF) == (type_byte | kCrlfAt2 << 8)) {
    const auto tens = static_cast<unsigned>((word >> 8) & 0xFF) - unsigned{'1'};  // no '0'
    const auto units = static_cast<unsigned>((word >> 16) & 0xFF) - unsigned{'0'};
    if (tens > 8 || units > 9) return 0;
    *value = (tens + 1) * 10 + units;
    return 5;
  }
  return 0;
}

// A header line is followed by at least "$N\r\n" or a body and its CRLF, so the word ShortLine
// reads is nearly always there; a request ending sooner takes ScanLine.
constexpr size_t kShortLineWord = 8;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Splits an inline command line the way Redis does (quotes, escapes); false on unbalanced quotes.
bool SplitInlineArgs(std::string_view line, std::string* text,
                     std::vector<std::pair<uint32_t, uint32_t>>* spans) {
  size_t i = 0;
  const size_t n = line.size();
  while (true) {
    while (i < n && IsSpace(line[i])) ++i;
    if (i >= n) return true;
    const auto start = static_cast<uint32_t>(text->size());
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    while (!done) {
      if (in_double) {
        if (i >= n) return false;
        if (line[i] == '\\' && i + 3 < n && line[i + 1] == 'x' && IsHexDigit(line[i + 2]) &&
            IsHexDigit(line[i + 3])) {
          text->push_back(static_cast<char>(HexValue(line[i + 2]) * 16 + HexValue(line[i + 3])));
          i += 3;
        } else if (line[i] == '\\' && i + 1 < n) {
          ++i;
          char c = line[i];
          switch (c) {
            case 'n':
              c = '\n';
              break;
            case 'r':
              c = '\r';
              break;
            case 't':
              c = '\t';
              break;
            case 'b':
              c = '\b';
              break;
            case 'a':
              c = '\a';
              break;
            default:
              break;
          }
          text->push_back(c);
        } else if (line[i] == '"') {
          // The closing quote must be followed by a space or the end.
          if (i + 1 < n && !IsSpace(line[i + 1])) return false;
          done = true;
        } else {
          text->push_back(line[i]);
        }
      } else if (in_single) {
        if (i >= n) return false;
        if (line[i] == '\\' && i + 1 < n && line[i + 1] == '\'') {
          ++i;
          text->push_back('\'');
        } else if (line[i] == '\'') {
          if (i + 1 < n && !IsSpace(line[i + 1])) return false;
          done = true;
        } else {
          text->push_back(line[i]);
        }
      } else {
        if (i >= n) break;
        switch (line[i]) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            in_double = true;
            break;
          case '\'':
            in_single = true;
            break;
          default:
            text->push_back(line[i]);
            break;
        }
      }
      if (i < n) ++i;
    }
    spans->emplace_back(start, static_cast<uint32_t>(text->size()) - start);
  }
}

}  // namespace

void RequestParser::TrimStorage() {
  // Enough for every ordinary request; a million-argument one leaves megabytes otherwise.
  constexpr size_t kKeptArgs = 1024;
  if (args_.capacity() > kKeptArgs) std::vector<Span>().swap(args_);
  if (inline_text_.capacity() > (64u << 10)) std::string().swap(inline_text_);
}

void RequestParser::Reset() {
  argc_ = 0;
  pos_ = 0;
  args_expected_ = -1;
  expected_size_ = 0;
  inline_ = false;
}

RequestParser::Status RequestParser::Fail(std::string message) {
  error_ = std::move(message);
  return Status::kError;
}

void RequestParser::GrowArgs(size_t wanted) {
  // Doubling, never past the declared count: storage follows the arguments actually framed.
  args_.resize(std::min(wanted, std::max<size_t>(8, args_.size() * 2)));
}

RequestParser::Status RequestParser::ParseMultibulk(const char* data, size_t size) {
  size_t pos = pos_;
  if (args_expected_ < 0) {
    argc_ = 0;
    int64_t count = 0;
    size_t next = size >= kShortLineWord ? ShortLine(data, '*', &count) : 0;
    if (next == 0) [[unlikely]] {
      switch (ScanLine(data, size, 0, &count, &next)) {
        case LineScan::kIncomplete:
          if (size > limits_.max_inline_bytes) {
            return Fail("Protocol error: too big mbulk count string");
          }
          return Status::kIncomplete;
        case LineScan::kMalformed:
          // A line longer than Redis reads before giving up gets Redis's "too big" text.
          if (next > limits_.max_inline_bytes) {
            return Fail("Protocol error: too big mbulk count string");
          }
          return Fail("Protocol error: invalid multibulk length");
        case LineScan::kOk:
          break;
      }
      if (count > kMaxLength || count > static_cast<int64_t>(limits_.max_multibulk_length)) {
        return Fail(limits_.unauthenticated ? "Protocol error: unauthenticated multibulk length"
                                            : "Protocol error: invalid multibulk length");
      }
    }
    pos = next;
    if (count <= 0 || static_cast<size_t>(count) > limits_.max_multibulk_length) [[unlikely]] {
      if (count > 0) {
        return Fail(limits_.unauthenticated ? "Protocol error: unauthenticated multibulk length"
                                            : "Protocol error: invalid multibulk length");
      }
      consumed_ = pos;
      Reset();
      return Status::kEmpty;
    }
    args_expected_ = count;
    // Room for what fits in the bytes at hand, never for a declared count alone: a client
    // announcing a billion arguments must not make us allocate for them.
    if (args_.size() < static_cast<size_t>(count)) {
      args_.resize(std::min<size_t>(static_cast<size_t>(count), size / 4 + 1));
    }
  }
  // The position and the count live in locals while arguments are framed (stored back on every
  // exit), so the loop runs in registers.
  const auto wanted = static_cast<size_t>(args_expected_);
  const size_t max_bulk =
      std::min<size_t>(std::min(limits_.max_bulk_bytes, limits_.max_request_bytes), kMaxLength);
  Span* spans = args_.data();
  size_t room = args_.size();
  for (size_t framed = argc_; framed < wanted; ++framed) {
    int64_t length = 0;
    size_t body = pos + (size - pos >= kShortLineWord ? ShortLine(data + pos, '$', &length) : 0);
    if (body == pos) [[unlikely]] {
      if (pos >= size) {
        argc_ = framed;
        pos_ = pos;
        return Status::kIncomplete;
      }
      if (data[pos] != '$') {
        return Fail(std::string("Protocol error: expected '$', got '") + data[pos] + "'");
      }
      const LineScan scan = ScanLine(data, size, pos, &length, &body);
      if (scan != LineScan::kOk) {
        if (scan == LineScan::kIncomplete) {
          if (size - pos > limits_.max_inline_bytes) {
            return Fail("Protocol error: too big bulk count string");
          }
          argc_ = framed;
          pos_ = pos;
          return Status::kIncomplete;
        }
        if (body - pos > limits_.max_inline_bytes) {
          return Fail("Protocol error: too big bulk count string");
        }
        return Fail("Protocol error: invalid bulk length");
      }
    }
    if (length < 0 || static_cast<size_t>(length) > max_bulk) [[unlikely]] {
      return Fail(limits_.unauthenticated && length >= 0
                      ? "Protocol error: unauthenticated bulk length"
                      : "Protocol error: invalid bulk length");
    }
    const size_t end = body + static_cast<size_t>(length) + 2;
    if (end > size) {
      if (end > limits_.max_request_bytes) {
        return Fail("Protocol error: request is larger than the proxy's limit");
      }
      argc_ = framed;
      pos_ = pos;
      expected_size_ = end;
      return Status::kIncomplete;
    }
    if (data[end - 2] != '\r' || data[end - 1] != '\n') [[unlikely]] {
      return Fail("Protocol error: expected CRLF after bulk string");
    }
    if (framed == room) [[unlikely]] {
      GrowArgs(wanted);
      spans = args_.data();
      room = args_.size();
    }
    spans[framed] = {static_cast<uint32_t>(body), static_cast<uint32_t>(length)};
    pos = end;
  }
  if (pos > limits_.max_request_bytes) [[unlikely]] {
    return Fail("Protocol error: request is larger than the proxy's limit");
  }
  argc_ = wanted;
  consumed_ = pos;
  pos_ = 0;
  args_expected_ = -1;
  return Status::kComplete;
}

RequestParser::Status RequestParser::ParseInline(const char* data, size_t size) {
  const char* nl = static_cast<const char*>(std::memchr(data, '\n', size));
  if (nl == nullptr) {
    if (size > limits_.max_inline_bytes) return Fail("Protocol error: too big inline request");
    return Status::kIncomplete;
  }
  size_t line_end = static_cast<size_t>(nl - data);
  consumed_ = line_end + 1;
  if (line_end > 0 && data[line_end - 1] == '\r') --line_end;
  argc_ = 0;
  inline_text_.clear();
  std::vector<std::pair<uint32_t, uint32_t>> spans;
  if (!SplitInlineArgs(std::string_view(data, line_end), &inline_text_, &spans)) {
    return Fail("Protocol error: unbalanced quotes in request");
  }
  if (spans.empty()) {
    Reset();
    return Status::kEmpty;
  }
  if (args_.size() < spans.size()) args_.resize(spans.size());
  for (const auto& [offset, length] : spans) args_[argc_++] = {offset, length};
  pos_ = 0;
  args_expected_ = -1;
  return Status::kComplete;
}

}  // namespace ringproxy::proxy
