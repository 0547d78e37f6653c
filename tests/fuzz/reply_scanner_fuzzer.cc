// Fuzz target: ReplyScanner on arbitrary server bytes, against hiredis's reader and a reference
// RESP3 framer.
//
// Properties checked on every input:
// - each result is sane: size() within the bytes given, type() the reply's first byte (the first
//   after its attributes when it starts with '|'), is_error() for '-' and '!' alone, an awaited
//   size beyond the bytes at hand;
// - resumption: the stream cut into pieces (every cut point for short inputs, input-chosen cuts
//   for longer ones), each call seeing a fresh, exactly sized copy of the bytes received so far,
//   gives exactly the replies of the whole stream at once;
// - the differential with Resp3ReferenceFramer (resp3_reference_framer.h), reply by reply, over
//   the whole input: the same replies, ending at the same bytes, of the same type; the scanner
//   waits exactly where the reference does, except that it refuses a reply announcing more than
//   max_reply_bytes (the reference has no limit and waits) and judges a number line as soon as a
//   byte makes it wrong (the reference reads the whole line: ending the input with CRLF must then
//   make the reference refuse that reply too);
// - the differential with hiredis 0.14 (RESP2 only), for the replies before the first one in
//   which the reference read a RESP3 type byte: where both finish a reply they finish it at the
//   same byte; neither finishes one the other still waits for; the scanner accepts nothing
//   hiredis rejects (up to hiredis 0.14's own limits: nesting deeper than 7, more than INT_MAX
//   elements); it rejects what hiredis accepts only where it is documented to be stricter: a CR
//   inside a line, a bulk not followed by CRLF, a line longer than kMaxLineBytes, a bulk or an
//   array too large for max_reply_bytes (hiredis has no such limit and waits for the bytes).
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/reply_scanner.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/hiredis_framer.h"
#include "tests/fuzz/resp3_reference_framer.h"
#include "tests/fuzz/split_points.h"

namespace ringproxy::fuzz {
namespace {

using proxy::ReplyScanner;
using Status = ReplyScanner::Status;
using HiredisStatus = HiredisFramer::Status;
using Reference = Resp3ReferenceFramer;
using ReferenceStatus = Resp3ReferenceFramer::Status;

constexpr size_t kEveryCutUpTo = 160;
constexpr size_t kMaxChosenCuts = 8;

const char* StatusName(Status status) {
  switch (status) {
    case Status::kComplete:
      return "complete";
    case Status::kIncomplete:
      return "incomplete";
    case Status::kError:
      return "error";
  }
  return "?";
}

const char* StatusName(HiredisStatus status) {
  switch (status) {
    case HiredisStatus::kComplete:
      return "complete";
    case HiredisStatus::kIncomplete:
      return "incomplete";
    case HiredisStatus::kError:
      return "error";
  }
  return "?";
}

const char* StatusName(ReferenceStatus status) {
  switch (status) {
    case ReferenceStatus::kComplete:
      return "complete";
    case ReferenceStatus::kIncomplete:
      return "incomplete";
    case ReferenceStatus::kError:
      return "error";
  }
  return "?";
}

// One reply (or the stream's final state) in stream offsets.
struct Event {
  Status status = Status::kIncomplete;
  size_t start = 0;
  size_t size = 0;
  char type = 0;
  bool over_limit = false;  // kError: the reply cannot fit in the scanner's max_reply_bytes

