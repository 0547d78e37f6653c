// The control thread: process set-up (log, daemon, pid file), the Proxy, and the signals that
// steer it. SIGTERM/SIGINT drain (stop accepting, finish in-flight requests, exit 0); SIGHUP
// reopens the log file; SIGTTIN/SIGTTOU raise/lower the log level, as nutcracker.
#include "proxy/proxy_runner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <string>

#include "proxy/cpu_quota.h"
#include "proxy/logger.h"
#include "proxy/proxy.h"

namespace ringproxy::proxy {
namespace {

constexpr int kExitStartup = 2;

bool Daemonize(std::string* error) {
  // Classic double fork: the daemon is no session leader, so it can never reacquire a terminal.
  pid_t pid = fork();
  if (pid < 0) {
    *error = "fork failed";
    return false;
  }
  if (pid > 0) _exit(0);
  if (setsid() < 0) {
    *error = "setsid failed";
    return false;
  }
  std::signal(SIGHUP, SIG_IGN);
  pid = fork();
  if (pid < 0) {
    *error = "fork failed";
    return false;
  }
  if (pid > 0) _exit(0);
  if (chdir("/") != 0) {
    *error = "chdir / failed";
    return false;
  }
  umask(0);
  const int null_fd = open("/dev/null", O_RDWR);
  if (null_fd < 0) {
    *error = "open /dev/null failed";
    return false;
  }
  dup2(null_fd, STDIN_FILENO);
  dup2(null_fd, STDOUT_FILENO);
  dup2(null_fd, STDERR_FILENO);
  if (null_fd > STDERR_FILENO) close(null_fd);
  return true;
}

bool WritePidFile(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) return false;
  std::fprintf(file, "%d\n", static_cast<int>(getpid()));
  return std::fclose(file) == 0;
}

struct ControlState {
  Proxy* proxy;
  uv_signal_t signals[5];
  bool draining = false;
};

void StopSignals(ControlState* state) {
  for (uv_signal_t& signal : state->signals) {
    uv_close(reinterpret_cast<uv_handle_t*>(&signal), nullptr);
  }
}

void OnSignal(uv_signal_t* handle, int signum) {
  auto* state = static_cast<ControlState*>(handle->data);
  Logger& log = Logger::Instance();
  switch (signum) {
    case SIGTERM:
    case SIGINT:
      if (state->draining) return;
      state->draining = true;
      RP_LOG(kLogNotice, "signal %d: draining: no new connections, finishing in-flight requests",
             signum);
      state->proxy->Drain();
      // Closing the signal handles ends the control loop; a second signal then has its default
      // action and stops the process at once.
      StopSignals(state);
      break;
    case SIGHUP:
      RP_LOG(kLogNotice, "signal SIGHUP: reopening the log file");
      if (!log.Reopen()) RP_LOG(kLogError, "cannot reopen the log file");
      break;
    case SIGTTIN:
      log.set_level(std::min(log.level() + 1, 11));
      RP_LOG(kLogNotice, "log level raised to %d", log.level());
      break;
    case SIGTTOU:
      log.set_level(std::max(log.level() - 1, 0));
      RP_LOG(kLogNotice, "log level lowered to %d", log.level());
      break;
    default:
      break;
  }
}

}  // namespace

int RunProxy(const Options& options, const config::Config& config) {
  Logger& log = Logger::Instance();
  log.set_level(options.verbosity);
  if (!log.Open(options.output_file)) {
    std::fprintf(stderr, "ringproxy: cannot open log file '%s'\n", options.output_file.c_str());
    return kExitStartup;
  }
  if (options.describe_stats) {
    std::printf("This is ringproxy-%s\n\nSee README.md, section Metrics, for every statistic.\n",
                RINGPROXY_VERSION);
    return 0;
  }
  std::string error;
  if (options.daemonize && !Daemonize(&error)) {
    RP_LOG(kLogEmerg, "cannot daemonize: %s", error.c_str());
    return kExitStartup;
  }
  if (!options.pid_file.empty() && !WritePidFile(options.pid_file)) {
    RP_LOG(kLogEmerg, "cannot write pid file '%s'", options.pid_file.c_str());
    return kExitStartup;
  }
  std::signal(SIGPIPE, SIG_IGN);

  ProxySettings settings;
  settings.workers = options.workers > 0 ? options.workers : DefaultWorkerCount();
  Proxy proxy;
  if (!proxy.Start(config, settings, &error)) {
    RP_LOG(kLogEmerg, "cannot start: %s", error.c_str());
    if (!options.pid_file.empty()) unlink(options.pid_file.c_str());
    return kExitStartup;
  }
  RP_LOG(kLogNotice, "ringproxy-%s started on pid %d with %d workers", RINGPROXY_VERSION,
         static_cast<int>(getpid()), proxy.workers());

  uv_loop_t loop;
  uv_loop_init(&loop);
  ControlState state{&proxy, {}, false};
  const int signums[] = {SIGTERM, SIGINT, SIGHUP, SIGTTIN, SIGTTOU};
  for (size_t i = 0; i < std::size(signums); ++i) {
    uv_signal_init(&loop, &state.signals[i]);
    state.signals[i].data = &state;
    uv_signal_start(&state.signals[i], OnSignal, signums[i]);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);

  proxy.Join();
  RP_LOG(kLogNotice, "drained; exiting");
  if (!options.pid_file.empty()) unlink(options.pid_file.c_str());
  return 0;
}

}  // namespace ringproxy::proxy
