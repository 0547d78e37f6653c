// ClientConnection: one application connection. Reads are framed into requests (RequestParser),
// each request is routed (the hot single-key path inline, everything else by the Router) and
// executed: answered locally, forwarded whole to the server owning its keys, split across
// servers and merged, sent to every server, or queued in a transaction. Replies leave in request
// order, however the servers' replies interleave: requests wait in an intrusive queue, and the
// head is written out as soon as it is complete, usually straight from the server's read buffer.
//
// Flow control (flow_control.h): memory per client is bounded by its pending requests, its
// unread replies and the requests it sent ahead, and a client that writes before it reads is
// always served. A client that half-closes gets every reply it asked for before the proxy
// closes. Requests held back (flow control, a WATCH waiting for the client's requests in flight
// to finish) stay unparsed in the stream's carried-over input and are taken up where they
// stopped.
//
// Freed in its libuv close callback.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "base/byte_buffer.h"
#include "dataplane/client_session.h"
#include "dataplane/command_table.h"
#include "dataplane/flow_control.h"
#include "dataplane/pin_holder.h"
#include "dataplane/pubsub_client.h"
#include "dataplane/pubsub_registry.h"
#include "dataplane/request_parser.h"
#include "dataplane/router.h"
#include "dataplane/worker_context.h"
#include "net/stream.h"
#include "stats/stats.h"

namespace ringproxy::proxy {

class Server;
class ServerConnection;
class ServerPool;
struct Request;

class ClientConnection final : public PinHolder, public PubSubClient {
 public:
  ClientConnection(WorkerContext* context, ServerPool* pool, int workers);
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  // Accepts the pending connection on `listener` and starts reading. False: already closed.
  bool Accept(uv_stream_t* listener, bool is_unix);

  // --- from the worker ---
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
  bool IsHead(const Request* request) const { return head_ == request; }
  ServerPool* pool() const { return pool_; }
  // The head request's reply has arrived whole: write it out without copying it into the request.
  void CompleteHead(std::string_view reply);
  // A request of this client completed (it may be behind others that have not).
  void OnRequestDone(Request* request);
  // Once a second: disconnects the client if it holds replies past the soft output limit and
  // has taken no byte for the limit's seconds. True if it did.
  bool CheckStalledOutput();
  // Drain: close now when nothing is in flight, else once it is.
  void CloseWhenIdle();
  // Bytes the client sent that we have not processed (kernel buffer or our own); resumes
  // reading when there are some.
  bool HasUnreadInput();
  void Close();
  // Ends the connection without losing replies: FIN once everything is written, then whatever
  // the client still sends is read and dropped until it closes too (or a short linger passes).
  // Closing with unread input instead would send a RST, which can destroy replies in flight.
  void HalfClose();
  // For the worker's idle sweep: nothing in flight or left to write, and not ending: the next
  // move is the client's. (A request received in part does not keep a client from being idle.)
  bool AwaitingClient() const {
    return head_ == nullptr && !HasOutput() && !stream_.write_in_flight() &&
           state_ == State::kOpen && !peer_finished_;
  }
  // The worker clock when the client last completed a request or was answered: idleness is
  // counted in requests, so a client trickling a byte at a time is still idle.
  uint64_t last_active_ns() const { return last_active_ns_; }
  // For the worker's handshake sweep: a TLS client whose handshake has not finished, and when
  // it was accepted.
  bool TlsHandshakePending() const;
  uint64_t accepted_ns() const { return accepted_ns_; }

  // The worker adopted a new topology: the pool's settings may have changed.
  void OnPoolChanged();

  // A command being learned (learned_commands.h) has been: take up the requests held for it.
  void OnCommandLearned();

  // PinHolder
  void OnPinnedConnectionLost() override;

  // PubSubClient (client_pubsub.cc)
  void DeliverPubSub(std::string_view frame) override;
  void OnSubscriptionsLost() override;
  Protocol pubsub_protocol() const override { return session_.protocol; }

  size_t worker_slot = 0;  // index in the worker's client list

 private:
  friend class Stream;
  enum class State : uint8_t {
    kOpen,        // reading and answering
    kEnding,      // answering what it has, then a FIN (QUIT, a protocol error, a refused client)
    kHalfClosed,  // our FIN sent; reading and dropping until the client closes too
    kClosing,     // uv_close called
  };
  // Why parsed requests are not being dispatched right now.
  enum class Hold : uint8_t {
    kNone,
    // A WATCH, or a HELLO that switches protocol, waits for the client's requests in flight: the
    // connection its next requests travel on changes.
    kUntilIdle,
    kLearning,  // a command the table does not know is being looked up on the servers
  };

