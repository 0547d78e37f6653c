#include "process/cpu_quota.h"

#include <sched.h>

#include <algorithm>
#include <climits>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "base/decimal.h"

namespace ringproxy::proxy {
namespace {

// The kernel writes these files as plain decimals ("-1" for no quota in cgroup v1), which is
// what Redis's rule accepts too.
std::optional<int64_t> ParseNumber(std::string_view text) {
  int64_t value = 0;
  if (!ParseDecimal(text, &value)) return std::nullopt;
  return value;
}

// The quota in whole CPUs, rounded up; written so that no quota, however large, overflows.
std::optional<int> CpusFor(int64_t quota, int64_t period) {
  if (quota <= 0 || period <= 0) return std::nullopt;
  const int64_t cpus = quota / period + (quota % period != 0 ? 1 : 0);
  return static_cast<int>(std::min<int64_t>(cpus, INT_MAX));
}

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return text;
}

}  // namespace

std::optional<int> ParseCpuMax(std::string_view text) {
  text = Trim(text);
  const size_t space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view quota = text.substr(0, space);
  if (quota == "max") return std::nullopt;
  const auto q = ParseNumber(quota);
  const auto p = ParseNumber(Trim(text.substr(space + 1)));
  if (!q || !p) return std::nullopt;
  return CpusFor(*q, *p);
}

int DefaultWorkerCount(std::string* why) {
  const int host_cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int cpus = host_cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cpus = std::max(1, CPU_COUNT(&set));
  std::string reason = cpus == host_cpus
                           ? "the host's " + std::to_string(cpus) + " CPUs (no CPU quota)"
                           : "the " + std::to_string(cpus) + " CPUs this process may run on " +
                                 "(CPU affinity; no CPU quota)";
  const char* source = "cgroup v2 cpu.max";
  std::optional<int> quota = ParseCpuMax(ReadFile("/sys/fs/cgroup/cpu.max"));
  if (!quota) {
    const auto q = ParseNumber(Trim(ReadFile("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")));
    const auto p = ParseNumber(Trim(ReadFile("/sys/fs/cgroup/cpu/cpu.cfs_period_us")));
    if (q && p) quota = CpusFor(*q, *p);
    source = "cgroup v1 cpu.cfs_quota_us";
  }
  if (quota && *quota < cpus) {
    cpus = *quota;
    reason = "the CPU quota (" + std::string(source) + ") of " + std::to_string(cpus) + " CPUs";
  }
  if (why != nullptr) *why = std::move(reason);
  return std::max(1, cpus);
}

}  // namespace ringproxy::proxy
