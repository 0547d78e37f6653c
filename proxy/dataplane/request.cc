#include "dataplane/request.h"

#include <cstring>
#include <random>

#include "base/decimal.h"
#include "dataplane/info_reply.h"
#include "dataplane/reply_scanner.h"
#include "dataplane/resp_writer.h"
#include "dataplane/scan_cursor.h"

namespace ringproxy::proxy {
namespace {

// An error reply's first byte: a simple error, or a RESP3 blob error.
bool IsError(char type) { return type == '-' || type == '!'; }

// The text of an error reply, simple (-TEXT) or blob (!N TEXT); the proxy's own reply carries it
// as a simple error (AppendError turns any CR or LF into a space).
std::string_view ErrorText(std::string_view bytes) {
  if (!bytes.empty() && bytes[0] == '!') {
    const size_t body = bytes.find("\r\n");
    if (body != std::string_view::npos && bytes.size() >= body + 4) {
      return bytes.substr(body + 2, bytes.size() - body - 4);
    }
  }
  if (bytes.size() >= 3) return bytes.substr(1, bytes.size() - 3);
  return "ERR invalid reply from server";
}

// The integer of a ':' reply; false when it is not one.
bool IntegerValue(std::string_view bytes, int64_t* value) {
  if (bytes.size() < 4 || bytes[0] != ':' || !bytes.ends_with("\r\n")) return false;
  return ParseDecimal(bytes.substr(1, bytes.size() - 3), value);
}

}  // namespace

void Request::Reset() {
  // Only split requests (BeginSplit) touch the split state: a forwarded one, nearly every
  // request, has nothing there to clear, and usually no reply buffer to free.
  if (merge != MergeKind::kForward) {
    fragment_replies.clear();
    key_fragment.clear();
    error.clear();
    sum = 0;
    answered = false;
    protocol = Protocol::kResp2;
    scan_server = 0;
    scan_servers = 0;
  }
  if (reply.capacity() != 0) reply.Release();
  if (!give_back_args.empty()) give_back_args.clear();
  client = nullptr;
  learning_pool = nullptr;
  next = nullptr;
  started_ns = 0;
  request_bytes = 0;
  command_class = CommandClass::kSingleKey;
  pending = 0;
  done = false;
  parked = false;
  push = false;
  merge = MergeKind::kForward;
  inline_size = 0;
}

void Request::BeginSplit(MergeKind kind, uint32_t fragments) {
  merge = kind;
  pending = fragments;
  if (kind == MergeKind::kArray || kind == MergeKind::kAndArray || kind == MergeKind::kConcat ||
      kind == MergeKind::kRandomNonNull || kind == MergeKind::kScan) {
    fragment_replies.assign(fragments, std::string());
  } else if (kind == MergeKind::kInfoKeyspace || kind == MergeKind::kLearn) {
    // One slot per server, and the proxy's own sections last (set by the caller).
    fragment_replies.assign(fragments + 1, std::string());
  } else if (kind == MergeKind::kSameReply) {
    fragment_replies.assign(1, std::string());
  }
}

bool Request::OnFragmentReply(uint32_t fragment, std::string_view bytes) {
  const char type = bytes.empty() ? 0 : bytes[0];
  switch (merge) {
    case MergeKind::kForward:
      if (bytes.size() <= kInlineReply && reply.empty()) {
        std::memcpy(inline_reply, bytes.data(), bytes.size());
        inline_size = static_cast<uint32_t>(bytes.size());
      } else {
        reply.Append(bytes);
      }
      break;
    case MergeKind::kArray:
      if (type == '*') {
        fragment_replies[fragment].assign(bytes);
      } else if (error.empty()) {
        error = IsError(type) ? std::string(ErrorText(bytes)) : "ERR unexpected reply to MGET";
      }
      break;
    case MergeKind::kAllOk:
      if (type != '+' && error.empty()) {
        error = IsError(type) ? std::string(ErrorText(bytes)) : "ERR unexpected reply to MSET";
      }
      break;
    case MergeKind::kSum: {
      int64_t value = 0;
      if (IntegerValue(bytes, &value)) {
        // Servers cannot count past int64 between them, but a reply is not trusted to be sane.
        if (__builtin_add_overflow(sum, value, &sum) && error.empty()) {
          error = "ERR the servers' counts add up past a 64-bit integer";
        }
      } else if (error.empty()) {
        error = IsError(type) ? std::string(ErrorText(bytes)) : "ERR unexpected integer reply";
      }
      break;
    }
    case MergeKind::kSameReply:
      if (IsError(type)) {
        if (error.empty()) error = std::string(ErrorText(bytes));
      } else if (!answered) {
        fragment_replies[0].assign(bytes);
        answered = true;
      } else if (fragment_replies[0] != bytes && error.empty()) {
        error = "ERR the servers of the pool answered differently";
      }
      break;
    case MergeKind::kLearn:
      fragment_replies[fragment].assign(bytes);  // errors too: they say why nothing was learned
      break;
    case MergeKind::kInfoKeyspace:
      if (type == '$') {
        fragment_replies[fragment].assign(bytes);
      } else if (error.empty()) {
        error = IsError(type) ? std::string(ErrorText(bytes)) : "ERR unexpected reply to INFO";
      }
      break;
    case MergeKind::kConcat:
    case MergeKind::kScan:
    case MergeKind::kAndArray:
      if (type == '*') {
        fragment_replies[fragment].assign(bytes);
      } else if (error.empty()) {
        error = IsError(type) ? std::string(ErrorText(bytes)) : "ERR unexpected reply";
      }
      break;
    case MergeKind::kRandomNonNull:
      if (type == '$' || type == '_') {
        fragment_replies[fragment].assign(bytes);
      } else if (error.empty()) {
        error = type == '-' ? std::string(ErrorText(bytes)) : "ERR unexpected reply";
      }
      break;
    case MergeKind::kPubSub:
      break;  // the reply was composed before; the server's confirmation only let it go
    case MergeKind::kPublish:
      if (type != ':' && error.empty()) {
        error = IsError(type) ? std::string(ErrorText(bytes)) : "ERR unexpected reply to PUBLISH";
      }
      break;
    case MergeKind::kAnyOk:
      if (type == '+') {
        answered = true;
      } else if (error.empty() || error.starts_with("NOTBUSY")) {
        // NOTBUSY from a server running nothing says the least: any other error says more.
        error = IsError(type) ? std::string(ErrorText(bytes)) : "ERR unexpected reply";
      }
      break;
  }
  if (--pending > 0) return false;
  if (merge != MergeKind::kForward) Finish();
  done = true;
  return true;
}

void Request::Finish() {
  if (merge == MergeKind::kAnyOk && answered) {
    resp::AppendSimple(&reply, "OK");
    return;
  }
  if (!error.empty()) {
    resp::AppendError(&reply, error);
    return;
  }
  switch (merge) {
    case MergeKind::kForward:
    case MergeKind::kAnyOk:
    case MergeKind::kLearn:
    case MergeKind::kPubSub:
      break;
    case MergeKind::kPublish:
      resp::AppendInteger(&reply, sum);
      break;
    case MergeKind::kSameReply:
      reply.Append(fragment_replies[0]);
      break;
    case MergeKind::kAndArray:
      FinishAndArray();
      break;
    case MergeKind::kConcat:
      FinishConcat();
      break;
    case MergeKind::kRandomNonNull:
      FinishRandomNonNull();
      break;
    case MergeKind::kScan:
      FinishScan();
      break;
    case MergeKind::kInfoKeyspace: {
      std::string text = std::move(fragment_replies.back());
      fragment_replies.pop_back();
      if (!text.empty()) text += "\r\n";
      text += MergedKeyspace(fragment_replies);
      resp::AppendVerbatimText(&reply, text, protocol);
      break;
    }
    case MergeKind::kAllOk:
      resp::AppendSimple(&reply, "OK");
      break;
    case MergeKind::kSum:
      resp::AppendInteger(&reply, sum);
      break;
    case MergeKind::kArray: {
      // Each fragment's array holds its keys' values in the order they were sent; walk them in
      // step with key_fragment to restore the client's key order.
      std::vector<size_t> cursor(fragment_replies.size(), 0);
      for (size_t f = 0; f < fragment_replies.size(); ++f) {
        const std::string& r = fragment_replies[f];
        cursor[f] = r.find("\r\n") + 2;  // past the "*N" header
      }
      resp::AppendArrayHeader(&reply, static_cast<int64_t>(key_fragment.size()));
      ReplyScanner scanner;
      for (const uint32_t f : key_fragment) {
        const std::string& r = fragment_replies[f];
        if (cursor[f] >= r.size() || scanner.Scan(r.data() + cursor[f], r.size() - cursor[f]) !=
                                         ReplyScanner::Status::kComplete) {
          reply.Release();
          resp::AppendError(&reply, "ERR server returned fewer values than keys");
          return;
        }
        reply.Append(r.data() + cursor[f], scanner.size());
        cursor[f] += scanner.size();
      }
      break;
    }
  }
}

}  // namespace ringproxy::proxy

