#include "net/dns_resolver.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <tuple>
#include <utility>

#include "net/dns_answer_ttl.h"
#include "net/uv_handle.h"

namespace ringproxy::proxy {

struct DnsResolver::Lookup {
  DnsResolver* owner;
  std::string name;
  uint16_t port = 0;
  AddressCallback on_address;
  SrvCallback on_srv;
};

struct DnsResolver::SocketWatch {
  uv_poll_t poll;
  DnsResolver* owner;
  ares_socket_t fd;
};

namespace {

constexpr uint16_t kDefaultDnsPort = 53;

std::string LookupError(const std::string& name, int status) {
  return "cannot resolve '" + name + "': " + ares_strerror(status);
}

std::optional<uint16_t> ParsePort(const std::string& text) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const unsigned long value = std::strtoul(text.c_str(), nullptr, 10);
  if (value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

// One DnsOptions::servers entry as a c-ares server node; false when it is not an address with an
// optional port.
bool ParseServer(const std::string& spec, ares_addr_port_node* node) {
  std::string host = spec;
  std::string port_text;
  bool has_port = false;
  if (!spec.empty() && spec.front() == '[') {
    const size_t close = spec.find(']');
    if (close == std::string::npos) {
      return false;
    }
    host = spec.substr(1, close - 1);
    const std::string rest = spec.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return false;
      }
      has_port = true;
      port_text = rest.substr(1);
    }
  } else if (std::count(spec.begin(), spec.end(), ':') == 1) {
    const size_t colon = spec.find(':');
    host = spec.substr(0, colon);
    has_port = true;
    port_text = spec.substr(colon + 1);
  }
  uint16_t port = kDefaultDnsPort;
  if (has_port) {
    const std::optional<uint16_t> parsed = ParsePort(port_text);
    if (!parsed) {
      return false;
    }
    port = *parsed;
  }
  *node = ares_addr_port_node{};
  if (inet_pton(AF_INET, host.c_str(), &node->addr.addr4) == 1) {
    node->family = AF_INET;
  } else if (inet_pton(AF_INET6, host.c_str(), &node->addr.addr6) == 1) {
    node->family = AF_INET6;
  } else {
    return false;
  }
  node->udp_port = port;
  node->tcp_port = port;
  return true;
}

// A literal IPv4 or IPv6 address ("[v6]" too) as a socket address; false for anything else. c-ares
// 1.18 would look "10.0.0.1" up in DNS when asked for AF_UNSPEC, so literals never reach it.
bool ParseLiteral(const std::string& host, uint16_t port, SocketAddress* out) {
  std::string text = host;
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  *out = SocketAddress{};
  sockaddr_in in{};
  if (inet_pton(AF_INET, text.c_str(), &in.sin_addr) == 1) {
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    std::memcpy(&out->storage, &in, sizeof(in));
    out->length = sizeof(in);
    return true;
  }
  sockaddr_in6 in6{};
  if (inet_pton(AF_INET6, text.c_str(), &in6.sin6_addr) == 1) {
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    std::memcpy(&out->storage, &in6, sizeof(in6));
    out->length = sizeof(in6);
    return true;
  }
  return false;
}

uint32_t RecordTtl(int ttl) { return ttl < 0 ? 0 : static_cast<uint32_t>(ttl); }

// c-ares 1.18 needs ares_library_init only on Windows, but it is the documented first call; it is
// reference-counted and not thread-safe, hence once per process (a thread-safe static).
int InitCaresOnce() {
  static const int status = ares_library_init(ARES_LIB_INIT_ALL);
  return status;
}

}  // namespace

std::unique_ptr<DnsResolver> DnsResolver::Create(uv_loop_t* loop, const DnsOptions& options,
                                                 std::string* error) {
  std::unique_ptr<DnsResolver> resolver(new DnsResolver(loop));
  if (!resolver->Init(options, error)) {
    return nullptr;
  }
  return resolver;
}

DnsResolver::DnsResolver(uv_loop_t* loop) : loop_(loop) {}

DnsResolver::~DnsResolver() { Close(); }

