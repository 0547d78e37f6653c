// ScanCursor: SCAN across a pool. The client's cursor names a server of the pool and that
// server's own cursor; the proxy scans the servers one after another, in the order the pool lists
// them (every configured server, ejected or not: a server that cannot answer fails the SCAN rather
// than have its keys silently skipped).
//
//   client cursor = server cursor * N + server index      (N: the pool's server count)
//
// The server index takes the low digits, so any decimal the client sends names a valid server;
// cursor 0 is the first server's start, and 0 comes back only when the last server has finished.
// Redis's full-iteration guarantee (a key present from the first call to the last is returned)
// holds per server, and so for the pool, as long as the pool's server list does not change during
// the scan. A server cursor past (2^64 - 1) / N cannot be encoded: Redis 7 cursors stay below the
// size of the server's hash table (they are its bits reversed), so this needs some 2^64 / N
// slots, far beyond any server's memory.
#pragma once

#include <cstdint>
#include <string_view>

namespace ringproxy::proxy {

struct ScanCursor {
  uint32_t server = 0;
  uint64_t server_cursor = 0;

  // The client's cursor text, read as Redis reads a cursor (strtoul: an optional sign, digits; ""
  // is 0). False, as Redis's "invalid cursor", for anything else, a value past 2^64 - 1, or a pool
  // of no server.
  static bool Decode(std::string_view text, uint32_t servers, ScanCursor* cursor);

  // The client's cursor after `server` answered `returned`: the same server further on, the next
  // server's start when `returned` is 0, and 0 once the last server is done. False when the
  // server's cursor cannot be encoded (see above).
  static bool Next(uint32_t server, uint64_t returned, uint32_t servers, uint64_t* next);
};

// A cursor as a server sends it: decimal digits only, at most 2^64 - 1.
bool ParseServerCursor(std::string_view text, uint64_t* value);

}  // namespace ringproxy::proxy
