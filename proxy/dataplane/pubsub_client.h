#pragma once

#include <string_view>

#include "dataplane/protocol.h"

namespace ringproxy::proxy {

// PubSubClient: a client with subscriptions, as the PubSubHub below it sees it (the client
// connection). Virtual calls, made per message delivered and per lost subscription.
class PubSubClient {
 public:
  // A message (or pmessage, smessage), already in the client's protocol, to be written after the
  // replies it has been given so far.
  virtual void DeliverPubSub(std::string_view frame) = 0;
  // A server carrying its subscriptions failed or moved: the client is closed, so that it knows
  // (and resubscribes when it reconnects) rather than waiting, deaf, for messages.
  virtual void OnSubscriptionsLost() = 0;
  virtual Protocol pubsub_protocol() const = 0;

 protected:
  ~PubSubClient() = default;
};

}  // namespace ringproxy::proxy
