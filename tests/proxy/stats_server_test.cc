// StatsServer over real loopback sockets: nutcracker's raw-TCP readers and HTTP clients on one
// port, every status code, the time and size bounds, probes answered while the port is held,
// documents serialised once and shared, and survival of garbage.
#include "observability/stats_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace ringproxy::proxy {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kJson[] = "{\"service\":\"ringproxy\", \"source\":\"t\"}\n";
constexpr char kMetrics[] = "# TYPE ringproxy_x counter\nringproxy_x 1\n";

// A blocking client socket with a receive timeout, so that no test can hang.
class Client {
 public:
  // `receive_buffer`: SO_RCVBUF when not 0, set before connecting (a client that reads nothing
  // then leaves most of a large response with the server).
  explicit Client(int port, int receive_buffer = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    if (receive_buffer != 0) {
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~Client() { close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  bool Send(std::string_view bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  void CloseWrite() { shutdown(fd_, SHUT_WR); }
  // Everything until the server closes (or an error / the 10 s timeout).
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    while (true) {
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        eof_ = n == 0;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  bool saw_eof() const { return eof_; }
  // Waits (up to the receive timeout) until a byte has arrived, without taking it.
  bool Peek() {
    char byte = 0;
    return recv(fd_, &byte, 1, MSG_PEEK) == 1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
};

class StatsServerTest : public ::testing::Test {
 protected:
  void Start(StatsServer::Settings settings = {}) {
    settings.address = "127.0.0.1";
    settings.port = 0;
    uv_loop_init(&loop_);
    StatsServer::Handlers handlers{
        .json =
            [this] {
              ++json_calls_;
              return std::string(kJson);
            },
        .metrics =
            [this] {
              ++metrics_calls_;
              return metrics_body_.empty() ? std::string(kMetrics) : metrics_body_;
            },
        .health =
            [this] {
              return StatsServer::Probe{healthy_.load(), "health reason"};
            },
        .ready =
            [this] {
              return StatsServer::Probe{ready_.load(), "ready reason"};
            },
    };
    server_ = std::make_unique<StatsServer>(&loop_, settings, handlers);
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
    ASSERT_GT(server_->port(), 0);
    stop_.data = this;
    uv_async_init(&loop_, &stop_, [](uv_async_t* async) {
      auto* self = static_cast<StatsServerTest*>(async->data);
      self->server_->Close();
      uv_close(reinterpret_cast<uv_handle_t*>(async), nullptr);
    });
    thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  }

  void TearDown() override {
    if (!thread_.joinable()) return;
    uv_async_send(&stop_);
    thread_.join();  // the loop ends once every handle has closed
    server_.reset();
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  std::string Request(std::string_view request) {
    Client client(server_->port());
    EXPECT_TRUE(client.connected());
    EXPECT_TRUE(client.Send(request));
    return client.ReadAll();
  }

  static std::string Body(const std::string& response) {
    const size_t end = response.find("\r\n\r\n");
    return end == std::string::npos ? "" : response.substr(end + 4);
  }

  uv_loop_t loop_{};
  uv_async_t stop_{};
  std::unique_ptr<StatsServer> server_;
  std::thread thread_;
  std::atomic<int> json_calls_{0};
  std::atomic<int> metrics_calls_{0};
  std::string metrics_body_;  // set before Start; empty: kMetrics
  std::atomic<bool> healthy_{true};
  std::atomic<bool> ready_{true};
};

TEST_F(StatsServerTest, SilentClientGetsTheRawJsonThenAClose) {
  Start();
  Client client(server_->port());
  ASSERT_TRUE(client.connected());
  const auto begin = Clock::now();
  EXPECT_EQ(client.ReadAll(), kJson);
  EXPECT_TRUE(client.saw_eof());
  // libuv's clock has millisecond resolution: allow it to fire a little early.
  EXPECT_GE(Clock::now() - begin,
            std::chrono::milliseconds(StatsServer::kLegacyReaderWindowMs - 5));
}

TEST_F(StatsServerTest, ClientThatClosesItsSideAtOnceGetsTheJsonWithoutWaiting) {
  StatsServer::Settings settings;
  settings.legacy_window_ms = 60000;  // only the EOF can trigger the answer
  Start(settings);
  Client client(server_->port());
  client.CloseWrite();
  EXPECT_EQ(client.ReadAll(), kJson);
}

TEST_F(StatsServerTest, EmptyLinesThenEofAreALegacyReader) {
  Start();
  Client client(server_->port());
  client.Send("\n");
  client.CloseWrite();
  EXPECT_EQ(client.ReadAll(), kJson);
}

TEST_F(StatsServerTest, MetricsAreServedAsPrometheusText) {
  Start();
  const std::string response = Request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos);
  EXPECT_NE(response.find("\r\nContent-Length: " + std::to_string(sizeof(kMetrics) - 1) + "\r\n"),
            std::string::npos);
  EXPECT_NE(response.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(Body(response), kMetrics);
}

TEST_F(StatsServerTest, RootAndStatsServeTheJson) {
  Start();
  for (const char* path : {"/", "/stats", "/stats?pretty=1"}) {
    const std::string response = Request(std::string("GET ") + path + " HTTP/1.0\r\n\r\n");
    EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << path;
    EXPECT_NE(response.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
    EXPECT_EQ(Body(response), kJson) << path;
  }
}

TEST_F(StatsServerTest, HeadGivesTheHeadersWithoutTheBody) {
  Start();
  const std::string response = Request("HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(response.find("Content-Length: " + std::to_string(sizeof(kMetrics) - 1)),
            std::string::npos);
  EXPECT_EQ(Body(response), "");
}

TEST_F(StatsServerTest, ProbesAnswer200Or503WithTheirReason) {
  Start();
  std::string response = Request("GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(Body(response), "health reason\n");
  healthy_ = false;
  ready_ = false;
  response = Request("GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u);
  EXPECT_EQ(Body(response), "health reason\n");
  response = Request("GET /readyz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u);
  EXPECT_EQ(Body(response), "ready reason\n");
  ready_ = true;
  EXPECT_EQ(Request("GET /readyz HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
}

TEST_F(StatsServerTest, UnknownPathIs404) {
  Start();
  EXPECT_EQ(Request("GET /nope HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  EXPECT_EQ(Request("GET /metrics/ HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404 ", 0), 0u);
}

TEST_F(StatsServerTest, OtherMethodsAre405WithAllow) {
  Start();
  const std::string response = Request("POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nab");
  EXPECT_EQ(response.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
}

TEST_F(StatsServerTest, MalformedRequestsGet400AndTheServerGoesOn) {
  Start();
  EXPECT_EQ(Request("GET / HTTP/1.1\r\nBad Header\r\n\r\n").rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_EQ(Request("PRI * HTTP/2.0\r\n\r\n").rfind("HTTP/1.1 505 ", 0), 0u);
  EXPECT_EQ(Body(Request("GET /metrics HTTP/1.1\r\n\r\n")), kMetrics);
}

TEST_F(StatsServerTest, InputThatIsNoHttpRequestLineGetsTheRawJsonAsFromNutcracker) {
  StatsServer::Settings settings;
  settings.legacy_window_ms = 60000;  // answered because of what was sent, not of a silence
  Start(settings);
  for (const std::string& input :
       {std::string("stats\r\n"), std::string("stats\n"), std::string("\x16\x03\x01\x02\x00", 5),
        std::string("hello world\n")}) {
    Client client(server_->port());
    ASSERT_TRUE(client.Send(input));
    EXPECT_EQ(client.ReadAll(), kJson) << input;
    EXPECT_TRUE(client.saw_eof());
  }
}

TEST_F(StatsServerTest, PartOfAWordThenEofGetsTheJson) {
  Start();
  Client client(server_->port());
  client.Send("stat");
  client.CloseWrite();
  EXPECT_EQ(client.ReadAll(), kJson);
}

TEST_F(StatsServerTest, IncompleteRequestThenEofGets400) {
  Start();
  Client client(server_->port());
  client.Send("GET /metrics HTTP/1.1\r\n");
  client.CloseWrite();
  EXPECT_EQ(client.ReadAll().rfind("HTTP/1.1 400 ", 0), 0u);
}

TEST_F(StatsServerTest, OversizeHeadGets431) {
  Start();
  std::string request = "GET /metrics HTTP/1.1\r\n";
  while (request.size() < 3 * 8192) request += "X-Filler: 0123456789abcdef\r\n";
  EXPECT_EQ(Request(request).rfind("HTTP/1.1 431 ", 0), 0u);
}

TEST_F(StatsServerTest, RequestLineArrivingLateStillGetsHttp) {
  Start();
  Client client(server_->port());
  // Deliberately late (the behaviour under test), well inside the legacy-reader window.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  client.Send("GET /metrics HTTP/1.1\r\n\r\n");
  const std::string response = client.ReadAll();
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  EXPECT_EQ(json_calls_.load(), 0);
}

TEST_F(StatsServerTest, RequestTrickledInPiecesIsParsed) {
  Start();
  Client client(server_->port());
  for (const char* piece : {"GE", "T /rea", "dyz HTTP/1.1\r", "\nHost: a\r\n", "\r\n"}) {
    ASSERT_TRUE(client.Send(piece));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // separate segments
  }
  EXPECT_EQ(client.ReadAll().rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
}

TEST_F(StatsServerTest, SlowClientIsAnswered408AndClosedAfterTheTimeout) {
  StatsServer::Settings settings;
  settings.request_timeout_ms = 200;
  Start(settings);
  Client client(server_->port());
  client.Send("GET /metrics HTTP/1.1\r\nHost: x");
  const auto begin = Clock::now();
  const std::string response = client.ReadAll();
  EXPECT_EQ(response.rfind("HTTP/1.1 408 Request Timeout\r\n", 0), 0u) << response;
  EXPECT_TRUE(client.saw_eof());
  EXPECT_LT(Clock::now() - begin, std::chrono::seconds(5));
}

TEST_F(StatsServerTest, InputAfterTheRequestDoesNotCostTheResponse) {
  Start();
  std::string request = "GET /metrics HTTP/1.1\r\n\r\n";
  request += std::string(200000, 'x');  // more than socket buffers hold unread
  Client client(server_->port());
  client.Send(request);
  EXPECT_EQ(Body(client.ReadAll()), kMetrics);
}

TEST_F(StatsServerTest, PartialRequestLineNotCompletedInTimeGetsTheJson) {
  StatsServer::Settings settings;
  settings.request_timeout_ms = 200;
  Start(settings);
  Client client(server_->port());
  client.Send("GET /metr");
  EXPECT_EQ(client.ReadAll(), kJson);
  EXPECT_TRUE(client.saw_eof());
}

TEST_F(StatsServerTest, OneConnectionOverTheLimitClosesTheOldestNotTheNewcomer) {
  StatsServer::Settings settings;
  settings.max_connections = 2;
  settings.legacy_window_ms = 60000;
  settings.request_timeout_ms = 60000;
  Start(settings);
  Client first(server_->port());
  ASSERT_TRUE(first.Send("G"));  // holds its slot: a request line that never ends
  Client second(server_->port());
  ASSERT_TRUE(second.Send("G"));
  // A probe sent with the connection is answered, and the oldest held connection gave way.
  Client probe(server_->port());
  ASSERT_TRUE(probe.Send("GET /healthz HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(probe.ReadAll().rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(first.ReadAll(), "");
  EXPECT_TRUE(first.saw_eof());
  // The younger held connection is still served.
  ASSERT_TRUE(second.Send("ET /readyz HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(second.ReadAll().rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
}

TEST_F(StatsServerTest, ProbesAreAnsweredWhileMoreThanTheLimitHoldThePort) {
  StatsServer::Settings settings;
  settings.legacy_window_ms = 60000;
  settings.request_timeout_ms = 60000;  // the holders keep their connections as long as they like
  Start(settings);
  std::vector<std::unique_ptr<Client>> holders;
  for (size_t i = 0; i < StatsServer::kMaxConnections + 44; ++i) {
    holders.push_back(std::make_unique<Client>(server_->port()));
    ASSERT_TRUE(holders.back()->connected());
    ASSERT_TRUE(holders.back()->Send("G"));
  }
  for (int probe = 0; probe < 15; ++probe) {
    const std::string response =
        Request(probe % 2 == 0 ? "GET /healthz HTTP/1.1\r\n\r\n" : "GET /readyz HTTP/1.1\r\n\r\n");
    EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << probe << ": " << response;
  }
}

TEST_F(StatsServerTest, UnreadMetricsResponsesShareOneSerialisation) {
  metrics_body_ = std::string(4u << 20, 'm');  // far more than socket buffers take unread
  StatsServer::Settings settings;
  settings.share_window_ms = 600000;
  Start(settings);
  // A first scrape that never reads keeps its response, the document, being sent.
  Client keeper(server_->port(), 4096);
  ASSERT_TRUE(keeper.Send("GET /metrics HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(keeper.Peek());  // the response has begun: the document exists
  std::vector<std::unique_ptr<Client>> readers;
  for (int i = 0; i < 20; ++i) {
    readers.push_back(std::make_unique<Client>(server_->port(), 4096));
    ASSERT_TRUE(readers.back()->Send("GET /metrics HTTP/1.1\r\n\r\n"));
  }
  for (const auto& reader : readers) {
    EXPECT_EQ(Body(reader->ReadAll()).size(), metrics_body_.size());
  }
  EXPECT_EQ(metrics_calls_.load(), 1);
}

TEST_F(StatsServerTest, ScrapesOneAfterTheOtherAreEachCurrent) {
  Start();
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(Body(Request("GET /metrics HTTP/1.1\r\n\r\n")), kMetrics);
    EXPECT_EQ(metrics_calls_.load(), i);
  }
}

TEST_F(StatsServerTest, RandomGarbageNeverStopsTheServer) {
  Start();
  std::mt19937 random(7);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 40; ++round) {
    std::string garbage(static_cast<size_t>(1 + round * 97), '\0');
    for (char& c : garbage) c = static_cast<char>(byte(random));
    Client client(server_->port());
    client.Send(garbage);
    client.CloseWrite();
    const std::string response = client.ReadAll();
    EXPECT_TRUE(response.rfind("HTTP/1.1 4", 0) == 0 || response.rfind("HTTP/1.1 5", 0) == 0 ||
                response == kJson)
        << round;
  }
  EXPECT_EQ(Body(Request("GET /metrics HTTP/1.1\r\n\r\n")), kMetrics);
}

TEST(StatsServer, PortInUseIsAStartError) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    StatsServer first(&loop, {.address = "127.0.0.1", .port = 0}, {});
    std::string error;
    ASSERT_TRUE(first.Start(&error)) << error;
    StatsServer second(&loop, {.address = "127.0.0.1", .port = static_cast<uint16_t>(first.port())},
                       {});
    EXPECT_FALSE(second.Start(&error));
    EXPECT_NE(error.find("127.0.0.1:" + std::to_string(first.port())), std::string::npos) << error;
    EXPECT_NE(error.find("address already in use"), std::string::npos) << error;
  }
  uv_run(&loop, UV_RUN_DEFAULT);  // close callbacks
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

TEST(StatsServer, AddressNotOnThisHostIsAStartError) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    // TEST-NET-1: never assigned to a local interface, and a literal: no resolver involved.
    StatsServer server(&loop, {.address = "192.0.2.1", .port = 0}, {});
    std::string error;
    EXPECT_FALSE(server.Start(&error));
    EXPECT_NE(error.find("192.0.2.1:0"), std::string::npos) << error;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
}  // namespace ringproxy::proxy