  bool operator==(const Event&) const = default;
};

Event CheckResult(const ReplyScanner& scanner, Status status, const char* data, size_t size,
                  size_t start) {
  Event event;
  event.status = status;
  event.start = start;
  if (status == Status::kComplete) {
    FUZZ_CHECK(scanner.size() > 0 && scanner.size() <= size, "a %zu-byte reply in %zu bytes",
               scanner.size(), size);
    // A reply starting with an attribute has the type of what follows its attributes, which the
    // reference checks; here only that it is not an attribute.
    FUZZ_CHECK(data[0] == '|' ? scanner.type() != '|' : scanner.type() == data[0],
               "type '%c' for a reply starting with 0x%02x", scanner.type(),
               static_cast<unsigned char>(data[0]));
    FUZZ_CHECK(scanner.is_error() == (scanner.type() == '-' || scanner.type() == '!'),
               "is_error() %d for type '%c'", scanner.is_error(), scanner.type());
    FUZZ_CHECK(data[scanner.size() - 2] == '\r' && data[scanner.size() - 1] == '\n',
               "a reply not ending in CRLF");
    event.size = scanner.size();
    event.type = scanner.type();
  } else if (status == Status::kIncomplete) {
    FUZZ_CHECK(scanner.expected_size() == 0 || scanner.expected_size() > size,
               "awaiting %zu bytes with %zu at hand", scanner.expected_size(), size);
  } else {
    event.over_limit = scanner.error().find("larger than the proxy's limit") != std::string::npos;
  }
  return event;
}

// The scanner over `input` arriving in pieces ending at each of `cuts` and then at its end; each
// call sees a fresh, exactly sized heap copy of the unconsumed bytes received so far. The events
// end with the final state: kError, or kIncomplete when bytes are left over.
std::vector<Event> ScanStream(std::string_view input, const std::vector<size_t>& cuts) {
  ReplyScanner scanner;
  std::vector<Event> events;
  size_t start = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  bool waiting = false;
  for (const size_t end : ends) {
    if (end <= start) continue;
    const size_t length = end - start;
    const std::unique_ptr<char[]> copy(new char[length]);
    std::memcpy(copy.get(), input.data() + start, length);
    size_t offset = 0;
    waiting = false;
    while (offset < length) {
      const char* data = copy.get() + offset;
      const Status status = scanner.Scan(data, length - offset);
      Event event = CheckResult(scanner, status, data, length - offset, start + offset);
      if (status == Status::kIncomplete) {
        waiting = true;
        break;
      }
      events.push_back(event);
      if (status == Status::kError) return events;
      offset += event.size;
    }
    start += offset;
  }
  if (waiting) events.push_back(Event{Status::kIncomplete, start, 0, 0});
  return events;
}

void CheckSameReplies(const std::vector<Event>& whole, const std::vector<Event>& pieces,
                      const std::vector<size_t>& cuts) {
  std::string where;
  for (const size_t cut : cuts) where += " " + std::to_string(cut);
  FUZZ_CHECK(whole.size() == pieces.size(), "%zu events whole, %zu when cut at%s", whole.size(),
             pieces.size(), where.c_str());
  for (size_t i = 0; i < whole.size(); ++i) {
    FUZZ_CHECK(whole[i] == pieces[i],
               "reply %zu: whole %s at %zu size %zu, cut at%s %s at %zu "
               "size %zu",
               i, StatusName(whole[i].status), whole[i].start, whole[i].size, where.c_str(),
               StatusName(pieces[i].status), pieces[i].start, pieces[i].size);
  }
}

// Whether hiredis, reading `stream`, rejects reply number `index` or reads it only by taking one
// of the liberties the scanner does not.
bool HiredisFaultsReply(std::string_view stream, size_t index) {
  HiredisFramer hiredis(stream, ReplyScanner::kMaxLineBytes);
  HiredisFramer::Frame frame;
  for (size_t i = 0; i <= index; ++i) frame = hiredis.Next();
  // The liberties are noted as hiredis reads each element, also in a reply it has not finished.
  if (frame.lone_cr || frame.bad_trailer || frame.long_line) return true;
  return frame.status == HiredisStatus::kError && !frame.hiredis_limit;
}

// Only the first `resp2_replies` events: from the first reply holding a RESP3 type on, hiredis
// 0.14 cannot tell.
void CheckAgainstHiredis(std::string_view input, const std::vector<Event>& events,
                         size_t resp2_replies) {
  HiredisFramer hiredis(input, ReplyScanner::kMaxLineBytes);
  for (size_t index = 0; index < events.size() && index < resp2_replies; ++index) {
    const Event& event = events[index];
    const HiredisFramer::Frame frame = hiredis.Next();
    if (frame.hiredis_limit) return;  // not a fault in the bytes
    const char* what = StatusName(frame.status);
    switch (event.status) {
      case Status::kComplete:
        FUZZ_CHECK(frame.status == HiredisStatus::kComplete,
                   "scanner: reply at %zu of %zu bytes; hiredis: %s %s", event.start, event.size,
                   what, frame.error.c_str());
        FUZZ_CHECK(frame.end == event.start + event.size,
                   "reply at %zu ends at %zu, hiredis says %zu", event.start,
                   event.start + event.size, frame.end);
        continue;
      case Status::kIncomplete:
        // hiredis rejects an unknown type byte on sight; the scanner when its line ends.
        FUZZ_CHECK(frame.status == HiredisStatus::kIncomplete ||
                       (frame.status == HiredisStatus::kError &&
                        frame.error.find("reply type byte") != std::string::npos),
                   "scanner awaits more bytes for the reply at %zu; hiredis: %s %s (end %zu)",
                   event.start, what, frame.error.c_str(), frame.end);
        return;
      case Status::kError:
        // Refused for its announced size, which hiredis would wait for: stricter by design.
        if (event.over_limit && frame.status != HiredisStatus::kComplete) return;
        if (frame.status == HiredisStatus::kComplete) {
          FUZZ_CHECK(frame.lone_cr || frame.bad_trailer || frame.long_line,
                     "scanner rejects the reply at %zu that hiredis reads as %zu..%zu", event.start,
                     event.start, frame.end);
        } else if (frame.status == HiredisStatus::kIncomplete) {
          // The scanner judges a line as soon as a byte makes it wrong (a letter in a length, a
          // CR not followed by LF); hiredis waits for the line's end. End it, and hiredis must
          // find the same fault.
          FUZZ_CHECK(HiredisFaultsReply(std::string(input) + "\r\n", index),
                     "scanner rejects the reply at %zu that hiredis still waits for and accepts "
                     "once its line ends",
                     event.start);
        }
        return;
    }
  }
}

// Whether the reference, reading `stream`, refuses reply number `index`.
bool ReferenceRefusesReply(std::string_view stream, size_t index) {
  Reference reference(stream, ReplyScanner::kMaxLineBytes);
  Reference::Frame frame;
  for (size_t i = 0; i <= index; ++i) frame = reference.Next();
  return frame.status == ReferenceStatus::kError;
}

// Compares the events with the reference's frames; returns how many of the replies, from the
// first, hold only RESP2 types.
size_t CheckAgainstReference(std::string_view input, const std::vector<Event>& events) {
  Reference reference(input, ReplyScanner::kMaxLineBytes);
  size_t resp2_replies = events.size();
  for (size_t index = 0; index < events.size(); ++index) {
    const Event& event = events[index];
    const Reference::Frame frame = reference.Next();
    if (frame.resp3 && resp2_replies == events.size()) resp2_replies = index;
    if (frame.too_deep) return resp2_replies;  // beyond the reference's recursion
    const char* what = StatusName(frame.status);
    switch (event.status) {
      case Status::kComplete:
        FUZZ_CHECK(frame.status == ReferenceStatus::kComplete,
                   "scanner: reply at %zu of %zu bytes; reference: %s", event.start, event.size,
                   what);
        FUZZ_CHECK(frame.end == event.start + event.size,
                   "reply at %zu ends at %zu, the reference says %zu", event.start,
                   event.start + event.size, frame.end);
        FUZZ_CHECK(frame.type == event.type, "reply at %zu: type '%c', the reference says '%c'",
                   event.start, event.type, frame.type);
        continue;
      case Status::kIncomplete:
        FUZZ_CHECK(frame.status == ReferenceStatus::kIncomplete,
                   "scanner awaits more bytes for the reply at %zu; reference: %s (end %zu)",
                   event.start, what, frame.end);
        return resp2_replies;
      case Status::kError:
        FUZZ_CHECK(frame.status != ReferenceStatus::kComplete,
                   "scanner rejects the reply at %zu that the reference reads as %zu..%zu",
                   event.start, event.start, frame.end);
        // Refused for its announced size, which the reference would wait for.
        if (event.over_limit) return resp2_replies;
        if (frame.status == ReferenceStatus::kIncomplete) {
          FUZZ_CHECK(ReferenceRefusesReply(std::string(input) + "\r\n", index),
                     "scanner rejects the reply at %zu that the reference still waits for and "
                     "accepts once its line ends",
                     event.start);
        }
        return resp2_replies;
    }
  }
  return resp2_replies;
}

}  // namespace
}  // namespace ringproxy::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringproxy::fuzz;  // NOLINT(google-build-using-namespace)
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::vector<Event> whole = ScanStream(input, {});
  if (size <= kEveryCutUpTo) {
    for (size_t cut = 1; cut < size; ++cut)
      CheckSameReplies(whole, ScanStream(input, {cut}), {cut});
  }
  const std::vector<size_t> cuts = SplitPoints(data, size, kMaxChosenCuts);
  CheckSameReplies(whole, ScanStream(input, cuts), cuts);
  const size_t resp2_replies = CheckAgainstReference(input, whole);
  CheckAgainstHiredis(input, whole, resp2_replies);
  return 0;
}
