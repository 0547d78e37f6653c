// ServerConnection: one connection to a Redis server. Requests are appended to `out_` and their
// fragments to the FIFO; replies come back in the same order, so each reply completes the FIFO's
// head. On any failure every queued fragment is completed with nutcracker's error text
// (`-ERR Connection refused`, `-ERR Connection timed out`, ...) and the connection closes; the
// next request opens a new one. Freed in its libuv close callback.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string_view>

#include "base/byte_buffer.h"
#include "dataplane/pin_holder.h"
#include "dataplane/protocol.h"
#include "dataplane/reply_scanner.h"
#include "dataplane/server_link.h"
#include "dataplane/subscriber_sink.h"
#include "dataplane/worker_context.h"
#include "net/socket_address.h"
#include "net/stream.h"

namespace ringproxy::proxy {

struct Fragment;

class ServerConnection {
 public:
  ServerConnection(WorkerContext* context, ServerLink* server, Protocol protocol);
  ~ServerConnection();
  ServerConnection(const ServerConnection&) = delete;
  ServerConnection& operator=(const ServerConnection&) = delete;

  // Starts connecting; the AUTH/SELECT (and, for RESP3, HELLO 3) handshake is queued ahead of
  // any request, and requests are written only once the server has accepted it.
  void Connect(const SocketAddress& address);
  void Enqueue(Fragment* fragment, std::string_view bytes);
  // Several requests whose bytes must reach the server together and in one piece (a transaction
  // sent as MULTI ... EXEC): one fragment per request, in order, for the replies.
  void EnqueueBlock(std::span<Fragment* const> fragments, std::string_view bytes);
  // Writes what is queued (the worker calls this once per loop iteration).
  void Flush();
  // Has Flush called at the end of this loop iteration (once, however often it is asked).
  void ScheduleFlush() {
    if (!flush_scheduled_) QueueFlush();
  }
  // The end of the loop iteration: the flush asked for is due.
  void RunFlush() {
    flush_scheduled_ = false;
    Flush();
  }
  // Fails every queued fragment with strerror(-error), or with `reply` when given, and closes.
  // Safe to call more than once.
  void Close(int error, std::string_view reply = {});
  // Takes no new requests; closes once the ones it carries have their replies.
  void Retire();

  bool closing() const { return state_ == State::kClosing; }
  // A connection pinned to one client: `holder` is told if it is lost. nullptr unpins.
  void set_holder(PinHolder* holder) { holder_ = holder; }
  size_t queued() const { return fifo_.size(); }
  // When the oldest request's wait started counting against the pool's timeout: when it was
  // queued, or later by a blocking command's own timeout (Fragment::patience_ns).
  uint64_t oldest_enqueued_ns() const;
  // A connection that carries a blocking command asks the server its id once (CLIENT ID, ahead
  // of the command), to be unblocked should its client leave. 0 until the answer arrives.
  void AskClientId();
  uint64_t client_id() const { return client_id_; }
  // Its client left while blocked: a reply that took something is given back (give_back.h).
  void AbandonBlocked() { abandoned_ = true; }
  bool abandoned() const { return abandoned_; }
  const SocketAddress& address() const { return address_; }
  Protocol protocol() const { return protocol_; }
  // A connection that carries subscriptions (pubsub_hub.h): once its handshake is answered,
  // every frame it receives goes to `sink`, which is told when it closes. Set after Connect.
  void set_sink(SubscriberSink* sink) { sink_ = sink; }
  // A command on a subscriber connection: no fragment, its answers go to the sink.
  void SendUnanswered(std::string_view bytes);
  // A pinned connection follows its client's HELLO, which the client sent on it.
  void set_protocol(Protocol protocol) { protocol_ = protocol; }

 private:
  friend class Stream;
  enum class State : uint8_t { kConnecting, kConnected, kClosing };

  void QueueHandshake();
  // Out of line: once per loop iteration, not per request.
  void QueueFlush();
  void SetDeadPeerTimeouts();
  void OnConnect(int status);
  // Stream's owner hooks (stream.h).
  size_t ExpectedInputSize() const { return scanner_.expected_size(); }
  void OnRead(ssize_t nread, const uv_buf_t* buf);
  size_t ConsumeInput(const char* data, size_t size) { return ProcessReplies(data, size); }
  bool TakingInput() const { return state_ != State::kClosing; }
  void OnWritten(int status);
  // Ciphertext that arrived: decrypted and processed; a failed session closes the connection.
  void ReadTls(const char* data, size_t size);
  // The connection is ready for requests: TCP connected and, with TLS, the handshake done.
  void OnReady();
  // Completes fragments with the replies in data[0..size); returns the bytes consumed.
  size_t ProcessReplies(const char* data, size_t size);
  void MarkSent();
  // The server's reply to the handshake fragment `fragment`: false when it refused and the
  // connection closed, failing its requests with the refusal.
  bool OnHandshakeReply(Fragment* fragment, std::string_view reply);
  // The reply to a request of the connection's own (handshake, CLIENT ID, a give-back): false
  // when the connection closed.
  bool OnOwnReply(Fragment* fragment, std::string_view reply);
  // An abandoned connection's reply: what it took for a client that left goes back.
  void GiveBack(const Fragment* fragment, std::string_view reply);

  WorkerContext* context_;
  ServerLink* server_;
  SocketAddress address_;  // the one this connection dialled (the server's may have moved since)
  Stream stream_;          // its TLS session is null without server_tls
  uv_connect_t connect_req_{};
  State state_ = State::kConnecting;
  Protocol protocol_;
  bool retiring_ = false;
  bool flush_scheduled_ = false;
  bool client_id_asked_ = false;
  bool abandoned_ = false;
  uint64_t client_id_ = 0;
  ByteBuffer out_;
  ReplyScanner scanner_;
  std::deque<Fragment*> fifo_;
  PinHolder* holder_ = nullptr;
  SubscriberSink* sink_ = nullptr;
  size_t unsent_bytes_ = 0;
  size_t unsent_ = 0;  // fragments at the back of fifo_ whose bytes are not yet with the kernel
  // Fragments at the front of fifo_ whose bytes have been handed to the socket (written, or
  // queued for libuv to write): only these can have a reply. Those behind them are still in
  // out_ or held for the handshake.
  size_t written_ = 0;
  // Until the server has accepted AUTH and SELECT, requests wait here (counted in unsent_): a
  // refused SELECT must not leave them running in database 0.
  uint32_t handshake_pending_ = 0;
  ByteBuffer held_requests_;
  size_t held_count_ = 0;
  size_t held_bytes_ = 0;
};

}  // namespace ringproxy::proxy
