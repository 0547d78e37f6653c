#include "observability/http_request_parser.h"

#include <utility>

namespace ringproxy::proxy {
namespace {

// Longer than any registered method; a longer first word is not HTTP.
constexpr size_t kMaxMethodBytes = 32;

bool IsTchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsVisible(unsigned char c) { return c >= 0x21 && c <= 0x7e; }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// The path of a request target, or empty when the target has no acceptable form.
std::string PathOf(std::string_view target) {
  if (target == "*") return "*";
  if (!target.empty() && target[0] == '/') {
    return std::string(target.substr(0, target.find_first_of("?#")));
  }
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (StartsWithNoCase(target, scheme)) {
      const std::string_view rest = target.substr(scheme.size());
      const size_t slash = rest.find('/');
      if (slash == std::string_view::npos) return "/";
      const std::string_view path = rest.substr(slash);
      return std::string(path.substr(0, path.find_first_of("?#")));
    }
  }
  return "";
}

}  // namespace

HttpRequestParser::Status HttpRequestParser::Fail(int status, std::string reason) {
  status_ = Status::kError;
  error_status_ = status;
  error_reason_ = std::move(reason);
  buffer_.clear();
  buffer_.shrink_to_fit();
  return status_;
}

HttpRequestParser::Status HttpRequestParser::NotHttp(std::string reason) {
  Fail(0, std::move(reason));
  status_ = Status::kNotHttp;
  return status_;
}

HttpRequestParser::Status HttpRequestParser::Feed(std::string_view bytes) {
  for (const char c : bytes) {
    if (status_ != Status::kIncomplete) return status_;
    if (++head_bytes_ > kMaxHeadBytes) {
      if (have_request_line_) return Fail(431, "request header fields too large");
      // A long line that is not even the start of a request line is not HTTP, however long.
      if (CheckPartialRequestLine(buffer_) != Status::kIncomplete) return status_;
      return Fail(414, "request line longer than " + std::to_string(kMaxHeadBytes) + " bytes");
    }
    if (pending_cr_) {
      pending_cr_ = false;
      if (c != '\n') {
        return have_request_line_ ? Fail(400, "CR not followed by LF")
                                  : NotHttp("CR not followed by LF in the request line");
      }
    } else if (c == '\r') {
      pending_cr_ = true;
      continue;
    } else if (c != '\n') {
      started_ = true;
      buffer_.push_back(c);
      continue;
    }
    // A line has ended (CRLF or bare LF).
    std::string line = std::move(buffer_);
    buffer_.clear();
    if (!have_request_line_) {
      if (line.empty()) continue;  // empty lines before the request line are ignored
      ParseRequestLine(line);
    } else if (line.empty()) {
      status_ = Status::kComplete;
    } else {
      ParseHeaderLine(line);
    }
  }
  if (status_ == Status::kIncomplete && !have_request_line_ && !buffer_.empty()) {
    return CheckPartialRequestLine(buffer_);
  }
  return status_;
}

HttpRequestParser::Status HttpRequestParser::CheckPartialRequestLine(std::string_view partial) {
  // The same rules as ParseRequestLine, applied to a prefix: only what has arrived is judged, and
  // a prefix no request line starts with is not HTTP. Bytes judged by an earlier call are not
  // looked at again, so a line that trickles in costs its length, not its length squared.
  constexpr std::string_view kHttp = "HTTP/";
  for (; scanned_ < partial.size(); ++scanned_) {
    const auto c = static_cast<unsigned char>(partial[scanned_]);
    switch (line_part_) {
      case LinePart::kMethod:
        if (c == ' ') {
          if (part_bytes_ == 0) return NotHttp("no method");
          line_part_ = LinePart::kTarget;
          part_bytes_ = 0;
        } else if (!IsTchar(c)) {
          return NotHttp("bad character in the method");
        } else if (++part_bytes_ > kMaxMethodBytes) {
          return NotHttp("method too long");
        }
        break;
      case LinePart::kTarget:
        if (c == ' ') {
          if (part_bytes_ == 0) return NotHttp("no target");
          line_part_ = LinePart::kVersion;
          part_bytes_ = 0;
        } else if (!IsVisible(c)) {
          return NotHttp("bad character in the target");
        } else {
          ++part_bytes_;
        }
        break;
      case LinePart::kVersion:
        if (part_bytes_ < kHttp.size() && c != static_cast<unsigned char>(kHttp[part_bytes_])) {
          return NotHttp("bad version");
        }
        ++part_bytes_;
        break;
    }
  }
  return status_;
}

HttpRequestParser::Status HttpRequestParser::ParseRequestLine(std::string_view line) {
  if (CheckPartialRequestLine(line) != Status::kIncomplete) return status_;
  const size_t first_space = line.find(' ');
  const size_t second_space =
      first_space == std::string_view::npos ? first_space : line.find(' ', first_space + 1);
  if (second_space == std::string_view::npos) {
    return NotHttp("not a request line: expected 'METHOD TARGET HTTP/1.x'");
  }
  const std::string_view version = line.substr(second_space + 1);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !IsDigit(version[5]) ||
      version[6] != '.' || !IsDigit(version[7])) {
    return NotHttp("bad version");
  }
  if (version[5] != '1') return Fail(505, "only HTTP/1.x is served here");
  const std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  std::string path = PathOf(target);
  if (path.empty()) return Fail(400, "malformed request target");
  method_ = std::string(line.substr(0, first_space));
  path_ = std::move(path);
  version_minor_ = version[7] - '0';
  have_request_line_ = true;
  return status_;
}

HttpRequestParser::Status HttpRequestParser::ParseHeaderLine(std::string_view line) {
  // RFC 9112: no whitespace before the colon, no obsolete line folding.
  const size_t colon = line.find(':');
  if (colon == 0 || colon == std::string_view::npos) {
    return Fail(400, "malformed header field");
  }
  for (size_t i = 0; i < colon; ++i) {
    if (!IsTchar(static_cast<unsigned char>(line[i]))) {
      return Fail(400, "malformed header field name");
    }
  }
  for (size_t i = colon + 1; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return Fail(400, "control character in a header");
  }
  return status_;
}

}  // namespace ringproxy::proxy
