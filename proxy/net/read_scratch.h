// ReadScratch: where a worker's connections read when they carry nothing over. One buffer for
// plaintext, shared by every connection of the worker (they handle one read at a time, on the
// worker's thread, and consume it before the next), and one for the ciphertext that TLS
// connections decrypt into the first, allocated by the first TLS connection.
#pragma once

#include <cstddef>
#include <memory>

namespace ringproxy::proxy {

class ReadScratch {
 public:
  static constexpr size_t kSize = 64u << 10;

  char* plain() { return plain_.get(); }
  char* ciphertext() {
    if (ciphertext_ == nullptr) ciphertext_ = std::make_unique_for_overwrite<char[]>(kSize);
    return ciphertext_.get();
  }

 private:
  std::unique_ptr<char[]> plain_ = std::make_unique_for_overwrite<char[]>(kSize);
  std::unique_ptr<char[]> ciphertext_;
};

}  // namespace ringproxy::proxy
