// PubSubRegistry: how many clients, over every worker, are subscribed to each channel, pattern
// and shard channel of each pool. Each worker's PubSubHub shares one server connection per
// server among its subscribers, so a server counts the proxy's connections, not its clients:
// PUBLISH's receiver count, PUBSUB NUMSUB, CHANNELS and NUMPAT and INFO's pubsub figures are
// answered from here instead, as one Redis holding every subscription would answer them.
//
// Counts move once per subscription and unsubscription, under one mutex per pool, never per
// message; PUBLISH reads them once. Any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ringproxy::proxy {

enum class SubscriptionKind : uint8_t { kChannel = 0, kPattern = 1, kShardChannel = 2 };

class PubSubRegistry {
 public:
  class Pool {
   public:
    void Add(SubscriptionKind kind, std::string_view name, int64_t delta);
    // PUBLISH: the channel's subscribers, plus each matching pattern's (a client subscribed to
    // both counts twice, and gets the message twice, as from Redis). SPUBLISH: the shard
    // channel's.
    int64_t Receivers(SubscriptionKind kind, std::string_view channel) const;
    int64_t Subscribers(SubscriptionKind kind, std::string_view name) const;
    // Channels (or shard channels) with a subscriber, matching `pattern` when it is given.
    std::vector<std::string> Names(SubscriptionKind kind, const std::string* pattern) const;
    // Distinct names of `kind` with a subscriber (NUMPAT, INFO's pubsub_channels ...).
    int64_t Distinct(SubscriptionKind kind) const;

   private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, int64_t> counts_[3];
  };

  // Any thread; when a worker builds a pool, not per request. The same object for the same name
  // every time, valid as long as the registry.
  Pool* ForPool(const std::string& pool);

 private:
  std::mutex mutex_;
  std::vector<std::pair<std::string, std::unique_ptr<Pool>>> pools_;
};

}  // namespace ringproxy::proxy
