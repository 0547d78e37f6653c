// `statefulset:` to servers: the pods of a StatefulSet behind its headless Service, each a server
// named after its pod, exactly as if they had been written as
//   - redis-0.redis-headless.default.svc.cluster.local:6379:1 redis-0
// so that placement equals that of a nutcracker.yml listing the same pods by name.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/pool_config.h"

namespace ringproxy::config {

constexpr uint32_t kMaxStatefulSetReplicas = 1024;

// The pod name prefix a Service implies when no name is given: the Service's name without a
// trailing "-headless" (redis-headless -> redis), else the Service's name.
std::string DefaultStatefulSetName(std::string_view service);

// The DNS name of pod `ordinal`: "<name>-<ordinal>.<service>.<namespace>.svc.<cluster_domain>",
// or "<name>-<ordinal>.<service>" without a namespace (resolved through the search list, as from
// a pod in the same namespace).
std::string StatefulSetPodHost(const StatefulSetConfig& statefulset, uint32_t ordinal);

// Fills `statefulset->name` when empty, then appends one server per replica to `*servers` (in
// ordinal order, each at `where`). Returns nullopt, or why the shorthand cannot be expanded (a pod
// name or host too long for DNS) as a phrase that follows "statefulset" in a message.
// `statefulset->service` must be set and replicas at least 1.
std::optional<std::string> ExpandStatefulSet(StatefulSetConfig* statefulset,
                                             const SourceLocation& where,
                                             std::vector<ServerConfig>* servers);

}  // namespace ringproxy::config
