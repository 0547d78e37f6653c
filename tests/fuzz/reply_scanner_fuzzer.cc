// Fuzz target: ReplyScanner on arbitrary server bytes, against hiredis's reader.
//
// Properties checked on every input:
// - each result is sane: size() within the bytes given, type() the reply's first byte, an
//   awaited size beyond the bytes at hand;
// - resumption: the stream cut into pieces (every cut point for short inputs, input-chosen cuts
//   for longer ones), each call seeing a fresh, exactly sized copy of the bytes received so far,
//   gives exactly the replies of the whole stream at once;
// - the differential, reply by reply: where both finish a reply they finish it at the same byte;
//   neither finishes one the other still waits for; the scanner accepts nothing hiredis rejects
//   (up to hiredis 0.14's own limits: nesting deeper than 7, more than INT_MAX elements); it
//   rejects what hiredis accepts only where it is documented to be stricter: a CR inside a line,
//   a bulk not followed by CRLF, a line longer than kMaxLineBytes, a bulk or an array too large
//   for max_reply_bytes (hiredis has no such limit and waits for the bytes).
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/reply_scanner.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/hiredis_framer.h"
#include "tests/fuzz/split_points.h"

namespace ringproxy::fuzz {
namespace {

using proxy::ReplyScanner;
using Status = ReplyScanner::Status;
using HiredisStatus = HiredisFramer::Status;

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
    FUZZ_CHECK(scanner.type() == data[0], "type '%c' for a reply starting with 0x%02x",
               scanner.type(), static_cast<unsigned char>(data[0]));
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

void CheckAgainstHiredis(std::string_view input, const std::vector<Event>& events) {
  HiredisFramer hiredis(input, ReplyScanner::kMaxLineBytes);
  for (size_t index = 0; index < events.size(); ++index) {
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
  CheckAgainstHiredis(input, whole);
  return 0;
}