  // Stream's owner hooks (stream.h).
  size_t ExpectedInputSize() const { return parser_.expected_size(); }
  void OnRead(ssize_t nread, const uv_buf_t* buf);
  size_t ConsumeInput(const char* data, size_t size) { return ProcessRequests(data, size); }
  // Ending or closing: what follows the request that ended it is never read.
  bool TakingInput() const { return state_ == State::kOpen; }
  void OnWritten(int status);

  int StartReading() { return stream_.StartReading<ClientConnection>(); }
  void OnPeerFinished();
  // Ciphertext that arrived: decrypted and processed; a failed session closes the client.
  void ReadTls(const char* data, size_t size);
  void SendCloseNotify();
  // After a failed handshake: the alert that says why, before the close (best effort).
  void SendTlsAlert();
  // Frames and dispatches complete requests in data[0..size) while dispatching is allowed;
  // returns the bytes consumed.
  size_t ProcessRequests(const char* data, size_t size);
  // Requests held back in the carried-over input, taken up again (from Flush, never from inside a
  // dispatch).
  void ResumeInput();
  bool CanDispatch() const;
  size_t DispatchLimit() const;
  // Routes and executes the request the parser just framed at `data`. False: it cannot be taken
  // now (it is left unconsumed, and parsed again when the hold ends).
  bool Dispatch(const char* data);
  bool Execute(const CommandSpec* spec, const RouteDecision& decision, std::string_view raw);
  bool ExecuteDecision(const CommandSpec* spec, const RouteDecision& decision,
                       std::string_view raw);
  // Whether a single-key command may take the hot path: authenticated (or no password) and not
  // inside MULTI. Kept current after every request that is not a single-key one.
  void UpdatePlain();
  // A HELLO naming the other protocol (a valid one or not: holding a HELLO for nothing costs
  // only a wait).
  bool SwitchesProtocol(std::span<const std::string_view> args) const;
  void Forward(uint32_t server, std::string_view raw, CommandClass command_class);
  // Queues `bytes` for `server` on the client's pinned connection when it has one there.
  void SendTo(Server* server, struct Fragment* fragment, std::string_view bytes);
  void Split(const RouteDecision& decision);
  // SCAN of one server of the pool, from the server's own cursor (scan_cursor.h).
  void Scan(const RouteDecision& decision);
  void FanOut(const RouteDecision& decision, std::string_view raw);
  void AnswerLocal(const CommandSpec& spec);
  void AnswerInfo();
  // The request as it goes to a server: its own bytes, or re-encoded when it came inline.
  std::string_view WireBytes(std::string_view raw);
  // A command the table does not know (learned_commands.h): kRoute with *spec set if the
  // servers taught it, left null when it is unknown (the Router answers Redis's error);
  // kAnswered when an error was replied; kHeld when the request waits while it is learned.
  enum class Learned : uint8_t { kRoute, kAnswered, kHeld };
  Learned LookUpLearned(std::string_view name, const CommandSpec** spec);

  // Pub/sub and RESET (client_pubsub.cc, pubsub_hub.h). False: held until idle (RESET
  // switching the protocol back with requests in flight).
  bool ExecutePubSub(const CommandSpec& spec, const RouteDecision& decision, std::string_view raw);
  void Subscribe(SubscriptionKind kind, std::string_view raw);
  void Unsubscribe(SubscriptionKind kind);
  void Publish(SubscriptionKind kind, const RouteDecision& decision, std::string_view raw);
  bool Reset();

  // Transactions (router.h).
  void QueueInTransaction(const RouteDecision& decision, std::string_view raw);
  void Exec(const RouteDecision& decision);
  // WATCH: pins a connection to the server of the keys (after the requests in flight are done).
  bool Watch(const RouteDecision& decision, std::string_view raw);
  // WATCH and blocking commands: a connection of the client's own to `server`, after the
  // client's requests in flight (kHeld until then); kAnswered when refused, with the error
  // naming what needed it. `usual`: the connection the client's requests to `server` took so
  // far, when it is still open (WAIT).
  enum class PinOutcome : uint8_t { kPinned, kHeld, kAnswered };
  PinOutcome PinTo(Server* server, std::string_view need, CommandClass command_class,
                   bool usual = false);
  void Unwatch(std::string_view raw);
  // DISCARD / EXECABORT: the transaction goes, and so does any WATCH.
  void DropTransaction();
  // The pinned connection goes back once nothing is in flight (order is kept until then).
  void MaybeUnpin();
  void Unpin(bool reusable);

  // Blocking commands (router.h): on a connection pinned to the client while it blocks (its
  // WATCH's when it has one there), after its requests in flight; what it sends next waits for
  // the reply. False: held until those requests are done.
  bool Block(const CommandSpec& spec, const RouteDecision& decision, std::string_view raw);
  // The blocking command's reply is in (or the client leaves): no longer counted as blocked.
  void EndBlocked();

