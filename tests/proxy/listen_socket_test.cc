// Which listen addresses take the same port, and the error that names both pools.
#include "net/listen_socket.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/pool_config.h"

namespace ringproxy::proxy {
namespace {

SocketAddress Resolved(const std::string& host, uint16_t port) {
  SocketAddress address;
  std::string error;
  EXPECT_TRUE(ResolveAddress(host, port, "", &address, &error)) << error;
  return address;
}

config::PoolConfig Pool(const std::string& name, const std::string& host, uint16_t port) {
  config::PoolConfig pool;
  pool.name = name;
  pool.listen.host = host;
  pool.listen.port = port;
  return pool;
}

TEST(ListenAddresses, TheSameAddressOverlaps) {
  EXPECT_TRUE(ListenAddressesOverlap(Resolved("127.0.0.1", 7000), Resolved("127.0.0.1", 7000)));
  EXPECT_FALSE(ListenAddressesOverlap(Resolved("127.0.0.1", 7000), Resolved("127.0.0.1", 7001)));
  EXPECT_FALSE(ListenAddressesOverlap(Resolved("127.0.0.1", 7000), Resolved("127.0.0.2", 7000)));
}

TEST(ListenAddresses, AWildcardOverlapsEveryAddressOfItsPort) {
  EXPECT_TRUE(ListenAddressesOverlap(Resolved("0.0.0.0", 7000), Resolved("127.0.0.1", 7000)));
  EXPECT_TRUE(ListenAddressesOverlap(Resolved("127.0.0.1", 7000), Resolved("0.0.0.0", 7000)));
  EXPECT_FALSE(ListenAddressesOverlap(Resolved("0.0.0.0", 7000), Resolved("127.0.0.1", 7001)));
  // An IPv6 wildcard is dual-stack: it takes the IPv4 addresses too; an IPv4 one not IPv6's.
  EXPECT_TRUE(ListenAddressesOverlap(Resolved("::", 7000), Resolved("127.0.0.1", 7000)));
  EXPECT_TRUE(ListenAddressesOverlap(Resolved("::1", 7000), Resolved("::", 7000)));
  EXPECT_FALSE(ListenAddressesOverlap(Resolved("0.0.0.0", 7000), Resolved("::1", 7000)));
}

TEST(ListenAddresses, UnixSocketsOverlapOnTheSamePathOnly) {
  SocketAddress a;
  SocketAddress b;
  std::string error;
  ASSERT_TRUE(ResolveAddress("", 0, "/tmp/a.sock", &a, &error));
  ASSERT_TRUE(ResolveAddress("", 0, "/tmp/b.sock", &b, &error));
  EXPECT_TRUE(ListenAddressesOverlap(a, a));
  EXPECT_FALSE(ListenAddressesOverlap(a, b));
  EXPECT_FALSE(ListenAddressesOverlap(a, Resolved("127.0.0.1", 7000)));
}

TEST(ListenAddresses, TwoPoolsOnOneAddressSpeltTwoWaysAreNamedInTheError) {
  std::string error;
  EXPECT_TRUE(
      CheckListenAddresses({Pool("a", "127.0.0.1", 7000), Pool("b", "127.0.0.1", 7001)}, &error));
  EXPECT_FALSE(
      CheckListenAddresses({Pool("a", "127.0.0.1", 7000), Pool("b", "localhost", 7000)}, &error));
  EXPECT_EQ(error,
            "pool 'b': listen localhost:7000 (127.0.0.1:7000): Address already in use by pool "
            "'a' (listen 127.0.0.1:7000)");
}

TEST(ListenAddresses, AnUnresolvableListenHostIsAnError) {
  std::string error;
  EXPECT_FALSE(CheckListenAddresses({Pool("a", "no-such-host.invalid", 7000)}, &error));
  EXPECT_EQ(error.rfind("pool 'a': listen: cannot resolve 'no-such-host.invalid'", 0), 0u) << error;
}

}  // namespace
}  // namespace ringproxy::proxy
