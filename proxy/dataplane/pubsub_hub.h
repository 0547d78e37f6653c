// PubSubHub: one pool's subscriptions as one worker carries them. The worker's clients share one
// subscriber connection per server (Server::OpenSubscriber, RESP2, opened on first use), so ten
// thousand subscribers cost the servers a connection per worker, not ten thousand.
//
//   SUBSCRIBE ch / SSUBSCRIBE ch  on the server the channel's name hashes to (hash tags apply),
//                                 where PUBLISH and SPUBLISH of that channel go too
//   PSUBSCRIBE pattern            on every server: a channel may live on any
//
// The hub keeps channel -> clients, pattern -> clients and shard channel -> clients; the server
// is asked to subscribe when the worker's first client subscribes to a name and to unsubscribe
// when its last leaves. Confirmations are the proxy's, with the counts Redis gives (the client's
// channels and patterns; its shard channels apart), in the client's protocol; a client's
// confirmation of a name waits for the server's, so a message published after it has been read
// reaches the client. Each message the server sends is written to every client of the name (a
// RESP3 client gets it as a push). A subscriber connection that fails, or whose server moves or
// leaves, closes the clients subscribed through it: they are told, never left deaf. So does a
// placement change that moves a channel to another server.
//
// Loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/byte_buffer.h"
#include "dataplane/pubsub_client.h"
#include "dataplane/pubsub_registry.h"
#include "dataplane/subscriber_sink.h"
#include "dataplane/worker_context.h"

namespace ringproxy::proxy {

class Server;
class ServerConnection;
class ServerPool;
struct Request;

class PubSubHub final : public SubscriberSink {
 public:
  PubSubHub(WorkerContext* context, ServerPool* pool, PubSubRegistry::Pool* counts);
  ~PubSubHub();
  PubSubHub(const PubSubHub&) = delete;
  PubSubHub& operator=(const PubSubHub&) = delete;

  // (P|S)SUBSCRIBE: subscribes `client` to `names` and appends the confirmations to
  // request->reply; request->pending counts the server confirmations it waits for (each a
  // fragment, settled with the request's merge kPubSub). False, with nothing changed: a server
  // it needs cannot be reached (`*error` says why).
  bool Subscribe(PubSubClient* client, SubscriptionKind kind,
                 std::span<const std::string_view> names, Request* request, std::string* error);
  // (P|S)UNSUBSCRIBE: `names`, or every name of `kind` the client has when empty; the replies
  // are appended to `out`.
  void Unsubscribe(PubSubClient* client, SubscriptionKind kind,
                   std::span<const std::string_view> names, ByteBuffer* out);
  // The client closed, or sent RESET: every subscription goes, silently.
  void RemoveClient(PubSubClient* client);
  // The client's channels, patterns and shard channels.
  uint32_t SubscriptionCount(const PubSubClient* client) const;
  // The pool's placement or servers changed: clients of channels that moved are closed, and
  // pattern clients when the servers are not the ones their patterns were sent to.
  void OnPlacementChanged();
  // PUBLISH, SPUBLISH: the receivers over every worker.
  int64_t Receivers(SubscriptionKind kind, std::string_view channel) const {
    return counts_->Receivers(kind, channel);
  }
  // PUBSUB's subcommands, answered from the counts over every worker.
  void AnswerPubsub(std::span<const std::string_view> args, ByteBuffer* out);
  PubSubRegistry::Pool* counts() const { return counts_; }

  // SubscriberSink
  void OnSubscriberFrame(ServerConnection* connection, std::string_view frame) override;
  void OnSubscriberLost(ServerConnection* connection) override;

 private:
  struct Entry {
    Server* server = nullptr;  // channels: where the name lives; null for patterns
    uint32_t awaiting = 0;     // server confirmations not yet received
    std::vector<PubSubClient*> clients;
    std::vector<struct Fragment*> waiters;  // confirmations of clients' requests waiting for it
  };
  struct Link {
    Server* server = nullptr;
    ServerConnection* connection = nullptr;
    // Subscribe commands sent and not confirmed yet, by kind byte + name: the name's entry is
    // confirmed on this link when the count comes back to zero (an earlier subscription
    // dropped before its confirmation arrived must not confirm a later one).
    std::unordered_map<std::string, uint32_t> outstanding;
  };
  struct ClientNames {
    std::unordered_set<std::string> names[3];
  };

  Link* LinkFor(Server* server);
  Link* FindLink(const ServerConnection* connection);
  void Send(Link* link, std::string_view command, std::string_view name);
  // The server a channel (or shard channel) lives on now, or null.
  Server* ServerOf(std::string_view name) const;
  void RemoveFromEntry(SubscriptionKind kind, const std::string& name, PubSubClient* client);
  // An entry goes: its waiters are settled, its servers told (but the link `except`).
  void DropEntry(SubscriptionKind kind, const std::string& name, Entry* entry, const Link* except);
  void Confirm(Link* link, SubscriptionKind kind, std::string_view name);
  void Deliver(Entry* entry, std::string_view frame);
  // Closes `clients` (each once) after the entries they were in are gone.
  void CloseClients(std::vector<PubSubClient*> clients);
  void CountChange(SubscriptionKind kind, std::string_view name, int64_t delta);

  WorkerContext* context_;
  ServerPool* pool_;
  PubSubRegistry::Pool* counts_;
  std::unordered_map<std::string, Entry> entries_[3];
  std::unordered_map<const PubSubClient*, ClientNames> clients_;
  std::vector<std::unique_ptr<Link>> links_;  // stable addresses
  std::vector<Server*> pattern_servers_;      // the servers patterns were sent to
  std::vector<PubSubClient*> delivery_;       // scratch: an entry's clients during a delivery
  std::string push_;                          // scratch: a message as a RESP3 push
};

}  // namespace ringproxy::proxy
