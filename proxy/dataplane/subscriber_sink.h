#pragma once

#include <string_view>

namespace ringproxy::proxy {

class ServerConnection;

// SubscriberSink: the owner of a server connection that carries subscriptions (PubSubHub). Every
// frame such a connection receives after its handshake is a message or a (un)subscribe
// confirmation, not a reply to a queued request, and goes here.
class SubscriberSink {
 public:
  // `frame` is one whole RESP frame, valid during the call.
  virtual void OnSubscriberFrame(ServerConnection* connection, std::string_view frame) = 0;
  // From inside ServerConnection::Close: the connection and its subscriptions are gone.
  virtual void OnSubscriberLost(ServerConnection* connection) = 0;

 protected:
  ~SubscriberSink() = default;
};

}  // namespace ringproxy::proxy
