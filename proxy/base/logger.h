// Logger: one line per event, timestamped, written with a single write(2) so lines from several
// threads never interleave. Levels are nutcracker's (-v 0..11, default 5 = notice), so existing
// command lines keep their meaning. Nothing is logged per request above debug level.
#pragma once

#include <atomic>
#include <cstdarg>
#include <mutex>
#include <string>

namespace ringproxy::proxy {

enum LogLevel : int {
  kLogEmerg = 0,
  kLogAlert = 1,
  kLogCrit = 2,
  kLogError = 3,
  kLogWarn = 4,
  kLogNotice = 5,
  kLogInfo = 6,
  kLogDebug = 7,
  kLogVerbose = 8,
};

class Logger {
 public:
  static Logger& Instance();

  // Opens `path` for appending (empty: stderr). Returns false (and keeps the old target) on error.
  bool Open(const std::string& path);
  // SIGHUP: reopen the same file, for logrotate.
  bool Reopen();
  void set_level(int level) { level_.store(level, std::memory_order_relaxed); }
  int level() const { return level_.load(std::memory_order_relaxed); }
  bool enabled(int level) const { return level <= this->level(); }

  void Log(int level, const char* format, ...) __attribute__((format(printf, 3, 4)));
  // Where lines go now, for a fatal-signal handler, which must not wait for the lock: the thread
  // that crashed may hold it.
  int fd_for_signal_handler() const { return signal_fd_.load(std::memory_order_relaxed); }

 private:
  Logger() = default;
  std::string path_;
  // Held across each write and across the swap in Reopen: closing the old descriptor while
  // another thread is about to write to it could send that line to whatever file or socket
  // reuses the number. Log lines are rare (none per request above debug), so the lock is cheap.
  std::mutex write_mutex_;
  int fd_ = 2;                     // guarded by write_mutex_
  std::atomic<int> signal_fd_{2};  // a copy of fd_, readable without the lock
  std::atomic<int> level_{kLogNotice};
};

}  // namespace ringproxy::proxy

// The format arguments are not evaluated when the level is off.
#define RP_LOG(level, ...)                                            \
  do {                                                                \
    if (::ringproxy::proxy::Logger::Instance().enabled(level)) {      \
      ::ringproxy::proxy::Logger::Instance().Log(level, __VA_ARGS__); \
    }                                                                 \
  } while (0)
