// StatsServer: the stats port. One listener on the control thread's libuv loop serves two kinds
// of client on the same port:
//
//   - nutcracker's readers (scripts, `nc host 22222`, twemproxy exporters and test harnesses)
//     connect and send nothing: after kLegacyReaderWindowMs of silence (or an immediate EOF) they
//     get the JSON document, raw, and the connection is closed, exactly as nutcracker does. So
//     does anything that is not an HTTP request line (`echo stats | nc host 22222`, a TLS hello):
//     nutcracker ignores its input and sends the document, and so does this server;
//   - HTTP/1.x clients speak first: GET/HEAD on /metrics (Prometheus text), / and /stats (the
//     JSON), /healthz and /readyz (200 or 503 with a one-line reason); other paths 404, other
//     methods 405, malformed requests 400 (414/431 when too long, 505 for HTTP/2 and later).
//     Every response ends the connection (Connection: close).
//
// The port also answers the Kubernetes probes, so no client, however hostile, may keep them from
// being answered:
//   - a request that has arrived by the time its connection is accepted is answered at once, in
//     the accept callback, and the probes cost a few hundred bytes and no work;
//   - at most max_connections are open; one more closes the oldest open connection (rather than
//     being refused), so connections that are held open (a byte sent and nothing more, a
//     response never read) give way to new ones instead of locking the port. Probes, answered
//     within a round trip, are never the oldest;
//   - the documents are serialised once per loop turn, not once per request (a /metrics for
//     1024 servers is megabytes and tens of milliseconds), and a document still being sent to a
//     client is shared with the requests that arrive within share_window_ms: unread responses
//     cost one copy of the document, not one each (and the kernel keeps at most 128 KiB of it
//     per connection), and a flood of scrapes costs at most one serialisation per loop turn, so
//     a probe waits for at most one;
//   - a request head must be complete within request_timeout_ms of its first byte, a response
//     taken within response_timeout_ms; a head is at most 8 KiB (HttpRequestParser), and input
//     after it is discarded;
//   - closed and refused connections and failed accepts are logged at most once a second, with
//     their count.
// No input can crash it: the parser classifies anything at its first wrong byte.
//
// Threading: everything, handlers included, runs on the loop's thread. Lifetime: the libuv
// handles belong to heap objects that free themselves in their close callbacks, so the
// StatsServer can be destroyed at any time (it closes everything); the loop must then run until
// those callbacks have been called, as it does when its owner runs it to completion.
#pragma once

#include <uv.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/log_throttle.h"

namespace ringproxy::proxy {

class StatsServer {
 public:
  // A client that connects and says nothing for this long is taken for a nutcracker reader.
  // HTTP clients send their request at once, within a round trip; 250 ms leaves room for a
  // loaded client (or one whose request line trickles in ~100 ms late) while keeping `nc host
  // port` quick. nutcracker answered at once; its readers wait for EOF, so the delay is harmless.
  static constexpr uint64_t kLegacyReaderWindowMs = 250;
  // A request head must be complete this long after its first byte (slowloris guard). Probes and
  // scrapers send theirs in one segment; whoever trickles holds a connection no longer than this.
  static constexpr uint64_t kRequestTimeoutMs = 2000;
  // A client must have taken its whole response this long after it was ready.
  static constexpr uint64_t kResponseTimeoutMs = 5000;
  // After a response, input still arriving is read and dropped for at most this long before the
  // close, so that the kernel does not answer unread input with a reset that could destroy the
  // response before the client has read it.
  static constexpr uint64_t kLingerMs = 1000;
  static constexpr size_t kMaxConnections = 256;
  // How long a serialised document that is still being sent may answer new requests: the
  // staleness a scrape may see while other clients are slow to read, and what bounds the copies
  // alive at once (response_timeout_ms / share_window_ms + 1 per document).
  static constexpr uint64_t kShareWindowMs = 1000;

  struct Probe {
    bool ok = false;
    std::string reason;  // one line, no newline
  };

  // What the server serves. Each is called on the loop thread; json and metrics at most once per
  // loop turn, however many clients asked for them.
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
    uint64_t response_timeout_ms = kResponseTimeoutMs;
    uint64_t linger_ms = kLingerMs;
    size_t max_connections = kMaxConnections;
    uint64_t share_window_ms = kShareWindowMs;
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
  // Connections closed because max_connections were open when another arrived.
  uint64_t connections_shed() const { return connections_shed_; }

 private:
  struct LoopHandles;
  class Connection;
  friend class Connection;

  // The documents built on demand; a connection waits for one until the next loop turn.
  enum class Document : uint8_t { kNone, kJson, kMetrics };
  static constexpr size_t kDocuments = 2;

  // What to answer a request: a complete response, or a document to send (with an HTTP head
  // unless raw, with the body unless head_only).
  struct Answer {
    std::string response;
    Document document = Document::kNone;
    std::string_view content_type;
    bool head_only = false;
  };

  // A serialisation of a document, kept while some connection is still sending it.
  struct SharedDocument {
    std::weak_ptr<const std::string> body;
    uint64_t built_ms = 0;
  };

  void OnConnection(int status);
  void Forget(Connection* connection);
  void Await(Connection* connection, Document document);
  void StopAwaiting(Connection* connection);
  // The loop turn after a request for a document: each document asked for is built (or shared)
  // once and sent to everyone who asked.
  void OnLoopTurn();
  std::shared_ptr<const std::string> Serialise(Document document);
  void LogShed(size_t count);
  void OnLogTimer();
  Answer Route(const std::string& method, const std::string& path);
  char* read_buffer() { return read_buffer_.data(); }

  uv_loop_t* loop_;
  Settings settings_;
  Handlers handlers_;
  LoopHandles* handles_ = nullptr;  // owned by its handles' close callbacks once Start ran
  int port_ = 0;
  // Oldest first: the one to close when the limit is reached.
  std::list<Connection*> connections_;
  std::array<std::vector<Connection*>, kDocuments> waiting_;
  std::array<SharedDocument, kDocuments> documents_;
  uint64_t connections_shed_ = 0;
  LogThrottle shed_log_;
  LogThrottle accept_error_log_;
  // Every read lands here and is parsed at once: connections own no read buffer.
  std::array<char, 4096> read_buffer_{};
};

}  // namespace ringproxy::proxy
