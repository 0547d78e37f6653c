#include "dataplane/worker_context.h"

namespace ringproxy::proxy {

WorkerContext::WorkerContext(int id, const WorkerSettings& settings, StatsRegistry* stats,
                             ClientAdmission* admission, FragmentSettler settle,
                             ClientRegistry* clients)
    : id_(id),
      settings_(settings),
      stats_(stats),
      admission_(admission),
      settle_(settle),
      registry_(clients),
      now_ns_(clock::MonotonicNs()) {
  uv_loop_init(&loop_);
  loop_.data = this;
}

WorkerContext::~WorkerContext() {
  for (Request* request : free_requests_) delete request;
  for (Fragment* fragment : free_fragments_) delete fragment;
  uv_loop_close(&loop_);
}

void WorkerContext::TakeSpareReply(Request* request) {
  if (spare_replies_.empty() || request->client == nullptr ||
      request->merge != MergeKind::kForward) {
    return;
  }
  request->reply = std::move(spare_replies_.back());
  spare_replies_.pop_back();
  spare_reply_bytes_ -= request->reply.capacity();
}

void WorkerContext::KeepSpareReply(Request* request) {
  const size_t capacity = request->reply.capacity();
  if (capacity <= kMaxSpareReplyBytes && spare_reply_bytes_ + capacity <= kSpareRepliesBudget) {
    spare_reply_bytes_ += capacity;
    request->reply.Clear();
    spare_replies_.push_back(std::move(request->reply));
  }
}

void WorkerContext::ReleaseSpareMemory() {
  while (free_requests_.size() > kFreeObjectsAfterTrim) {
    delete free_requests_.back();
    free_requests_.pop_back();
  }
  while (free_fragments_.size() > kFreeObjectsAfterTrim) {
    delete free_fragments_.back();
    free_fragments_.pop_back();
  }
  free_requests_.shrink_to_fit();
  free_fragments_.shrink_to_fit();
  spare_replies_.clear();
  spare_replies_.shrink_to_fit();
  spare_reply_bytes_ = 0;
  client_flushes_.shrink_to_fit();
}

}  // namespace ringproxy::proxy
