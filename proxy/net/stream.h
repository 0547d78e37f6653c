// Stream: the socket half of a connection, the same for clients and servers: the libuv handle
// (TCP or unix socket), the TLS session over it if any, where reads land, and the write queue.
// What the bytes mean stays with the connection that owns the stream.
//
// Reads land in the worker's scratch buffer when nothing is carried over (most reads hold whole
// messages and are consumed where they landed, so an idle connection owns no buffer), else at the
// end of the carry-over buffer, given room for the rest of the message the owner awaits but never
// more than it has received: the buffer doubles as the message arrives, so a length a peer only
// announces costs nothing. Writes go out at once when the socket takes them; the rest waits in a
// buffer of its own and is handed to libuv in chunks of at most kMaxWriteChunk (write_chunk.h).
//
// The owner befriends Stream and provides, resolved at compile time (no virtual call, no
// function pointer per read or write):
//   size_t ExpectedInputSize() const   the size of the message being received, when known
//   void OnRead(ssize_t, const uv_buf_t*)   a read event, passed on by libuv
//   size_t ConsumeInput(const char*, size_t)   takes what it can; returns the bytes it used
//   bool TakingInput() const   whether to go on reading and keep what is left over
//   void OnWritten(int status)   a queued chunk was written (or failed); more may follow
//
// Freed with its owner, whose deletion the close callback does (Close<Owner>).
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <algorithm>
#include <cstddef>
#include <memory>

#include "base/byte_buffer.h"
#include "net/read_scratch.h"
#include "net/tls_session.h"
#include "net/uv_handle.h"
#include "net/write_chunk.h"

namespace ringproxy::proxy {

class Stream {
 public:
  // `owner` (an object that has this stream as a member) is what the callbacks reach.
  Stream(ReadScratch* scratch, void* owner);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void InitTcp(uv_loop_t* loop);
  void InitPipe(uv_loop_t* loop);
  uv_stream_t* get() { return reinterpret_cast<uv_stream_t*>(&handle_); }
  uv_handle_t* handle() { return AsHandle(&handle_); }
  uv_tcp_t* tcp() { return &handle_.tcp; }
  uv_pipe_t* pipe() { return &handle_.pipe; }
  bool closing() const { return closing_; }

  TlsSession* tls() const { return tls_.get(); }
  void set_tls(std::unique_ptr<TlsSession> tls) { tls_ = std::move(tls); }

  // --- reading ---
  template <class Owner>
  int StartReading();
  void StopReading() { uv_read_stop(get()); }
  // Bytes carried over to the next read: an incomplete message, or ones held back by the owner.
  ByteBuffer& carried() { return in_; }
  const ByteBuffer& carried() const { return in_; }
  // `size` plaintext bytes arrived at `data` (what the last read buffer received): the owner
  // consumes what it can, where it is or after what was carried over; the rest is carried over.
  template <class Owner>
  void Deliver(Owner* owner, const char* data, size_t size) {
    Deliver(owner, data, size, from_scratch_);
  }
  // Ciphertext arrived: everything decryptable now is decrypted and delivered now (plaintext left
  // in the session would wait for a socket read that may never come). False when the session
  // failed: tls() says why.
  template <class Owner>
  bool ReadTls(Owner* owner, const char* data, size_t size);

  // --- writing ---
  // The bytes to write for the plaintext in `out`: `out` itself, or with TLS the ciphertext it
  // has been sealed into (null when sealing failed: tls() says why).
  ByteBuffer* Seal(ByteBuffer* out) { return tls_ == nullptr ? out : SealTls(out); }
  // Writes what the socket takes of `pending` now, and queues the rest (moved out of `pending`)
  // to go out chunk by chunk, the owner told of each chunk (OnWritten). Returns the bytes written
  // at once, or a negative libuv error. `keep_capacity`: a buffer refilled at once keeps its
  // memory when emptied.
  template <class Owner>
  ssize_t Write(ByteBuffer* pending, bool keep_capacity);
  // A write queued and not finished: later output waits for it.
  bool write_in_flight() const { return write_in_flight_; }
  size_t queued_bytes() const { return writing_.size(); }
  // What fits in the socket now, the rest dropped: a TLS alert before a close.
  void WriteWhatFits(ByteBuffer* bytes);

  // Closes the handle; the owner is deleted once libuv lets go of it. The carried-over input is
  // released at once; a write in flight is cancelled (its OnWritten is not called).
  template <class Owner>
  void Close();

 private:
  static constexpr size_t kMinReadSize = 16u << 10;

