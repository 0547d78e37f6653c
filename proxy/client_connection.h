// ClientConnection: one application connection. Reads are framed into requests (RequestParser),
// each request is routed — answered locally, forwarded whole to the server owning its key, or
// split across servers and merged — and replies leave in request order, however the servers'
// replies interleave. Requests wait in an intrusive queue; the head is written out as soon as it
// is complete, which in the common case is straight from the server's read buffer.
//
// Back-pressure: above the worker's pending-request or pending-byte limit the connection stops
// reading until half has drained, so memory stays bounded whatever the client does.
// Freed in its libuv close callback.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "proxy/byte_buffer.h"
#include "proxy/client_session.h"
#include "proxy/command_table.h"
#include "proxy/request_parser.h"
#include "proxy/stats.h"

namespace ringproxy::proxy {

class Server;
class ServerPool;
class TlsSession;
class Worker;
struct Request;

class ClientConnection {
 public:
  ClientConnection(Worker* worker, ServerPool* pool, int workers);
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  // Accepts the pending connection on `listener` and starts reading. False: already closed.
  bool Accept(uv_stream_t* listener, bool is_unix);

  // --- from the worker ---
  void Flush();
  bool IsHead(const Request* request) const { return head_ == request; }
  ServerPool* pool() const { return pool_; }
  // The head request's reply has arrived whole: write it out without copying it into the request.
  void CompleteHead(std::string_view reply);
  // A request of this client completed (it may be behind others that have not).
  void OnRequestDone(Request* request);
  // A client whose reading is paused (back-pressure) would only see its peer's hang-up when its
  // requests complete, which a frozen server can put off indefinitely; the worker asks every
  // second. Closes it, as reading the EOF would, when the peer has hung up.
  void CloseIfHungUpWhilePaused();
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
    return head_ == nullptr && !HasOutput() && !write_in_flight_ && !close_when_flushed_ &&
           !half_closed_ && !closing_;
  }
  // The worker clock when the client last sent bytes or a reply to it was completed.
  uint64_t last_active_ns() const { return last_active_ns_; }
  // For the worker's handshake sweep: a TLS client whose handshake has not finished, and when
  // it was accepted.
  bool TlsHandshakePending() const;
  uint64_t accepted_ns() const { return accepted_ns_; }

  bool flush_scheduled = false;
  size_t worker_slot = 0;  // index in the worker's client list

 private:
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle_); }
  int StartReading();
  void OnAlloc(uv_buf_t* buf);
  void OnRead(ssize_t nread, const uv_buf_t* buf);
  // How much room to give a read that continues the incomplete request in in_.
  size_t InputWant() const;
  // Request bytes that arrived: at data in the worker's scratch buffer, or appended to in_.
  void ProcessInput(const char* data, size_t size, bool in_scratch);
  // Ciphertext that arrived: decrypted into the scratch buffer or in_, then processed.
  void ReadTls(const char* data, size_t size);
  void SendCloseNotify();
  // After a failed handshake: the alert that says why, before the close (best effort).
  void SendTlsAlert();
  // Frames and dispatches every complete request in data[0..size); returns the bytes consumed.
  size_t ProcessRequests(const char* data, size_t size);
  void Dispatch(const char* data);
  void DispatchSplit(const CommandSpec& spec, const char* data);
  void DispatchMultiKey(const CommandSpec& spec, const char* data, std::string_view raw);
  void Forward(Server* server, const char* data, std::string_view raw, CommandClass command_class);

  // A reply composed by the proxy: goes straight out when nothing is ahead of it, else queues.
  ByteBuffer* BeginLocalReply(CommandClass command_class);
  void EndLocalReply();
  void ReplyError(std::string_view text, CommandClass command_class = CommandClass::kRejected);

  Request* Enqueue(CommandClass command_class);
  void Retire(Request* request);
  void WriteCompletedHeads();
  void ReserveOutput(size_t reply_bytes);
  void AfterProgress();
  bool Idle() const;
  // Reply bytes this client holds in the proxy.
  size_t HeldBytes() const;
  // Bytes waiting to be written: replies, or (TLS) ciphertext.
  bool HasOutput() const;
  // Closes the client when it holds more than the hard output limit; true if it did.
  // `incoming`: reply bytes about to be added.
  bool CloseIfOverOutputLimit(size_t incoming = 0);
  void PauseReadingIfOverLimits();
  void OnWriteDone(int status);

  Worker* worker_;
  ServerPool* pool_;
  PoolStats* stats_;
  int workers_;
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle_{};
  // Allocated the first time a write cannot complete at once: most never need one, and an idle
  // connection should cost as little as possible.
  uv_write_t* write_req_ = nullptr;
  std::unique_ptr<TlsSession> tls_;  // null for a plain TCP or unix socket client
  RequestParser parser_;
  ClientSession session_;
  ByteBuffer in_;       // an incomplete request carried over to the next read
  ByteBuffer out_;      // replies ready to be written
  ByteBuffer writing_;  // bytes handed to uv_write, kept until its callback
  Request* head_ = nullptr;
  Request* tail_ = nullptr;
  Request* local_reply_ = nullptr;  // set between BeginLocalReply and EndLocalReply when queued
  size_t queued_ = 0;
  size_t parked_bytes_ = 0;  // replies of done requests waiting behind unfinished ones
  uint64_t last_active_ns_ = 0;
  uint64_t accepted_ns_ = 0;
  bool reading_ = false;
  bool reading_from_scratch_ = false;
  bool write_in_flight_ = false;
  bool close_when_flushed_ = false;
  bool closing_ = false;
  bool counted_ = false;  // in client_connections and admitted by the pool
  bool half_closed_ = false;
  bool leaving_ = false;          // CloseWhenIdle() was called: close once nothing is in flight
  uv_timer_t* linger_ = nullptr;  // only while half-closed
};

}  // namespace ringproxy::proxy
