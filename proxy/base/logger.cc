#include "base/logger.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace ringproxy::proxy {
namespace {

const char* LevelName(int level) {
  static const char* const kNames[] = {"EMERG",  "ALERT", "CRIT",  "ERROR", "WARN",
                                       "NOTICE", "INFO",  "DEBUG", "VERB"};
  if (level < 0) return "EMERG";
  if (level >= static_cast<int>(sizeof(kNames) / sizeof(kNames[0]))) return "VERB";
  return kNames[level];
}

}  // namespace

Logger& Logger::Instance() {
  static Logger logger;
  return logger;
}

bool Logger::Open(const std::string& path) {
  path_ = path;
  return Reopen();
}

bool Logger::Reopen() {
  if (path_.empty()) return true;
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  std::lock_guard lock(write_mutex_);
  signal_fd_.store(fd, std::memory_order_relaxed);
  if (fd_ > 2) ::close(fd_);
  fd_ = fd;
  return true;
}

void Logger::Log(int level, const char* format, ...) {
  char line[2048];
  timeval now{};
  gettimeofday(&now, nullptr);
  tm local{};
  localtime_r(&now.tv_sec, &local);
  size_t n = strftime(line, sizeof(line), "[%Y-%m-%d %H:%M:%S", &local);
  n += static_cast<size_t>(snprintf(line + n, sizeof(line) - n, ".%03ld] %s ",
                                    static_cast<long>(now.tv_usec / 1000), LevelName(level)));
  va_list args;
  va_start(args, format);
  const int written = vsnprintf(line + n, sizeof(line) - n, format, args);
  va_end(args);
  n = written < 0 ? n : std::min(sizeof(line) - 2, n + static_cast<size_t>(written));
  line[n++] = '\n';
  // A log line that cannot be written has nowhere else to go.
  std::lock_guard lock(write_mutex_);
  [[maybe_unused]] const ssize_t ignored = ::write(fd_, line, n);
}

}  // namespace ringproxy::proxy
