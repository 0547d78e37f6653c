#include "tests/fuzz/resp3_reference_framer.h"

#include <charconv>
#include <string_view>

namespace ringproxy::fuzz {
namespace {

bool AllDigits(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// [+-]? ( "inf" | "nan" | digits [ "." digits ] [ ("e"|"E") [+-]? digits ] )
bool IsDouble(std::string_view text) {
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) text.remove_prefix(1);
  if (text == "inf" || text == "nan") return true;
  std::string_view mantissa = text;
  std::string_view exponent;
  bool has_exponent = false;
  if (const size_t e = text.find_first_of("eE"); e != std::string_view::npos) {
    mantissa = text.substr(0, e);
    exponent = text.substr(e + 1);
    has_exponent = true;
  }
  if (has_exponent) {
    if (!exponent.empty() && (exponent[0] == '+' || exponent[0] == '-')) exponent.remove_prefix(1);
    if (!AllDigits(exponent)) return false;
  }
  if (const size_t dot = mantissa.find('.'); dot != std::string_view::npos) {
    return AllDigits(mantissa.substr(0, dot)) && AllDigits(mantissa.substr(dot + 1));
  }
  return AllDigits(mantissa);
}

bool IsResp3Type(char type) {
  return std::string_view("_#,(!=%~>|;.").find(type) != std::string_view::npos;
}

}  // namespace

Resp3ReferenceFramer::Resp3ReferenceFramer(std::string_view stream, size_t max_line_bytes)
    : stream_(stream), max_line_bytes_(max_line_bytes) {}

Resp3ReferenceFramer::Frame Resp3ReferenceFramer::Next() {
  if (done_) return last_;
  resp3_ = false;
  type_ = 0;
  size_t next = 0;
  const Result result = Element(start_, 0, &next);
  Frame frame;
  frame.resp3 = resp3_;
  switch (result) {
    case Result::kOk:
      frame.status = Status::kComplete;
      frame.end = next;
      frame.type = type_;
      start_ = next;
      return frame;
    case Result::kIncomplete:
      frame.status = Status::kIncomplete;
      break;
    case Result::kError:
      frame.status = Status::kError;
      break;
    case Result::kTooDeep:
      frame.status = Status::kIncomplete;
      frame.too_deep = true;
      break;
  }
  done_ = true;
  last_ = frame;
  return frame;
}

Resp3ReferenceFramer::Result Resp3ReferenceFramer::Element(size_t pos, int depth, size_t* next) {
  // Attributes first, each read whole; then the element they belong to.
  while (pos < stream_.size() && stream_[pos] == '|') {
    const Result result = Single(pos, depth, &pos);
    if (result != Result::kOk) return result;
  }
  if (pos >= stream_.size()) return Result::kIncomplete;
  if (depth == 0) type_ = stream_[pos];
  return Single(pos, depth, next);
}

Resp3ReferenceFramer::Result Resp3ReferenceFramer::Single(size_t pos, int depth, size_t* next) {
  if (pos >= stream_.size()) return Result::kIncomplete;
  const char type = stream_[pos];
  if (IsResp3Type(type)) resp3_ = true;
  std::string_view text;
  switch (type) {
    case '+':
    case '-':
      return Line(pos, &text, next);
    case '_':
    case '#':
    case ',':
    case '(': {
      const Result result = Line(pos, &text, next);
      if (result != Result::kOk) return result;
      bool valid = false;
      if (type == '_') valid = text.empty();
      if (type == '#') valid = text == "t" || text == "f";
      if (type == ',') valid = IsDouble(text);
      if (type == '(') valid = AllDigits(text.starts_with('-') ? text.substr(1) : text);
      return valid ? Result::kOk : Result::kError;
    }
    case ':': {
      long long value = 0;
      return Number(pos, &value, next);
    }
    case '$':
    case '!':
    case '=': {
      long long length = 0;
      size_t body = 0;
      const Result result = Number(pos, &length, &body);
      if (result != Result::kOk) return result;
      if (type == '$' && length == -1) {
        *next = body;
        return Result::kOk;
      }
      if (length < 0) return Result::kError;
      if (type == '=' && length < 4) return Result::kError;
      const size_t left = stream_.size() - body;
      if (static_cast<unsigned long long>(length) > left || left - length < 2) {
        return Result::kIncomplete;
      }
      const size_t end = body + static_cast<size_t>(length);
      if (stream_.substr(end, 2) != "\r\n") return Result::kError;
      if (type == '=' && stream_[body + 3] != ':') return Result::kError;
      *next = end + 2;
      return Result::kOk;
    }
    case '*':
    case '%':
    case '~':
    case '>':
    case '|': {
      long long count = 0;
      size_t element = 0;
      const Result result = Number(pos, &count, &element);
      if (result != Result::kOk) return result;
      if (type == '*' && count == -1) {
        *next = element;
        return Result::kOk;
      }
      if (count < 0) return Result::kError;
      if (count > 0 && depth + 1 > kMaxDepth) return Result::kTooDeep;
      const int per_entry = type == '%' || type == '|' ? 2 : 1;
      // Stops at the first element that is not there: a huge count costs nothing.
      for (long long i = 0; i < count; ++i) {
        for (int j = 0; j < per_entry; ++j) {
          const Result inner = Element(element, depth + 1, &element);
          if (inner != Result::kOk) return inner;
        }
      }
      *next = element;
      return Result::kOk;
    }
    default:
      // Unknown, or a streamed form's chunk (';') or end ('.').
      return Result::kError;
  }
}

Resp3ReferenceFramer::Result Resp3ReferenceFramer::Line(size_t pos, std::string_view* text,
                                                        size_t* next) const {
  const size_t cr = stream_.find('\r', pos);
  if (cr == std::string_view::npos || cr + 1 >= stream_.size()) {
    return stream_.size() - pos > max_line_bytes_ ? Result::kError : Result::kIncomplete;
  }
  if (cr + 1 - pos > max_line_bytes_) return Result::kError;
  if (stream_[cr + 1] != '\n') return Result::kError;
  *text = stream_.substr(pos + 1, cr - pos - 1);
  *next = cr + 2;
  return Result::kOk;
}

Resp3ReferenceFramer::Result Resp3ReferenceFramer::Number(size_t pos, long long* value,
                                                          size_t* next) const {
  std::string_view text;
  const Result result = Line(pos, &text, next);
  if (result != Result::kOk) return result;
  const bool negative = text.starts_with('-');
  const std::string_view digits = negative ? text.substr(1) : text;
  if (!AllDigits(digits)) return Result::kError;
  if (digits[0] == '0' && (digits.size() > 1 || negative)) return Result::kError;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  if (error != std::errc() || end != text.data() + text.size()) return Result::kError;
  return Result::kOk;
}

}  // namespace ringproxy::fuzz
