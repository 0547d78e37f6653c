#include "net/stream.h"

namespace ringproxy::proxy {

Stream::Stream(ReadScratch* scratch, void* owner) : scratch_(scratch), owner_(owner) {
  handle_.tcp.data = this;
}

Stream::~Stream() = default;

void Stream::InitTcp(uv_loop_t* loop) {
  uv_tcp_init(loop, &handle_.tcp);
  handle_.tcp.data = this;
}

void Stream::InitPipe(uv_loop_t* loop) {
  uv_pipe_init(loop, &handle_.pipe, 0);
  handle_.pipe.data = this;
}

uv_buf_t Stream::NextReadBuffer(size_t expected_size) {
  if (tls_ != nullptr) return uv_buf_init(scratch_->ciphertext(), ReadScratch::kSize);
  if (in_.empty()) {
    from_scratch_ = true;
    return uv_buf_init(scratch_->plain(), ReadScratch::kSize);
  }
  from_scratch_ = false;
  const size_t want = InputWant(expected_size);
  return uv_buf_init(in_.PrepareAppend(want), static_cast<unsigned>(want));
}

size_t Stream::InputWant(size_t expected_size) const {
  const size_t have = in_.size();
  if (expected_size <= have) return kMinReadSize;
  return std::min(expected_size - have, std::max(kMinReadSize, have));
}

ByteBuffer* Stream::SealTls(ByteBuffer* out) {
  if (!tls_->Seal(out)) return nullptr;
  return &tls_->ciphertext();
}

void Stream::WriteWhatFits(ByteBuffer* bytes) {
  if (bytes->empty()) return;
  uv_buf_t buf = WriteChunk(bytes);
  uv_try_write(get(), &buf, 1);
  bytes->Release();
}

}  // namespace ringproxy::proxy
