// RequestParser: frames client requests (RESP multibulk, or inline commands as Redis reads them)
// without copying. It records where each argument lies; the caller forwards the request's bytes
// verbatim from its own buffer.
//
// Resumable: when a request is incomplete the parser keeps its progress (as offsets, so the caller
// may move or grow its buffer between calls as long as the bytes already seen stay the same and
// at the same offsets from the buffer start). Reset() is implied after each complete request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringproxy::proxy {

struct RequestLimits {
  size_t max_request_bytes = 512u << 20;   // one request, header and all arguments
  size_t max_multibulk_length = 1u << 20;  // arguments in one request
  size_t max_bulk_bytes = 512u << 20;      // one argument
  size_t max_inline_bytes = 64u << 10;     // an inline command line, as Redis
  // The limits are those for a client that has not authenticated yet: refusals then use Redis's
  // "unauthenticated" texts.
  bool unauthenticated = false;

  // What Redis 7 lets a client send before it has authenticated: 10 arguments of at most
  // 16 KiB each, so that a stranger cannot make the proxy hold large requests.
  static RequestLimits Unauthenticated() {
    RequestLimits limits;
    limits.max_multibulk_length = 10;
    limits.max_bulk_bytes = 16u << 10;
    limits.max_request_bytes = 10 * ((16u << 10) + 32) + 32;
    limits.unauthenticated = true;
    return limits;
  }
};

class RequestParser {
 public:
  enum class Status : uint8_t {
    kComplete,    // one request framed: consumed(), argc(), arg(i)
    kEmpty,       // a request with no arguments (`*0`, `*-1`, a blank inline line): skip consumed()
    kIncomplete,  // need more bytes; progress is kept
    kError,       // protocol error: error() holds Redis's text (without the leading '-')
  };

  explicit RequestParser(const RequestLimits& limits = {}) : limits_(limits) {}

  // Frames the request starting at data[0]. Call again with the same prefix plus more bytes after
  // kIncomplete. After kComplete/kEmpty the next call starts a new request at the new data[0].
  Status Parse(const char* data, size_t size) {
    expected_size_ = 0;  // set again only while a bulk body is awaited
    if (size == 0) return Status::kIncomplete;
    if (pos_ == 0 && args_expected_ < 0) inline_ = data[0] != '*';
    return inline_ ? ParseInline(data, size) : ParseMultibulk(data, size);
  }

  size_t consumed() const { return consumed_; }
  bool is_inline() const { return inline_; }
  size_t argc() const { return argc_; }
  // Views into the buffer of the last Parse call (inline arguments view an internal copy, since
  // quoting rewrites them). Valid until the next Parse call.
  std::string_view arg(const char* data, size_t i) const {
    return inline_ ? std::string_view(inline_text_).substr(args_[i].offset, args_[i].length)
                   : std::string_view(data + args_[i].offset, args_[i].length);
  }
  const std::string& error() const { return error_; }
  // Bytes the request will need in all, when known (a bulk body being awaited); 0 otherwise.
  size_t expected_size() const { return expected_size_; }

  void Reset();
  // Between requests: the limits for the next one (authenticating changes them).
  void set_limits(const RequestLimits& limits) { limits_ = limits; }
  // Gives back argument storage sized for an exceptionally large request.
  void TrimStorage();

 private:
  struct Span {
    uint32_t offset;
    uint32_t length;
  };

  Status ParseMultibulk(const char* data, size_t size);
  void GrowArgs(size_t wanted);
  Status ParseInline(const char* data, size_t size);
  Status Fail(std::string message);

  RequestLimits limits_;
  std::vector<Span> args_;  // storage: the first argc_ are this request's arguments
  size_t argc_ = 0;
  std::string inline_text_;
  std::string error_;
  size_t pos_ = 0;              // next byte to look at
  int64_t args_expected_ = -1;  // -1: header not read yet
  size_t consumed_ = 0;
  size_t expected_size_ = 0;
  bool inline_ = false;
};

}  // namespace ringproxy::proxy
