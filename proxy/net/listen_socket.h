// Listening sockets, and the rule that a listen address belongs to one pool of one process.
//
// With several workers each one listens on its own socket of the same address (SO_REUSEPORT; the
// kernel spreads new connections over them). SO_REUSEPORT alone would let any other process of
// the same user join that group and take a share of the connections: a second proxy started by
// mistake on a live port would serve part of its clients from another configuration. So the
// first socket of a group is bound without SO_REUSEPORT, which fails with "Address already in
// use" while anyone else holds the address (with or without SO_REUSEPORT), and only then joins
// the others to it. A pool with `reuseport: true` asks for the opposite (nutcracker's meaning:
// several processes share the port, for restarts without downtime) and gets it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/pool_config.h"
#include "net/socket_address.h"

namespace ringproxy::proxy {

enum class PortSharing : uint8_t {
  kExclusive,     // one socket: nobody else may hold the address
  kFirstOfGroup,  // bound exclusively, then made a member of an SO_REUSEPORT group for the next
  kJoinGroup,     // joins the group a kFirstOfGroup socket of this process formed
  kAnyProcess,    // `reuseport: true`: SO_REUSEPORT from the start, shared with whoever sets it
};

// Opens a listening socket for `listen` (TCP, or a unix socket with its permissions). Returns the
// descriptor, or -1 with `error` set ("bind 127.0.0.1:22121: Address already in use").
int OpenListenSocket(const config::ListenAddress& listen, int backlog, PortSharing sharing,
                     std::string* error);

// Where `listen` would listen: its first resolved address, or the unix socket's path.
bool ResolveListenAddress(const config::ListenAddress& listen, SocketAddress* address,
                          std::string* error);

// Whether two listening addresses take the same port: the same address, or the same port where
// one of them is a wildcard (0.0.0.0 or ::) covering the other. Unix sockets: the same path.
bool ListenAddressesOverlap(const SocketAddress& a, const SocketAddress& b);

// The first two pools of `pools` whose listen addresses overlap once resolved (127.0.0.1:P and
// localhost:P, 0.0.0.0:P and 127.0.0.1:P), as an error naming both; or an unresolvable listen
// host. False with `error` set when there is one.
bool CheckListenAddresses(const std::vector<config::PoolConfig>& pools, std::string* error);

// Whether `listen` could be bound exclusively now: binds a socket without SO_REUSEPORT and closes
// it (a unix socket: whether a process answers on its path). Used before a reload is accepted.
bool ProbeListenAddress(const config::ListenAddress& listen, std::string* error);

}  // namespace ringproxy::proxy