bool DnsResolver::Init(const DnsOptions& options, std::string* error) {
  // A failed Init() leaves the object to be destroyed: Close() copes with any partial state.
  const int library = InitCaresOnce();
  if (library != ARES_SUCCESS) {
    *error = std::string("c-ares initialisation failed: ") + ares_strerror(library);
    return false;
  }
  if (options.timeout_ms <= 0 || options.tries <= 0) {
    *error = "DNS timeout and tries must be positive";
    return false;
  }
  std::vector<ares_addr_port_node> servers(options.servers.size());
  for (size_t i = 0; i < options.servers.size(); ++i) {
    if (!ParseServer(options.servers[i], &servers[i])) {
      *error =
          "invalid DNS server '" + options.servers[i] + "' (expected IPv4[:PORT] or [IPv6][:PORT])";
      return false;
    }
    servers[i].next = i + 1 < servers.size() ? &servers[i + 1] : nullptr;
  }
  // c-ares treats an unreadable resolv.conf as empty and quietly uses 127.0.0.1:53 and no search
  // list; a path given on purpose should fail loudly instead.
  if (!options.resolv_conf.empty() && access(options.resolv_conf.c_str(), R_OK) != 0) {
    *error = "cannot read resolv.conf '" + options.resolv_conf + "': " + std::strerror(errno);
    return false;
  }

  ares_options ares{};
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  ares.sock_state_cb = &DnsResolver::OnSocketState;
  ares.sock_state_cb_data = this;
  ares.timeout = options.timeout_ms;
  ares.tries = options.tries;
  std::string resolv_conf = options.resolv_conf;
  if (!resolv_conf.empty()) {
    mask |= ARES_OPT_RESOLVCONF;
    ares.resolvconf_path = resolv_conf.data();  // copied by ares_init_options
  }
  const int status = ares_init_options(&channel_, &ares, mask);
  if (status != ARES_SUCCESS) {
    channel_ = nullptr;
    *error = std::string("c-ares channel setup failed: ") + ares_strerror(status);
    return false;
  }
  if (!servers.empty()) {
    const int set = ares_set_servers_ports(channel_, servers.data());
    if (set != ARES_SUCCESS) {
      *error = std::string("cannot set DNS servers: ") + ares_strerror(set);
      return false;
    }
  }
  // Last, so that a failed Create() leaves no handle on the loop. c-ares opens no socket before
  // the first lookup, so nothing needed them earlier.
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  idle_ = new uv_idle_t;
  uv_idle_init(loop_, idle_);
  idle_->data = this;
  return true;
}

bool DnsResolver::Resolve(const std::string& host, uint16_t port, AddressCallback done) {
  if (closed_) {
    return false;
  }
  DnsAnswer literal;
  literal.addresses.resize(1);
  if (ParseLiteral(host, port, &literal.addresses[0])) {
    literal.ttl_seconds = kDnsTtlInfinite;
    Post([done = std::move(done), answer = std::move(literal)] { done(answer); });
    return true;
  }
  auto* lookup = new Lookup{this, host, port, std::move(done), nullptr};
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  // May call OnAddrInfo before returning (an /etc/hosts answer, an invalid name): OnAddrInfo only
  // queues, so `done` still runs later.
  ares_getaddrinfo(channel_, host.c_str(), nullptr, &hints, &DnsResolver::OnAddrInfo, lookup);
  RearmTimer();
  return true;
}

bool DnsResolver::ResolveSrv(const std::string& name, SrvCallback done) {
  if (closed_) {
    return false;
  }
  auto* lookup = new Lookup{this, name, 0, nullptr, std::move(done)};
  // ares_search, not ares_query: a short SRV name goes through the search list like an address.
  ares_search(channel_, name.c_str(), ns_c_in, ns_t_srv, &DnsResolver::OnSrvReply, lookup);
  RearmTimer();
  return true;
}

