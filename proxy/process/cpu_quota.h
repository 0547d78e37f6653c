#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringproxy::proxy {

// CPUs the container may use, from cgroup v2's `cpu.max` text ("max 100000" -> none,
// "150000 100000" -> 2, rounded up). nullopt when there is no quota or the text is malformed.
std::optional<int> ParseCpuMax(std::string_view text);

// The default worker count: the container's CPU quota (cgroup v2 cpu.max, else v1
// cfs_quota_us/cfs_period_us), capped by the CPUs this process may run on; at least 1. A pod
// limited to 2 CPUs on a 64-core node gets 2 workers, not 64. `why`, when given, receives the
// reason in words for the startup log ("the cgroup CPU quota (cpu.max) of 2 CPUs").
int DefaultWorkerCount(std::string* why = nullptr);

}  // namespace ringproxy::proxy
