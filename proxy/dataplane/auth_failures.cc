#include "dataplane/auth_failures.h"

#include <utility>

#include "base/logger.h"

namespace ringproxy::proxy {

AuthFailures::AuthFailures(int worker_id, std::string pool, Counter* counter)
    : worker_id_(worker_id), pool_(std::move(pool)), counter_(counter) {}

void AuthFailures::Record(uint64_t client_id, bool closing, uint64_t now_ms) {
  counter_->Add();
  last_client_ = client_id;
  if (closing) ++closed_unreported_;
  uint64_t events = 0;
  if (log_.Count(now_ms, &events)) Log(events);
}

void AuthFailures::Flush(uint64_t now_ms) {
  uint64_t events = 0;
  if (log_.Due(now_ms, &events)) Log(events);
}

void AuthFailures::Log(uint64_t events) {
  RP_LOG(kLogWarn,
         "worker %d: pool '%s': %llu failed AUTH attempt%s since the last message, the last from "
         "client %llu; %llu connection%s closed after %u failures",
         worker_id_, pool_.c_str(), static_cast<unsigned long long>(events), events == 1 ? "" : "s",
         static_cast<unsigned long long>(last_client_),
         static_cast<unsigned long long>(closed_unreported_), closed_unreported_ == 1 ? "" : "s",
         kMaxPerConnection);
  closed_unreported_ = 0;
}

}  // namespace ringproxy::proxy