void DnsResolver::Close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  if (channel_ != nullptr) {
    // Calls every outstanding lookup's callback with ARES_EDESTRUCTION (which sees closed_ and
    // only frees) and reports every socket closed through OnSocketState (which closes its poll
    // handle before c-ares closes the descriptor).
    ares_destroy(channel_);
    channel_ = nullptr;
  }
  for (auto& [fd, watch] : watches_) {
    CloseAndDeleteOwner<SocketWatch>(&watch->poll);
  }
  watches_.clear();
  completed_.clear();
  CloseAndDelete(std::exchange(timer_, nullptr));
  CloseAndDelete(std::exchange(idle_, nullptr));
}

void DnsResolver::Post(std::function<void()> deliver) {
  completed_.push_back(std::move(deliver));
  // Idle callbacks run once per loop iteration and keep the loop from sleeping in poll while
  // answers wait, so delivery is prompt without a zero timer's risk of running within the same
  // timer pass forever.
  uv_idle_start(idle_, &DnsResolver::OnIdle);
}

void DnsResolver::OnIdle(uv_idle_t* handle) {
  static_cast<DnsResolver*>(handle->data)->DeliverCompleted();
}

void DnsResolver::DeliverCompleted() {
  // Only what completed before this pass: answers posted by the callbacks wait for the next one.
  std::deque<std::function<void()>> batch;
  batch.swap(completed_);
  const std::weak_ptr<int> alive = alive_;
  for (const auto& deliver : batch) {
    deliver();
    if (alive.expired() || closed_) {
      return;  // a callback destroyed or closed the resolver: the rest must not be delivered
    }
  }
  if (completed_.empty()) {
    uv_idle_stop(idle_);
  }
}

void DnsResolver::RearmTimer() {
  if (closed_) {
    return;
  }
  timeval tv{};
  if (ares_timeout(channel_, nullptr, &tv) == nullptr) {
    uv_timer_stop(timer_);
    return;
  }
  // Rounded up: firing before c-ares's deadline would only re-arm for the remaining microseconds.
  const uint64_t ms = static_cast<uint64_t>(tv.tv_sec) * 1000 + (tv.tv_usec + 999) / 1000;
  uv_timer_start(timer_, &DnsResolver::OnTimer, ms, 0);
}

void DnsResolver::OnTimer(uv_timer_t* handle) {
  auto* self = static_cast<DnsResolver*>(handle->data);
  ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  self->RearmTimer();
}

void DnsResolver::OnSocketState(void* data, ares_socket_t fd, int readable, int writable) {
  auto* self = static_cast<DnsResolver*>(data);
  auto it = self->watches_.find(fd);
  if (readable == 0 && writable == 0) {
    if (it != self->watches_.end()) {
      // uv_close stops the poll at once, before c-ares closes `fd` (and may reuse its number).
      CloseAndDeleteOwner<SocketWatch>(&it->second->poll);
      self->watches_.erase(it);
    }
    return;
  }
  if (self->closed_) {
    return;
  }
  SocketWatch* watch = nullptr;
  if (it == self->watches_.end()) {
    watch = new SocketWatch{};
    if (uv_poll_init_socket(self->loop_, &watch->poll, fd) != 0) {
      // Cannot happen for a fresh UDP/TCP socket; the lookup then ends by its timeout.
      delete watch;
      return;
    }
    watch->poll.data = watch;
    watch->owner = self;
    watch->fd = fd;
    self->watches_.emplace(fd, watch);
  } else {
    watch = it->second;
  }
  const int events = (readable != 0 ? UV_READABLE : 0) | (writable != 0 ? UV_WRITABLE : 0);
  uv_poll_start(&watch->poll, events, &DnsResolver::OnPoll);
}

void DnsResolver::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* watch = static_cast<SocketWatch*>(handle->data);
  DnsResolver* self = watch->owner;
  const ares_socket_t fd = watch->fd;
  // On a poll error let c-ares read and write: it then sees the socket's error and moves on to
  // the next try.
  const bool readable = status < 0 || (events & UV_READABLE) != 0;
  const bool writable = status < 0 || (events & UV_WRITABLE) != 0;
  // May close `watch` (through OnSocketState): not touched after this.
  ares_process_fd(self->channel_, readable ? fd : ARES_SOCKET_BAD, writable ? fd : ARES_SOCKET_BAD);
  self->RearmTimer();
}

