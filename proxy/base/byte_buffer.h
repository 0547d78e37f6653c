// ByteBuffer: a growable byte queue (append at the back, consume from the front) that gives its
// memory back when it empties, so an idle connection costs no buffer at all.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

namespace ringproxy::proxy {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ByteBuffer(ByteBuffer&& other) noexcept { *this = std::move(other); }
  ByteBuffer& operator=(ByteBuffer&& other) noexcept {
    if (this != &other) {
      std::free(data_);
      data_ = std::exchange(other.data_, nullptr);
      begin_ = std::exchange(other.begin_, 0);
      end_ = std::exchange(other.end_, 0);
      capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
  }
  ~ByteBuffer() { std::free(data_); }

  const char* data() const { return data_ + begin_; }
  char* data() { return data_ + begin_; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  size_t capacity() const { return capacity_; }
  std::string_view view() const { return {data(), size()}; }

  void Append(const char* bytes, size_t n) {
    // An empty buffer's view has no data at all, and memcpy must not be given a null pointer
    // even for no bytes.
    if (n == 0) return;
    char* dst = PrepareAppend(n);
    std::memcpy(dst, bytes, n);
    end_ += n;
  }
  void Append(std::string_view bytes) { Append(bytes.data(), bytes.size()); }

  // Room for at least `n` more bytes at the back; write there, then Commit(written).
  char* PrepareAppend(size_t n) {
    if (capacity_ - end_ < n) Grow(n);
    return data_ + end_;
  }
  void Commit(size_t n) { end_ += n; }

  // Drops `n` bytes from the front; releases the memory when nothing is left.
  void Consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) Release();
  }

  // As Consume, but an emptied buffer keeps its memory: for a busy connection that will refill
  // it within the loop iteration.
  void ConsumeKeep(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  // Empties the buffer but keeps its memory.
  void Clear() { begin_ = end_ = 0; }

  void Release() {
    std::free(data_);
    data_ = nullptr;
    begin_ = end_ = capacity_ = 0;
  }

 private:
  void Grow(size_t n) {
    const size_t live = size();
    // Slide live bytes to the front first when that alone makes room and at most half is in use:
    // a long-lived pipelining connection then settles on one allocation.
    if (begin_ > 0 && capacity_ - live >= n && live <= capacity_ / 2) {
      std::memmove(data_, data_ + begin_, live);
      begin_ = 0;
      end_ = live;
      return;
    }
    // Callers bound what they append (request, reply and output limits), so a size this large
    // is a broken invariant; doubling past it would wrap around to a tiny allocation.
    if (n > kMaxBytes - live) throw std::bad_alloc();
    // Doubling while small; past kLargeBytes by halves, so a large buffer (a 100 MB reply, a
    // query buffer at its limit) carries at most a third of itself unused.
    size_t want = capacity_ == 0 ? 512 : capacity_;
    while (want - live < n) want += want < kLargeBytes ? want : want / 2;
    if (want > kMaxBytes) want = kMaxBytes;
    char* fresh = nullptr;
    if (begin_ == 0 && data_ != nullptr) {
      // In place when it can be: glibc moves a large block by remapping its pages, not copying.
      fresh = static_cast<char*>(std::realloc(data_, want));
      if (fresh == nullptr) throw std::bad_alloc();
    } else {
      fresh = static_cast<char*>(std::malloc(want));
      if (fresh == nullptr) throw std::bad_alloc();
      if (live > 0 && data_ != nullptr) std::memcpy(fresh, data_ + begin_, live);
      std::free(data_);
    }
    data_ = fresh;
    begin_ = 0;
    end_ = live;
    capacity_ = want;
  }

  static constexpr size_t kMaxBytes = size_t{1} << 46;
  static constexpr size_t kLargeBytes = size_t{16} << 20;

  char* data_ = nullptr;
  size_t begin_ = 0;
  size_t end_ = 0;
  size_t capacity_ = 0;
};

}  // namespace ringproxy::proxy