  ByteBuffer* SealTls(ByteBuffer* out);
  uv_buf_t NextReadBuffer(size_t expected_size);
  size_t InputWant(size_t expected_size) const;
  template <class Owner>
  void Deliver(Owner* owner, const char* data, size_t size, bool in_scratch);
  template <class Owner>
  int WriteNextChunk();
  template <class Owner>
  void OnWriteDone(int status);

  ReadScratch* scratch_;
  void* owner_;
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle_{};
  // Allocated by the first write the socket cannot take at once: most connections never need
  // one, and an idle connection should cost as little as possible.
  std::unique_ptr<uv_write_t> write_req_;
  std::unique_ptr<TlsSession> tls_;
  ByteBuffer in_;
  ByteBuffer writing_;  // bytes handed to uv_write, kept until its callback
  size_t writing_chunk_ = 0;
  bool from_scratch_ = false;
  bool write_in_flight_ = false;
  bool closing_ = false;
};

template <class Owner>
int Stream::StartReading() {
  // Passed each time: uv_read_stop() forgets the callbacks it was given.
  return uv_read_start(
      get(),
      [](uv_handle_t* h, size_t /*suggested*/, uv_buf_t* buf) {
        auto* self = static_cast<Stream*>(h->data);
        *buf = self->NextReadBuffer(static_cast<Owner*>(self->owner_)->ExpectedInputSize());
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        static_cast<Owner*>(static_cast<Stream*>(s->data)->owner_)->OnRead(nread, buf);
      });
}

template <class Owner>
void Stream::Deliver(Owner* owner, const char* data, size_t size, bool in_scratch) {
  if (in_scratch) {
    const size_t used = owner->ConsumeInput(data, size);
    if (used < size && owner->TakingInput()) in_.Append(data + used, size - used);
    return;
  }
  in_.Commit(size);
  const size_t used = owner->ConsumeInput(in_.data(), in_.size());
  if (owner->TakingInput()) {
    in_.Consume(used);
  } else {
    in_.Release();
  }
}

template <class Owner>
bool Stream::ReadTls(Owner* owner, const char* data, size_t size) {
  tls_->Receive(data, size);
  while (owner->TakingInput()) {
    const bool in_scratch = in_.empty();
    const size_t capacity = in_scratch ? ReadScratch::kSize : InputWant(owner->ExpectedInputSize());
    char* dst = in_scratch ? scratch_->plain() : in_.PrepareAppend(capacity);
    const ssize_t got = tls_->Read(dst, capacity);
    if (got < 0) return false;
    if (got == 0) break;
    Deliver(owner, dst, static_cast<size_t>(got), in_scratch);
  }
  return true;
}

template <class Owner>
ssize_t Stream::Write(ByteBuffer* pending, bool keep_capacity) {
  uv_buf_t buf = WriteChunk(pending);
  const int written = uv_try_write(get(), &buf, 1);
  if (written < 0 && written != UV_EAGAIN) return written;
  if (written > 0) {
    if (keep_capacity) {
      pending->ConsumeKeep(static_cast<size_t>(written));
    } else {
      pending->Consume(static_cast<size_t>(written));
    }
  }
  if (!pending->empty()) {
    // The socket is full: libuv writes the rest from a buffer kept until its callback.
    writing_ = std::move(*pending);
    const int rc = WriteNextChunk<Owner>();
    if (rc != 0) return rc;
  }
  return written > 0 ? written : 0;
}

template <class Owner>
int Stream::WriteNextChunk() {
  uv_buf_t buf = WriteChunk(&writing_);
  writing_chunk_ = buf.len;
  if (write_req_ == nullptr) write_req_ = std::make_unique<uv_write_t>();
  write_req_->data = this;
  const int rc = uv_write(write_req_.get(), get(), &buf, 1, [](uv_write_t* req, int status) {
    static_cast<Stream*>(req->data)->OnWriteDone<Owner>(status);
  });
  if (rc != 0) {
    writing_.Release();
    return rc;
  }
  write_in_flight_ = true;
  return 0;
}

template <class Owner>
void Stream::OnWriteDone(int status) {
  write_in_flight_ = false;
  auto* owner = static_cast<Owner*>(owner_);
  if (closing_ || status != 0) {
    writing_.Release();
    if (!closing_) owner->OnWritten(status);
    return;
  }
  writing_.Consume(writing_chunk_);
  if (!writing_.empty()) {
    const int rc = WriteNextChunk<Owner>();
    owner->OnWritten(rc);
    return;
  }
  owner->OnWritten(0);
}

template <class Owner>
void Stream::Close() {
  closing_ = true;
  in_.Release();
  uv_close(handle(), [](uv_handle_t* h) {
    delete static_cast<Owner*>(static_cast<Stream*>(h->data)->owner_);
  });
}

}  // namespace ringproxy::proxy
