#include "config/statefulset_expansion.h"

#include <cassert>

#include "config/dns_name.h"

namespace ringproxy::config {

std::string DefaultStatefulSetName(std::string_view service) {
  constexpr std::string_view kHeadless = "-headless";
  if (service.size() > kHeadless.size() && service.ends_with(kHeadless)) {
    service.remove_suffix(kHeadless.size());
  }
  return std::string(service);
}

std::string StatefulSetPodHost(const StatefulSetConfig& statefulset, uint32_t ordinal) {
  std::string host = statefulset.name + "-" + std::to_string(ordinal) + "." + statefulset.service;
  if (!statefulset.namespace_name.empty()) {
    host += "." + statefulset.namespace_name + ".svc." + statefulset.cluster_domain;
  }
  return host;
}

std::optional<std::string> ExpandStatefulSet(StatefulSetConfig* statefulset,
                                             const SourceLocation& where,
                                             std::vector<ServerConfig>* servers) {
  assert(statefulset->used() && statefulset->replicas >= 1);
  if (statefulset->name.empty()) {
    statefulset->name = DefaultStatefulSetName(statefulset->service);
  }
  // The last pod has the longest name and host: if it fits, they all do.
  const uint32_t last = statefulset->replicas - 1;
  const std::string last_pod = statefulset->name + "-" + std::to_string(last);
  if (last_pod.size() > kMaxDnsLabel) {
    return "pod name \"" + last_pod + "\" is longer than " + std::to_string(kMaxDnsLabel) +
           " characters: a pod name is one DNS label; choose a shorter name";
  }
  const std::string last_host = StatefulSetPodHost(*statefulset, last);
  if (auto reason = CheckDnsName(last_host)) {
    return "pod host \"" + last_host + "\" " + *reason;
  }

  servers->reserve(servers->size() + statefulset->replicas);
  for (uint32_t ordinal = 0; ordinal < statefulset->replicas; ++ordinal) {
    ServerConfig server;
    server.host = StatefulSetPodHost(*statefulset, ordinal);
    server.port = statefulset->port;
    server.weight = statefulset->weight;
    server.name = statefulset->name + "-" + std::to_string(ordinal);
    server.has_explicit_name = true;
    server.where = where;
    servers->push_back(std::move(server));
  }
  return std::nullopt;
}

}  // namespace ringproxy::config
