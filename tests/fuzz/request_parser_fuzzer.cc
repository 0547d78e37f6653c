// Fuzz target: RequestParser on arbitrary client bytes, framed as ClientConnection frames them.
//
// Properties checked on every input:
// - each result is sane: consumed() within the bytes given, arguments inside the request, a
//   multibulk request is exactly the canonical encoding of its arguments (Redis accepts no
//   other), an awaited size beyond the bytes at hand, errors in Redis's wording;
// - resumption: the stream cut into pieces (every cut point for short inputs, input-chosen cuts
//   for longer ones), each call seeing a fresh, exactly sized copy of the bytes received so far,
//   frames exactly as the whole stream at once;
// - a differential against hiredis's reader on multibulk streams: both find the same end for
//   every request, and the parser accepts nothing hiredis rejects (except a count below -1,
//   which Redis reads as an empty request); it may reject what hiredis accepts only where Redis
//   does too (non-bulk or nil elements, a bulk not followed by CRLF);
// - with tiny limits, the same sanity (the limit errors are reached at all).
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/request_parser.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/hiredis_framer.h"
#include "tests/fuzz/split_points.h"

namespace ringproxy::fuzz {
namespace {

using proxy::RequestLimits;
using proxy::RequestParser;
using Status = RequestParser::Status;

// Exhaustive cut points are tried up to this input size; above it, input-chosen ones.
constexpr size_t kEveryCutUpTo = 160;
constexpr size_t kMaxChosenCuts = 8;

const char* StatusName(Status status) {
  switch (status) {
    case Status::kComplete:
      return "complete";
    case Status::kEmpty:
      return "empty";
    case Status::kIncomplete:
      return "incomplete";
    case Status::kError:
      return "error";
  }
  return "?";
}

// One framing result, in stream offsets, with copies of what the parser reported.
struct Event {
  Status status = Status::kIncomplete;
  size_t start = 0;
  size_t consumed = 0;
  bool is_inline = false;
  std::vector<std::string> args;
  std::string error;

