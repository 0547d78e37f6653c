// AuthFailures: what one worker does about wrong passwords given to one pool (AUTH, HELLO ...
// AUTH). Each is counted (ringproxy_client_auth_failures_total) and logged at most once a second
// with how many there were and which connection gave the last one; never what was tried, not even
// the user name, which a client that swapped its arguments would fill with the password.
//
// A connection that gives kMaxPerConnection wrong passwords is closed after the last reply:
// without it one connection could pipeline millions of guesses a second, with it each ten cost a
// new connection. (A delay per failure would slow nothing down: a guesser opens connections in
// parallel, and each delayed one would cost the proxy a socket and its memory.)
#pragma once

#include <cstdint>
#include <string>

#include "base/log_throttle.h"
#include "stats/stats.h"

namespace ringproxy::proxy {

class AuthFailures {
 public:
  // More than a client retrying a rotated password needs; few enough to make guessing slow.
  static constexpr uint32_t kMaxPerConnection = 10;

  // `counter` (the pool's, on this worker) is borrowed and must outlive this object.
  AuthFailures(int worker_id, std::string pool, Counter* counter);

  // A wrong password from client `client_id` at `now_ms`; `closing`: it was that client's last.
  void Record(uint64_t client_id, bool closing, uint64_t now_ms);
  // Periodic: reports the failures counted since the last line once that line is due.
  void Flush(uint64_t now_ms);

 private:
  void Log(uint64_t events);

  int worker_id_;
  std::string pool_;
  Counter* counter_;
  LogThrottle log_;
  uint64_t last_client_ = 0;
  uint64_t closed_unreported_ = 0;
};

}  // namespace ringproxy::proxy