namespace ringproxy::proxy {

void Request::FinishAndArray() {
  // Each server's array of :0/:1, one per SHA: the pool has a script only where every server
  // has it (EVALSHA may route to any of them).
  std::vector<int64_t> all;
  ReplyScanner scanner;
  for (size_t f = 0; f < fragment_replies.size(); ++f) {
    const std::string& r = fragment_replies[f];
    size_t cursor = r.find("\r\n") + 2;
    size_t index = 0;
    while (cursor < r.size()) {
      if (scanner.Scan(r.data() + cursor, r.size() - cursor) != ReplyScanner::Status::kComplete) {
        break;
      }
      int64_t value = 0;
      if (!IntegerValue(std::string_view(r.data() + cursor, scanner.size()), &value)) {
        resp::AppendError(&reply, "ERR unexpected reply");
        return;
      }
      if (f == 0) {
        all.push_back(value);
      } else if (index < all.size()) {
        all[index] = all[index] != 0 && value != 0 ? 1 : 0;
      }
      ++index;
      cursor += scanner.size();
    }
    if (index != all.size()) {
      resp::AppendError(&reply, "ERR the servers of the pool answered differently");
      return;
    }
  }
  resp::AppendArrayHeader(&reply, static_cast<int64_t>(all.size()));
  for (const int64_t value : all) resp::AppendInteger(&reply, value);
}

}  // namespace ringproxy::proxy

