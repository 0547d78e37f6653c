#pragma once

#include <cstdint>
#include <string>

#include "base/byte_buffer.h"
#include "dataplane/protocol.h"

namespace ringproxy::proxy {

// A server index meaning "none yet" (no key has decided where a transaction runs).
inline constexpr uint32_t kNoServerYet = UINT32_MAX;

// A MULTI the proxy queues for a client until EXEC. Redis queues the commands on the client's own
// connection; through the proxy they are held here, answered +QUEUED, checked to share one
// server, and sent to that server as one MULTI ... EXEC block, so a refused transaction never
// reaches any server at all.
struct Transaction {
  bool active = false;             // between MULTI and EXEC/DISCARD
  bool failed = false;             // a command was refused while queueing: EXEC answers EXECABORT
  uint32_t server = kNoServerYet;  // where its keys live, once a keyed command was queued
  uint32_t commands = 0;
  ByteBuffer queued;  // the queued commands, as the client sent them (RESP)

  void Reset() {
    active = false;
    failed = false;
    server = kNoServerYet;
    commands = 0;
    queued.Release();
  }
};

// What the proxy remembers about one client between its requests.
struct ClientSession {
  uint64_t id = 0;
  std::string name;                      // CLIENT SETNAME
  Protocol protocol = Protocol::kResp2;  // HELLO: what the client's replies are written in
  bool authenticated = false;            // only consulted when the pool has redis_auth
  bool close_after_reply = false;        // QUIT, or too many wrong passwords
  uint32_t auth_failures = 0;            // wrong passwords given on this connection
  Transaction transaction;
  // The server of the keys the client WATCHes (a server connection is pinned to the client
  // until EXEC, DISCARD, UNWATCH or disconnect), or kNoServerYet.
  uint32_t watch_server = kNoServerYet;
  // The server of the client's last keyed command, or kNoServerYet: WAIT counts the replicas
  // that have its writes, so it goes where they went.
  uint32_t last_server = kNoServerYet;
  // Channels, patterns and shard channels the client is subscribed to (pubsub_hub.h): a RESP2
  // client with any is in subscribed mode.
  uint32_t subscriptions = 0;
};

}  // namespace ringproxy::proxy
