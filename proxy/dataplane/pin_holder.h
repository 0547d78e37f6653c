#pragma once

namespace ringproxy::proxy {

// PinHolder: a client holding a server connection of its own (its WATCH lives there). The
// holder is told at once when that connection is lost, since what it kept on it is gone too.
// A virtual call, made only when a pinned connection closes: never on the request path.
class PinHolder {
 public:
  // Called from inside ServerConnection::Close, after the connection's queued fragments have
  // been failed; the connection is already unusable.
  virtual void OnPinnedConnectionLost() = 0;

 protected:
  ~PinHolder() = default;
};

}  // namespace ringproxy::proxy