namespace ringproxy::proxy {
namespace {

// The element count of an array reply's "*<n>\r\n" header, and where its elements start.
bool ArrayHeader(std::string_view r, int64_t* count, size_t* body) {
  const size_t end = r.find("\r\n");
  if (r.empty() || r[0] != '*' || end == std::string_view::npos) return false;
  if (!ParseDecimal(r.substr(1, end - 1), count) || *count < 0) return false;
  *body = end + 2;
  return true;
}

}  // namespace

void Request::FinishConcat() {
  // KEYS: each server's keys, one server after another (KEYS promises no order).
  int64_t total = 0;
  std::vector<size_t> bodies(fragment_replies.size(), 0);
  for (size_t f = 0; f < fragment_replies.size(); ++f) {
    int64_t count = 0;
    if (!ArrayHeader(fragment_replies[f], &count, &bodies[f])) {
      resp::AppendError(&reply, "ERR unexpected reply");
      return;
    }
    total += count;
  }
  resp::AppendArrayHeader(&reply, total);
  for (size_t f = 0; f < fragment_replies.size(); ++f) {
    reply.Append(std::string_view(fragment_replies[f]).substr(bodies[f]));
  }
}

void Request::FinishRandomNonNull() {
  // RANDOMKEY: a key of a random server among those that have one. A nil is "$-1" in RESP2 and
  // "_" in RESP3; when every server is empty, a server's own nil answers, in the client's form.
  std::vector<size_t> found;
  for (size_t f = 0; f < fragment_replies.size(); ++f) {
    const std::string& r = fragment_replies[f];
    if (r[0] == '$' && !r.starts_with("$-1\r\n")) found.push_back(f);
  }
  if (found.empty()) {
    reply.Append(fragment_replies[0]);
    return;
  }
  thread_local std::minstd_rand random(std::random_device{}());
  std::uniform_int_distribution<size_t> pick(0, found.size() - 1);
  reply.Append(fragment_replies[found[pick(random)]]);
}

void Request::FinishScan() {
  // The server's reply, [cursor, keys], with its cursor replaced by the pool's: "*2\r\n$<len>\r\n
  // <cursor>\r\n" then the keys array, which goes out as the server sent it (an array in RESP2
  // and RESP3 alike).
  const std::string_view r = fragment_replies[0];
  constexpr std::string_view kHead = "*2\r\n$";
  const size_t length_end = r.find("\r\n", kHead.size());
  int64_t length = 0;
  uint64_t returned = 0;
  uint64_t pool_cursor = 0;
  if (!r.starts_with(kHead) || length_end == std::string_view::npos ||
      !ParseDecimal(r.substr(kHead.size(), length_end - kHead.size()), &length) || length <= 0 ||
      length_end + 2 + static_cast<size_t>(length) + 2 > r.size() ||
      !ParseServerCursor(r.substr(length_end + 2, static_cast<size_t>(length)), &returned)) {
    resp::AppendError(&reply, "ERR unexpected reply to SCAN");
    return;
  }
  if (!ScanCursor::Next(scan_server, returned, scan_servers, &pool_cursor)) {
    resp::AppendError(&reply,
                      "ERR the server's SCAN cursor is too large to combine with its "
                      "server index");
    return;
  }
  const std::string cursor = std::to_string(pool_cursor);
  resp::AppendArrayHeader(&reply, 2);
  resp::AppendBulk(&reply, cursor);
  reply.Append(r.substr(length_end + 2 + static_cast<size_t>(length) + 2));
}

}  // namespace ringproxy::proxy
