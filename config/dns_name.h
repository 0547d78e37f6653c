// Syntax checks for the DNS names ringproxy's extensions take: Kubernetes object names (one DNS
// label) and whole names such as an SRV name or a cluster domain. Nothing is looked up here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringproxy::config {

constexpr size_t kMaxDnsLabel = 63;
constexpr size_t kMaxDnsName = 253;  // in text form, without a trailing dot

// A Kubernetes name that becomes one DNS label (a Service, a StatefulSet, a namespace, a pod):
// 1-63 lowercase letters, digits and '-', beginning and ending with a letter or digit (RFC 1123).
// Returns nullopt, or why not as a phrase that follows the quoted name in a message.
std::optional<std::string> CheckKubernetesName(std::string_view name);

// A DNS name: dot-separated labels of 1-63 letters, digits, '-' or '_' ('_' for SRV names such as
// "_redis._tcp.redis-headless"), none beginning or ending with '-', at most 253 characters, and
// one optional trailing dot (a name that is already absolute). Returns nullopt, or why not as a
// phrase that follows the quoted name in a message.
std::optional<std::string> CheckDnsName(std::string_view name);

}  // namespace ringproxy::config
