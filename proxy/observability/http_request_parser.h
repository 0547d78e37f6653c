// HttpRequestParser: the head of one HTTP/1.x request (request line and header fields), fed in
// whatever pieces the socket delivers, for the stats server. It keeps only what routing needs
// (method, path, version) and enforces the limits that keep a stats port safe to expose: a bounded
// head (kMaxHeadBytes), strict request-line syntax, and a verdict as soon as the bytes cannot be
// HTTP: a TLS hello or a stray `stats` line is kNotHttp at its first wrong byte (or line end),
// not after a timeout, so that the server can answer it as nutcracker answers everything. A body,
// if any, is not read: the server answers and closes.
//
// Leniency follows RFC 9112 where it costs nothing: empty lines before the request line are
// skipped and a bare LF ends a line as CRLF does.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringproxy::proxy {

class HttpRequestParser {
 public:
  // The request line and all header lines, terminators included. 8 KiB is what common servers
  // allow by default (nginx's client_header_buffer_size 1k..8k, Go's net/http 1 MiB is the
  // outlier); a scraper or a probe sends a few hundred bytes.
  static constexpr size_t kMaxHeadBytes = 8192;

  enum class Status {
    kIncomplete,
    kComplete,
    // The input is not an HTTP/1.x request line (nor the start of one): not HTTP at all.
    kNotHttp,
    // An HTTP request line, then something wrong: error_status() says what to answer.
    kError,
  };

  // Appends `bytes`; parses as far as they go. After kComplete, kNotHttp or kError, further calls
  // return the same status and ignore their input.
  Status Feed(std::string_view bytes);
  Status status() const { return status_; }

  // Valid after kComplete.
  const std::string& method() const { return method_; }
  // The path of the request target, without the query; for an absolute-form target
  // ("http://host/metrics") its path ("/metrics").
  const std::string& path() const { return path_; }
  int version_minor() const { return version_minor_; }

  // Valid after kError: the status code to answer (400, 414, 431 or 505) and a one-line reason
  // (after kNotHttp: the reason alone, for a log).
  int error_status() const { return error_status_; }
  const std::string& error_reason() const { return error_reason_; }

  // True while everything received is empty lines (or nothing): a client that then closes its
  // side sent no request at all.
  bool blank_so_far() const { return !started_; }
  // True once a whole HTTP request line has been read.
  bool have_request_line() const { return have_request_line_; }

 private:
  Status Fail(int status, std::string reason);
  Status NotHttp(std::string reason);
  Status ParseRequestLine(std::string_view line);
  Status ParseHeaderLine(std::string_view line);
  // Checks the request line's bytes seen so far before its end arrives, so that garbage is
  // refused at once.
  Status CheckPartialRequestLine(std::string_view partial);

  // Where CheckPartialRequestLine stopped in the request line: bytes of buffer_ judged so far,
  // the part of the line they reached and that part's length.
  enum class LinePart { kMethod, kTarget, kVersion };
  size_t scanned_ = 0;
  LinePart line_part_ = LinePart::kMethod;
  size_t part_bytes_ = 0;

  Status status_ = Status::kIncomplete;
  std::string buffer_;     // bytes of the current, incomplete line
  size_t head_bytes_ = 0;  // bytes of the head consumed so far (leading empty lines excluded)
  bool started_ = false;   // a non-empty line has begun
  bool have_request_line_ = false;
  bool pending_cr_ = false;  // the previous byte was a CR that must be followed by LF

  std::string method_;
  std::string path_;
  int version_minor_ = 0;
  int error_status_ = 0;
  std::string error_reason_;
};

}  // namespace ringproxy::proxy
