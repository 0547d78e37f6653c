// The piece of a ByteBuffer handed to one socket write. uv_buf_init takes an unsigned int length,
// so a buffer past 4 GiB passed whole would be cut to its low 32 bits and lose bytes silently;
// writes are made in pieces of at most kMaxWriteChunk instead, each a size libuv and the kernel
// take whole or report partly written.
#pragma once

#include <uv.h>

#include <algorithm>
#include <cstddef>

#include "base/byte_buffer.h"

namespace ringproxy::proxy {

inline constexpr size_t kMaxWriteChunk = size_t{1} << 30;

inline uv_buf_t WriteChunk(ByteBuffer* buffer) {
  uv_buf_t buf;
  buf.base = buffer->data();
  buf.len = std::min(buffer->size(), kMaxWriteChunk);
  return buf;
}

}  // namespace ringproxy::proxy
