// Request: one client command on its way through the proxy, and the merge of its fragments.
//
//   ClientConnection queue (in request order)      ServerConnection FIFO (in send order)
//   [Request] -> [Request] -> [Request]             [Fragment] -> [Fragment] -> ...
//                  |  pending = 2                        | request
//                  +---------<---- replies -----------<--+
//
// A request answered by the proxy itself completes at once; a routed one completes when every
// fragment has a reply. Requests are owned by their client's queue; when the client goes away
// first, `client` becomes null and the request lives on until its last fragment returns (its
// reply is then dropped), so a server reply always finds the request it belongs to.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/byte_buffer.h"
#include "dataplane/command_table.h"
#include "dataplane/protocol.h"
#include "stats/stats.h"

namespace ringproxy::proxy {

class ClientConnection;

class ServerPool;

struct Request {
  ClientConnection* client = nullptr;   // null once the client has gone, or for kLearn
  ServerPool* learning_pool = nullptr;  // kLearn: whose LearnedCommands the replies are for
  Request* next = nullptr;              // the client's queue
  uint64_t started_ns = 0;
  size_t request_bytes = 0;  // what the client sent, counted against its in-flight bytes
  CommandClass command_class = CommandClass::kSingleKey;
  uint32_t pending = 0;  // fragments without a reply yet
  bool done = false;
  bool parked = false;  // done, waiting behind requests that are not
  bool push = false;    // a pub/sub message waiting behind replies: no command, not counted
  MergeKind merge = MergeKind::kForward;
  ByteBuffer reply;  // the finished reply, when it could not go straight out
  // A short forwarded reply that arrived before the requests ahead of it is kept here instead:
  // most replies are small, and this spares a malloc/free pair for each of them.
  static constexpr size_t kInlineReply = 96;
  uint32_t inline_size = 0;
  char inline_reply[kInlineReply];

  // Split state (MGET/MSET/DEL/...): unused for forwarded and local requests.
  std::vector<std::string> fragment_replies;  // kArray: each server's array reply
  std::vector<uint32_t> key_fragment;         // kArray: fragment index of each key, in key order
  std::string error;                          // first failure: the whole command fails with it
  int64_t sum = 0;
  bool answered = false;                 // kSameReply: a reply is kept; kAnyOk: a server said +OK
  Protocol protocol = Protocol::kResp2;  // kInfoKeyspace: the client's, for the merged text
  uint32_t scan_server = 0;              // kScan: the server scanned, and the pool's server count
  uint32_t scan_servers = 0;
  // A blocking command that could take something from its keys (BLPOP, BZPOPMIN ...): its
  // arguments, kept so that what it took can be given back if its client leaves before the
  // reply (give_back.h). Empty otherwise.
  std::vector<std::string> give_back_args;

  // Records one fragment's complete reply (`bytes` is the whole RESP reply). Returns true when
  // that was the last outstanding fragment and `reply` now holds the client's reply.
  bool OnFragmentReply(uint32_t fragment, std::string_view bytes);
  // Sets up split state for `fragments` fragments.
  void BeginSplit(MergeKind kind, uint32_t fragments);
  // The finished reply (inline or in `reply`).
  std::string_view ReplyBytes() const {
    return inline_size > 0 ? std::string_view(inline_reply, inline_size) : reply.view();
  }
  // Back to a fresh state for reuse, keeping vector capacity.
  void Reset();

 private:
  void Finish();
  void FinishAndArray();
  void FinishConcat();
  void FinishRandomNonNull();
  void FinishScan();
};

// The kinds after kQuiet are the connection's own requests, whose replies it reads itself.
enum class FragmentKind : uint8_t {
  kRequest,    // a client request or a piece of one: its reply completes `request`
  kQuiet,      // a reply nobody waits for (MULTI's +OK and the +QUEUED of a transaction sent
               // as one block, UNWATCH after DISCARD, CLIENT UNBLOCK): dropped
  kHandshake,  // AUTH/SELECT of a new connection: a refusal is logged
  kClientId,   // CLIENT ID on a connection that carries a blocking command: the connection
               // keeps the server's id for itself, to unblock it (CLIENT UNBLOCK)
  kGiveBack,   // what a blocking command took for a client that left, pushed back: a refusal
               // is logged
};

// A piece of a request queued on one server connection. Only kRequest fragments have a request.
struct Fragment {
  Request* request = nullptr;
  uint32_t index = 0;
  FragmentKind kind = FragmentKind::kRequest;
  uint64_t enqueued_ns = 0;
  // How much longer than the pool's timeout the reply may take: a blocking command's own
  // timeout (kBlockForever for none).
  uint64_t patience_ns = 0;
  size_t bytes = 0;  // of the request on the wire, for the queue-size stats
};

}  // namespace ringproxy::proxy