  // A reply composed by the proxy: goes straight out when nothing is ahead of it, else queues.
  ByteBuffer* BeginLocalReply(CommandClass command_class);
  void EndLocalReply();
  void ReplyError(std::string_view text, CommandClass command_class = CommandClass::kRejected);
  void ReplySimple(std::string_view text, CommandClass command_class);

  Request* Enqueue(CommandClass command_class, size_t request_bytes);
  // A request's reply is ready (it stays queued until the requests ahead of it are written).
  void NoteDone(Request* request);
  void Retire(Request* request);
  void WriteCompletedHeads();
  void ReserveOutput(size_t reply_bytes);
  // After anything that may change what the client may do next (a reply, a write, a read).
  // Inline: the steady state of a busy client, after nearly every reply, is reading and
  // forwarding with nothing held back or ending; a reply then only makes room (fewer pending)
  // or fills the output, which the next batch of requests weighs (ProcessRequests), and there
  // is nothing to do.
  void AfterProgress() {
    if (reading_ && forwarding_ && state_ == State::kOpen && hold_ == Hold::kNone && !held_input_ &&
        !unpin_when_idle_ && !peer_finished_ && !leaving_) {
      return;
    }
    UpdateAfterProgress();
  }
  void UpdateAfterProgress();
  // Out of line: once per loop iteration, not per request.
  void QueueFlush();
  // Reply bytes this client holds in the proxy. Inline: weighed after every reply.
  size_t HeldBytes() const {
    const TlsSession* tls = stream_.tls();
    return out_.size() + stream_.queued_bytes() + parked_bytes_ +
           (tls != nullptr ? tls->ciphertext().size() : 0);
  }
  // Bytes waiting to be written: replies, or (TLS) ciphertext.
  bool HasOutput() const {
    const TlsSession* tls = stream_.tls();
    return !out_.empty() || (tls != nullptr && !tls->ciphertext().empty());
  }
  FlowState Flow() const;
  const FlowLimits& Limits() const;
  // Closes the client when `incoming` more reply bytes would pass the hard output limit.
  bool CloseIfOverHardLimit(size_t incoming);
  bool OverHardLimit(size_t incoming) const {
    const uint64_t hard = Limits().output.hard_bytes;
    return hard != 0 && uint64_t{HeldBytes()} + incoming > hard;
  }
  void CloseOverHardLimit(size_t incoming);
  void UpdateReading();
  void NoteOutputProgress();

  WorkerContext* context_;
  ServerPool* pool_;
  PoolStats* stats_;
  int workers_;
  // Its TLS session is null for a plain TCP or unix socket client. What it carries over is
  // requests: an incomplete one, or ones held back.
  Stream stream_;
  RequestParser parser_;
  ClientSession session_;
  ByteBuffer out_;  // replies ready to be written
  Request* head_ = nullptr;
  Request* tail_ = nullptr;
  Request* local_reply_ = nullptr;  // set between BeginLocalReply and EndLocalReply when queued
  size_t queued_ = 0;               // requests in the queue, done or not
  size_t pending_ = 0;              // of those, not done yet
  size_t pending_bytes_ = 0;        // their request bytes
  size_t parked_bytes_ = 0;         // replies of done requests waiting behind unfinished ones
  uint64_t last_active_ns_ = 0;
  uint64_t last_progress_ns_ = 0;  // the client last took or sent a byte
  size_t reply_estimate_ = 0;      // FlowControl::NextReplyEstimate
  // WATCH: the connection pinned to the client, and its server.
  ServerConnection* pinned_ = nullptr;
  Server* pinned_server_ = nullptr;
  bool unpin_when_idle_ = false;
  bool watch_lost_ = false;  // the pinned connection failed while a WATCH was on it
  bool blocked_ = false;     // a blocking command of this client awaits its reply
  State state_ = State::kOpen;
  Hold hold_ = Hold::kNone;
  uint64_t accepted_ns_ = 0;
  bool reading_ = false;
  bool flush_scheduled_ = false;
  bool forwarding_ = true;  // FlowControl::ShouldForward
  bool plain_ = false;      // UpdatePlain
  bool processing_ = false;
  bool held_input_ = false;  // requests carried over that the last ProcessRequests could not take
  bool resume_input_ = false;
  bool resume_stalled_ = false;   // the last resume took nothing: wait for a reply or a write
  bool counted_ = false;          // in client_connections and admitted by the pool
  bool peer_finished_ = false;    // the client sent its FIN: answer what it sent, then close
  bool leaving_ = false;          // CloseWhenIdle() was called: close once nothing is in flight
  uv_timer_t* linger_ = nullptr;  // only while half-closed
};

}  // namespace ringproxy::proxy
