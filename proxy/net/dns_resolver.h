// DnsResolver: asynchronous name lookups (addresses and SRV records) with c-ares, driven by one
// libuv loop, so that the control thread re-resolves backend names without ever blocking.
//
// c-ares's sockets are watched with uv_poll_t handles (ARES_OPT_SOCK_STATE_CB tells us which
// sockets exist and what to wait for) and its retransmissions and timeouts with one uv_timer_t
// armed from ares_timeout(). Completed lookups are queued and handed to their callbacks from a
// uv_idle_t in a later loop iteration: a callback therefore never runs inside Resolve() /
// ResolveSrv(), nor inside a c-ares call, so it may start new lookups, Close() the resolver or
// destroy it.
#pragma once

#include <ares.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/socket_address.h"

namespace ringproxy::proxy {

struct DnsOptions {
  // Name servers as "IPv4", "IPv4:PORT", "[IPv6]" or "[IPv6]:PORT" (c-ares needs addresses, not
  // names). Empty: the nameserver lines of `resolv_conf`. c-ares 1.18 silently ignores a port in a
  // resolv.conf nameserver line (it falls back to port 53), so a server on another port, such as a
  // test DNS server, must be given here; it combines with `resolv_conf`, which then still supplies
  // the search list and ndots.
  std::vector<std::string> servers;
  // resolv.conf to read nameserver, search/domain and "options ndots:N" from. Empty: the system's
  // (/etc/resolv.conf, plus the LOCALDOMAIN and RES_OPTIONS environment variables). A path that
  // cannot be read makes Create() fail rather than silently fall back to defaults.
  std::string resolv_conf;
  // Per-try timeout and tries per server. c-ares doubles the timeout after each round over the
  // servers, so a lookup that gets no answer fails after about
  // timeout_ms * (2^tries - 1) * servers milliseconds (3 s for the defaults and one server).
  int timeout_ms = 1000;
  int tries = 2;
};

// TTL of an answer that no record limits: a literal IP address never needs re-resolving.
inline constexpr uint32_t kDnsTtlInfinite = std::numeric_limits<uint32_t>::max();

struct DnsAnswer {
  int status = ARES_SUCCESS;  // ARES_SUCCESS, or the ARES_E* code of the failure
  std::string error;          // human-readable failure, empty on success
  // Every address of the name (IPv4 and IPv6) in c-ares's RFC 6724 preference order, each with
  // the port given to Resolve(). Never empty on success.
  std::vector<SocketAddress> addresses;
  // Minimum TTL of the records used (CNAMEs included); kDnsTtlInfinite for a literal address;
  // 0 for a failure (c-ares 1.18 does not report the negative-caching TTL) and for an answer
  // from /etc/hosts, which has no TTL.
  uint32_t ttl_seconds = 0;
};

struct SrvTarget {
  std::string target;  // host name of the member, as in the record (no trailing dot)
  uint16_t port = 0;
  uint16_t priority = 0;
  uint16_t weight = 0;
};

struct SrvAnswer {
  int status = ARES_SUCCESS;  // as DnsAnswer::status; ARES_ENODATA: the name has no SRV records
  std::string error;
  // Sorted by priority, then weight (highest first), target and port, so that a server rotating
  // the record order does not look like a change.
  std::vector<SrvTarget> targets;
  uint32_t ttl_seconds = 0;  // minimum TTL of the answer section's records; 0 on failure
};

class DnsResolver {
 public:
  // Called once per lookup, on the loop's thread, from a loop iteration after the one that
  // started the lookup. The answer is only valid during the call.
  using AddressCallback = std::function<void(const DnsAnswer&)>;
  using SrvCallback = std::function<void(const SrvAnswer&)>;

  // `loop` must outlive the resolver and keep running after Close() until the resolver's handles
  // have closed (one more uv_run pass; uv_loop_close() reports UV_EBUSY before that). Returns null
  // and sets `error` when c-ares cannot be set up or the options are invalid; a failed Create()
  // leaves nothing on the loop.
  static std::unique_ptr<DnsResolver> Create(uv_loop_t* loop, const DnsOptions& options,
                                             std::string* error);

  // Close()s.
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // Resolves `host` (a name, searched through the search list as ndots says; or a literal IPv4 or
  // IPv6 address, answered without a query) to addresses with `port`. Returns false after Close()
  // (`done` is then dropped, never called); otherwise `done` is called exactly once, unless the
  // resolver is closed first. Must be called on the loop's thread.
  bool Resolve(const std::string& host, uint16_t port, AddressCallback done);

  // Looks up the SRV records of `name` (e.g. "_redis._tcp.redis-headless.ns.svc.cluster.local";
  // searched like Resolve()). The targets are not resolved. Same contract as Resolve().
  bool ResolveSrv(const std::string& name, SrvCallback done);

  // Cancels every outstanding lookup without calling its callback, drops answers not yet
  // delivered and starts closing the libuv handles. Idempotent; may be called from a callback.
  void Close();

  bool closed() const { return closed_; }

 private:
  struct Lookup;
  struct SocketWatch;

  explicit DnsResolver(uv_loop_t* loop);
  bool Init(const DnsOptions& options, std::string* error);

  // Queues `deliver` for the idle handle; never runs it now.
  void Post(std::function<void()> deliver);
  void DeliverCompleted();
  // Re-arms the timer from ares_timeout() after anything that may have changed c-ares's queries.
  void RearmTimer();

  static void OnSocketState(void* data, ares_socket_t fd, int readable, int writable);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* handle);
  static void OnIdle(uv_idle_t* handle);
  static void OnAddrInfo(void* arg, int status, int timeouts, ares_addrinfo* result);
  static void OnSrvReply(void* arg, int status, int timeouts, unsigned char* abuf, int alen);

  uv_loop_t* loop_;
  ares_channel channel_ = nullptr;
  // Handles are heap-allocated and freed by their close callbacks, which may run after the
  // resolver is gone.
  uv_timer_t* timer_ = nullptr;
  uv_idle_t* idle_ = nullptr;
  std::unordered_map<ares_socket_t, SocketWatch*> watches_;
  std::deque<std::function<void()>> completed_;
  // Expires with the resolver: lets DeliverCompleted() notice that a callback destroyed it.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  bool closed_ = false;
};

}  // namespace ringproxy::proxy
