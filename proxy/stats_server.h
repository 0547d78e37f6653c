// StatsServer: the stats port. One listener on the control thread's libuv loop serves two kinds
// of client on the same port:
//
//   - nutcracker's readers (scripts, `nc host 22222`, twemproxy exporters and test harnesses)
//     connect and send nothing: after kLegacyReaderWindowMs of silence (or an immediate EOF) they
//     get the JSON document, raw, and the connection is closed, exactly as nutcracker does;
//   - HTTP/1.x clients speak first: GET/HEAD on /metrics (Prometheus text), / and /stats (the
//     JSON), /healthz and /readyz (200 or 503 with a one-line reason); other paths 404, other
//     methods 405, malformed requests 400 (414/431 when too long, 505 for HTTP/2 and later).
//     Every response ends the connection (Connection: close).
//
// Every connection is bounded in memory (a request head of at most 8 KiB, see HttpRequestParser;
// input after it is discarded) and in time (a request that does not complete in
// request_timeout_ms gets 408; a client that does not take its response within the same time is
// dropped), and at most max_connections are open at once (more are closed at accept). No input
// can crash it: the parser refuses anything that is not HTTP at its first wrong byte.
//
// Threading: everything, handlers included, runs on the loop's thread. Lifetime: the libuv
// handles belong to heap objects that free themselves in their close callbacks, so the
// StatsServer can be destroyed at any time (it closes everything); the loop must then run until
// those callbacks have been called, as it does when its owner runs it to completion.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_set>

namespace ringproxy::proxy {

class StatsServer {
 public:
  // A client that connects and says nothing for this long is taken for a nutcracker reader.
  // HTTP clients send their request at once, within a round trip; 250 ms leaves room for a
  // loaded client (or one whose request line trickles in ~100 ms late) while keeping `nc host
  // port` quick. nutcracker answered at once; its readers wait for EOF, so the delay is harmless.
  static constexpr uint64_t kLegacyReaderWindowMs = 250;
  // A request head must be complete this long after its first byte (slowloris guard); the same
  // bound applies to a client taking its response.
  static constexpr uint64_t kRequestTimeoutMs = 5000;
  // After a response, input still arriving is read and dropped for at most this long before the
  // close, so that the kernel does not answer unread input with a reset that could destroy the
  // response before the client has read it.
  static constexpr uint64_t kLingerMs = 1000;
  static constexpr size_t kMaxConnections = 256;

  struct Probe {
    bool ok = false;
    std::string reason;  // one line, no newline
  };

  // What the server serves. Each is called on the loop thread, once per request that needs it.
  struct Handlers {
    std::function<std::string()> json;     // nutcracker's document (also the raw-TCP answer)
    std::function<std::string()> metrics;  // Prometheus text format 0.0.4
    std::function<Probe()> health;
    std::function<Probe()> ready;
  };

  struct Settings {
    std::string address = "0.0.0.0";  // an address or a host name (resolved once, at Start)
    uint16_t port = 22222;            // 0: any free port, see port()
    uint64_t legacy_window_ms = kLegacyReaderWindowMs;
    uint64_t request_timeout_ms = kRequestTimeoutMs;
    uint64_t linger_ms = kLingerMs;
    size_t max_connections = kMaxConnections;
  };

  // `loop` is borrowed and must outlive every handle this server opens (see Lifetime above).
  StatsServer(uv_loop_t* loop, Settings settings, Handlers handlers);
  ~StatsServer();
  StatsServer(const StatsServer&) = delete;
  StatsServer& operator=(const StatsServer&) = delete;

  // Binds and listens. False with `error` set when the address cannot be resolved or bound.
  bool Start(std::string* error);
  // The bound port (the actual one when Settings::port was 0); 0 before Start.
  int port() const { return port_; }
  // Stops listening and closes every connection at once. Idempotent.
  void Close();
  size_t open_connections() const { return connections_.size(); }

 private:
  struct Listener;
  class Connection;
  friend class Connection;

  void OnConnection(int status);
  void Forget(Connection* connection);
  // The complete HTTP response to a parsed request.
  std::string Route(const std::string& method, const std::string& path);

  uv_loop_t* loop_;
  Settings settings_;
  Handlers handlers_;
  Listener* listener_ = nullptr;  // owned by its handle's close callback once Start ran
  int port_ = 0;
  std::unordered_set<Connection*> connections_;
};

}  // namespace ringproxy::proxy