  bool operator==(const Event&) const = default;
};

std::string Describe(const Event& event) {
  std::string text = std::string(StatusName(event.status)) + " at " + std::to_string(event.start) +
                     " consumed " + std::to_string(event.consumed) +
                     (event.is_inline ? " inline" : "") + " argc " +
                     std::to_string(event.args.size());
  if (!event.error.empty()) text += " error '" + event.error + "'";
  return text;
}

std::string EncodeMultibulk(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& arg : args) {
    out += "$" + std::to_string(arg.size()) + "\r\n";
    out += arg;
    out += "\r\n";
  }
  return out;
}

bool IsRedisSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Checks one Parse result over data[0..size) and returns it as an event at stream offset `start`.
Event CheckResult(const RequestParser& parser, Status status, const char* data, size_t size,
                  size_t start) {
  Event event;
  event.status = status;
  event.start = start;
  switch (status) {
    case Status::kComplete: {
      const size_t consumed = parser.consumed();
      FUZZ_CHECK(consumed > 0 && consumed <= size, "consumed %zu of %zu bytes", consumed, size);
      FUZZ_CHECK(parser.argc() > 0, "a complete request without arguments");
      FUZZ_CHECK(parser.is_inline() == (data[0] != '*'), "inline flag %d for first byte 0x%02x",
                 parser.is_inline(), static_cast<unsigned char>(data[0]));
      event.consumed = consumed;
      event.is_inline = parser.is_inline();
      size_t total = 0;
      for (size_t i = 0; i < parser.argc(); ++i) {
        const std::string_view arg = parser.arg(data, i);
        if (!parser.is_inline()) {
          FUZZ_CHECK(arg.data() >= data && arg.data() + arg.size() <= data + consumed,
                     "argument %zu lies outside the request's %zu bytes", i, consumed);
        }
        total += arg.size();
        event.args.emplace_back(arg);
      }
      if (parser.is_inline()) {
        FUZZ_CHECK(data[consumed - 1] == '\n', "an inline request not ending at a newline");
        FUZZ_CHECK(std::memchr(data, '\n', consumed - 1) == nullptr,
                   "an inline request spanning two lines");
        // Quoting only ever shortens an argument.
        FUZZ_CHECK(total < consumed, "inline arguments (%zu bytes) longer than the line (%zu)",
                   total, consumed);
      } else {
        const std::string canonical = EncodeMultibulk(event.args);
        FUZZ_CHECK(canonical == std::string_view(data, consumed),
                   "the request's %zu bytes are not the canonical encoding of its %zu arguments "
                   "(%zu bytes)",
                   consumed, event.args.size(), canonical.size());
      }
      break;
    }
    case Status::kEmpty: {
      const size_t consumed = parser.consumed();
      FUZZ_CHECK(consumed > 0 && consumed <= size, "empty request consumed %zu of %zu bytes",
                 consumed, size);
      event.consumed = consumed;
      const std::string_view text(data, consumed);
      if (data[0] == '*') {
        // "*0", "*-1" or any other count below one, as Redis reads it.
        FUZZ_CHECK(text.size() >= 4 && text.ends_with("\r\n") &&
                       (text.substr(1, text.size() - 3) == "0" || text[1] == '-'),
                   "an empty multibulk request that is not a count below one");
      } else {
        FUZZ_CHECK(text.back() == '\n', "an empty inline request not ending at a newline");
        for (const char c : text) {
          // Redis's splitting also ends an unquoted argument at NUL; a line of blanks (and NULs)
          // has no arguments.
          FUZZ_CHECK(IsRedisSpace(c) || c == '\0', "an empty inline line holding 0x%02x",
                     static_cast<unsigned char>(c));
        }
      }
      break;
    }
    case Status::kIncomplete:
      FUZZ_CHECK(parser.expected_size() == 0 || parser.expected_size() > size,
                 "awaiting %zu bytes with %zu at hand", parser.expected_size(), size);
      break;
    case Status::kError:
      event.error = parser.error();
      FUZZ_CHECK(event.error.starts_with("Protocol error"), "error text '%s'", event.error.c_str());
      break;
  }
  return event;
}

// Frames `input` as it would arrive in pieces ending at each of `cuts` and then at its end. Each
// piece is parsed from a fresh, exactly sized heap copy of the unconsumed bytes received so far,
// at a new address, as the parser's contract allows: a read past them is an ASan error. The
// events end with the stream's final state (a trailing kIncomplete when bytes are left over, or
// the first kError).
std::vector<Event> FrameStream(std::string_view input, const std::vector<size_t>& cuts,
                               const RequestLimits& limits) {
  RequestParser parser(limits);
  std::vector<Event> events;
  size_t start = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  Event pending;
  bool has_pending = false;
  for (const size_t end : ends) {
    if (end <= start) continue;
    const size_t length = end - start;
    const std::unique_ptr<char[]> copy(new char[length]);
    std::memcpy(copy.get(), input.data() + start, length);
    size_t offset = 0;
    has_pending = false;
    while (offset < length) {
      const char* data = copy.get() + offset;
      const Status status = parser.Parse(data, length - offset);
      Event event = CheckResult(parser, status, data, length - offset, start + offset);
      if (status == Status::kIncomplete) {
        pending = std::move(event);
        has_pending = true;
        break;
      }
      events.push_back(std::move(event));
      if (status == Status::kError) return events;
      offset += events.back().consumed;
    }
    start += offset;
  }
  if (has_pending) events.push_back(std::move(pending));
  return events;
}

void CheckSameFraming(const std::vector<Event>& whole, const std::vector<Event>& pieces,
                      const std::vector<size_t>& cuts) {
  std::string where;
  for (const size_t cut : cuts) where += " " + std::to_string(cut);
  FUZZ_CHECK(whole.size() == pieces.size(), "%zu events whole, %zu when cut at%s", whole.size(),
             pieces.size(), where.c_str());
  for (size_t i = 0; i < whole.size(); ++i) {
    FUZZ_CHECK(whole[i] == pieces[i], "event %zu: whole '%s', cut at%s '%s'", i,
               Describe(whole[i]).c_str(), where.c_str(), Describe(pieces[i]).c_str());
  }
}

// The count of a "*<n>\r\n" line at input[start], if it is a number hiredis would read.
bool HeaderCount(std::string_view input, size_t start, long long* count) {
  const size_t end = input.find("\r\n", start);
  if (end == std::string_view::npos || end == start + 1) return false;
  const std::string text(input.substr(start + 1, end - start - 1));
  char* stop = nullptr;
  *count = std::strtoll(text.c_str(), &stop, 10);
  return *stop == '\0';
}

// The parser and hiredis's reader, request by request, while the stream stays multibulk.
void CheckAgainstHiredis(std::string_view input, const std::vector<Event>& events) {
  if (input.empty() || input[0] != '*') return;
  HiredisFramer hiredis(input, SIZE_MAX);
  for (const Event& event : events) {
    if (input[event.start] != '*') return;  // an inline request: hiredis reads no such thing
    const HiredisFramer::Frame frame = hiredis.Next();
    const char* what = frame.status == HiredisFramer::Status::kComplete     ? "complete"
                       : frame.status == HiredisFramer::Status::kIncomplete ? "incomplete"
                                                                            : "error";
    switch (event.status) {
      case Status::kComplete:
      case Status::kEmpty: {
        const size_t end = event.start + event.consumed;
        if (frame.status == HiredisFramer::Status::kComplete) {
          FUZZ_CHECK(frame.end == end, "request at %zu ends at %zu, hiredis says %zu", event.start,
                     end, frame.end);
          continue;
        }
        long long count = 0;
        const bool redis_empty = event.status == Status::kEmpty &&
                                 frame.status == HiredisFramer::Status::kError &&
                                 HeaderCount(input, event.start, &count) && count < -1;
        FUZZ_CHECK(redis_empty, "parser: %s; hiredis: %s %s", Describe(event).c_str(), what,
                   frame.error.c_str());
        return;  // hiredis has stopped; nothing left to compare
      }
      case Status::kIncomplete:
        FUZZ_CHECK(frame.status == HiredisFramer::Status::kIncomplete,
                   "parser awaits more bytes for the request at %zu; hiredis: %s %s (end %zu)",
                   event.start, what, frame.error.c_str(), frame.end);
        return;
      case Status::kError:
        if (frame.status == HiredisFramer::Status::kComplete) {
          // Stricter than hiredis only where Redis is: every element a bulk string, each
          // followed by CRLF, and the proxy's own size limits.
          const bool redis_rejects = frame.non_bulk_element || frame.nil_element ||
                                     frame.bad_trailer ||
                                     event.error.find("too big") != std::string::npos ||
                                     event.error.find("limit") != std::string::npos;
          FUZZ_CHECK(redis_rejects, "parser: %s; hiredis frames %zu..%zu as a valid request",
                     Describe(event).c_str(), event.start, frame.end);
        }
        return;
    }
  }
}

void CheckSmallLimits(std::string_view input) {
  RequestLimits limits;
  limits.max_request_bytes = 64;
  limits.max_multibulk_length = 4;
  limits.max_inline_bytes = 32;
  const std::vector<Event> events = FrameStream(input, {}, limits);
  for (const Event& event : events) {
    if (event.status == Status::kComplete && !event.is_inline) {
      FUZZ_CHECK(event.consumed <= limits.max_request_bytes, "a %zu-byte request under a %zu limit",
                 event.consumed, limits.max_request_bytes);
      FUZZ_CHECK(event.args.size() <= limits.max_multibulk_length,
                 "%zu arguments under a limit of %zu", event.args.size(),
                 limits.max_multibulk_length);
    }
  }
}

}  // namespace
}  // namespace ringproxy::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringproxy::fuzz;  // NOLINT(google-build-using-namespace)
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const RequestLimits limits;
  const std::vector<Event> whole = FrameStream(input, {}, limits);
  if (size <= kEveryCutUpTo) {
    for (size_t cut = 1; cut < size; ++cut) {
      CheckSameFraming(whole, FrameStream(input, {cut}, limits), {cut});
    }
  }
  const std::vector<size_t> cuts = SplitPoints(data, size, kMaxChosenCuts);
  CheckSameFraming(whole, FrameStream(input, cuts, limits), cuts);
  CheckAgainstHiredis(input, whole);
  CheckSmallLimits(input);
  return 0;
}
