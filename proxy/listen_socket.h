#pragma once

#include <cstdint>
#include <string>

#include "config/pool_config.h"

namespace ringproxy::proxy {

// Opens a listening socket for `listen`: TCP with SO_REUSEPORT when `reuseport` (each worker opens
// its own and the kernel spreads connections over them; libuv 1.44 has no flag for it, hence the
// plain socket calls), or a unix socket with its permissions. Returns the descriptor, or -1 with
// `error` set.
int OpenListenSocket(const config::ListenAddress& listen, int backlog, bool reuseport,
                     std::string* error);

}  // namespace ringproxy::proxy