void DnsResolver::OnAddrInfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  std::unique_ptr<Lookup> lookup(static_cast<Lookup*>(arg));
  DnsResolver* self = lookup->owner;
  if (self->closed_) {
    if (result != nullptr) {
      ares_freeaddrinfo(result);
    }
    return;
  }
  DnsAnswer answer;
  answer.status = status;
  if (status == ARES_SUCCESS && result != nullptr) {
    uint32_t ttl = kDnsTtlInfinite;
    for (const ares_addrinfo_node* node = result->nodes; node != nullptr; node = node->ai_next) {
      if ((node->ai_family != AF_INET && node->ai_family != AF_INET6) ||
          node->ai_addrlen > sizeof(sockaddr_storage)) {
        continue;
      }
      SocketAddress address;
      std::memcpy(&address.storage, node->ai_addr, node->ai_addrlen);
      address.length = node->ai_addrlen;
      if (node->ai_family == AF_INET) {
        reinterpret_cast<sockaddr_in*>(&address.storage)->sin_port = htons(lookup->port);
      } else {
        reinterpret_cast<sockaddr_in6*>(&address.storage)->sin6_port = htons(lookup->port);
      }
      answer.addresses.push_back(address);
      ttl = std::min(ttl, RecordTtl(node->ai_ttl));
    }
    for (const ares_addrinfo_cname* cname = result->cnames; cname != nullptr; cname = cname->next) {
      ttl = std::min(ttl, RecordTtl(cname->ttl));
    }
    answer.ttl_seconds = ttl;
  }
  if (result != nullptr) {
    ares_freeaddrinfo(result);
  }
  if (answer.status == ARES_SUCCESS && answer.addresses.empty()) {
    answer.status = ARES_ENODATA;
  }
  if (answer.status != ARES_SUCCESS) {
    answer.ttl_seconds = 0;
    answer.error = LookupError(lookup->name, answer.status);
  }
  self->Post([done = std::move(lookup->on_address), answer = std::move(answer)] { done(answer); });
}

void DnsResolver::OnSrvReply(void* arg, int status, int /*timeouts*/, unsigned char* abuf,
                             int alen) {
  std::unique_ptr<Lookup> lookup(static_cast<Lookup*>(arg));
  DnsResolver* self = lookup->owner;
  if (self->closed_) {
    return;
  }
  SrvAnswer answer;
  answer.status = status;
  if (status == ARES_SUCCESS) {
    ares_srv_reply* replies = nullptr;
    answer.status = ares_parse_srv_reply(abuf, alen, &replies);
    for (const ares_srv_reply* reply = replies; reply != nullptr; reply = reply->next) {
      answer.targets.push_back(SrvTarget{reply->host, reply->port, reply->priority, reply->weight});
    }
    if (replies != nullptr) {
      ares_free_data(replies);
    }
    const std::optional<uint32_t> ttl =
        MinimumAnswerTtl(abuf, alen > 0 ? static_cast<size_t>(alen) : 0);
    if (answer.status == ARES_SUCCESS && !ttl) {
      answer.status = ARES_EBADRESP;  // parsed by c-ares, yet no readable answer section
    }
    answer.ttl_seconds = ttl.value_or(0);
  }
  if (answer.status == ARES_SUCCESS && answer.targets.empty()) {
    answer.status = ARES_ENODATA;
  }
  if (answer.status != ARES_SUCCESS) {
    answer.targets.clear();
    answer.ttl_seconds = 0;
    answer.error = LookupError(lookup->name, answer.status);
  }
  std::sort(answer.targets.begin(), answer.targets.end(),
            [](const SrvTarget& a, const SrvTarget& b) {
              return std::tie(a.priority, b.weight, a.target, a.port) <
                     std::tie(b.priority, a.weight, b.target, b.port);
            });
  self->Post([done = std::move(lookup->on_srv), answer = std::move(answer)] { done(answer); });
}

}  // namespace ringproxy::proxy
