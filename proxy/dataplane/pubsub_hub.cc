#include "dataplane/pubsub_hub.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "base/decimal.h"
#include "base/logger.h"
#include "dataplane/glob_match.h"
#include "dataplane/request.h"
#include "dataplane/resp_writer.h"
#include "dataplane/server.h"
#include "dataplane/server_connection.h"
#include "dataplane/server_pool.h"
#include "hashing/continuum.h"

namespace ringproxy::proxy {
namespace {

constexpr std::string_view kSubscribe[3] = {"subscribe", "psubscribe", "ssubscribe"};
constexpr std::string_view kUnsubscribe[3] = {"unsubscribe", "punsubscribe", "sunsubscribe"};
constexpr std::string_view kSubscribeCommand[3] = {"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"};
constexpr std::string_view kUnsubscribeCommand[3] = {"UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"};
// Redis 7.0's PUBSUB HELP, line for line: the subcommands answered here are Redis's own.
constexpr std::string_view kPubsubHelp[] = {
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
};

size_t Index(SubscriptionKind kind) { return static_cast<size_t>(kind); }

std::string OutstandingKey(SubscriptionKind kind, std::string_view name) {
  std::string key(1, static_cast<char>('0' + Index(kind)));
  key.append(name);
  return key;
}

// The elements of a RESP2 array of bulk strings and integers (a subscriber connection's frame):
// false when it is anything else.
bool SplitFrame(std::string_view frame, std::vector<std::string_view>* items) {
  items->clear();
  if (frame.empty() || frame[0] != '*') return false;
  size_t pos = frame.find("\r\n");
  int64_t count = 0;
  if (pos == std::string_view::npos || !ParseDecimal(frame.substr(1, pos - 1), &count) ||
      count < 1 || count > 4) {
    return false;
  }
  pos += 2;
  for (int64_t i = 0; i < count; ++i) {
    if (pos >= frame.size()) return false;
    const size_t end = frame.find("\r\n", pos);
    if (end == std::string_view::npos) return false;
    if (frame[pos] == ':') {
      items->push_back(frame.substr(pos + 1, end - pos - 1));
      pos = end + 2;
      continue;
    }
    int64_t length = 0;
    if (frame[pos] != '$' || !ParseDecimal(frame.substr(pos + 1, end - pos - 1), &length) ||
        length < 0 || end + 2 + static_cast<size_t>(length) > frame.size()) {
      return false;
    }
    items->push_back(frame.substr(end + 2, static_cast<size_t>(length)));
    pos = end + 2 + static_cast<size_t>(length) + 2;
  }
  return true;
}

void AppendCommand(ByteBuffer* out, std::string_view command, std::string_view name) {
  resp::AppendArrayHeader(out, 2);
  resp::AppendBulk(out, command);
  resp::AppendBulk(out, name);
}

void AppendPushHeader(ByteBuffer* out, Protocol protocol, int64_t count) {
  if (protocol == Protocol::kResp3) {
    out->Append(">");
    out->Append(std::to_string(count));
    out->Append("\r\n");
  } else {
    resp::AppendArrayHeader(out, count);
  }
}

}  // namespace

PubSubHub::PubSubHub(WorkerContext* context, ServerPool* pool, PubSubRegistry::Pool* counts)
    : context_(context), pool_(pool), counts_(counts) {}

PubSubHub::~PubSubHub() = default;

uint32_t PubSubHub::SubscriptionCount(const PubSubClient* client) const {
  const auto it = clients_.find(client);
  if (it == clients_.end()) return 0;
  const ClientNames& names = it->second;
  return static_cast<uint32_t>(names.names[0].size() + names.names[1].size() +
                               names.names[2].size());
}

Server* PubSubHub::ServerOf(std::string_view name) const {
  const uint32_t index = pool_->placement().ServerFor(name);
  if (index == hashing::Continuum::kNoServer || index >= pool_->server_count()) return nullptr;
  return &pool_->server(index);
}

PubSubHub::Link* PubSubHub::LinkFor(Server* server) {
  Link* link = nullptr;
  for (const auto& candidate : links_) {
    if (candidate->server == server) link = candidate.get();
  }
  if (link == nullptr) {
    links_.push_back(std::make_unique<Link>());
    link = links_.back().get();
    link->server = server;
  }
  if (link->connection == nullptr) {
    link->outstanding.clear();
    link->connection = server->OpenSubscriber(this);
    if (link->connection == nullptr) return nullptr;
  }
  return link;
}

PubSubHub::Link* PubSubHub::FindLink(const ServerConnection* connection) {
  for (const auto& link : links_) {
    if (link->connection == connection) return link.get();
  }
  return nullptr;
}

void PubSubHub::Send(Link* link, std::string_view command, std::string_view name) {
  if (link == nullptr || link->connection == nullptr) return;
  ByteBuffer bytes;
  AppendCommand(&bytes, command, name);
  link->connection->SendUnanswered(bytes.view());
}

void PubSubHub::CountChange(SubscriptionKind kind, std::string_view name, int64_t delta) {
  counts_->Add(kind, name, delta);
  pool_->stats().subscriptions.Add(delta);
}

bool PubSubHub::Subscribe(PubSubClient* client, SubscriptionKind kind,
                          std::span<const std::string_view> names, Request* request,
                          std::string* error) {
  // Every server it needs first, so that a refusal changes nothing.
  std::vector<Link*> links;
  if (kind == SubscriptionKind::kPattern) {
    for (size_t i = 0; i < pool_->server_count(); ++i) {
      Link* link = LinkFor(&pool_->server(i));
      if (link == nullptr) {
        *error = "ERR Connection refused";
        return false;
      }
      links.push_back(link);
    }
    std::vector<Server*> servers;
    servers.reserve(links.size());
    for (const Link* link : links) servers.push_back(link->server);
    if (entries_[Index(kind)].empty()) pattern_servers_ = std::move(servers);
  } else {
    for (const std::string_view name : names) {
      Server* server = ServerOf(name);
      if (server == nullptr) {
        *error = "ERR no server available for key";
        return false;
      }
      Link* link = LinkFor(server);
      if (link == nullptr) {
        *error = "ERR Connection refused";
        return false;
      }
      links.push_back(link);
    }
  }
  ClientNames& mine = clients_[client];
  const Protocol protocol = client->pubsub_protocol();
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string name(names[i]);
    if (mine.names[Index(kind)].insert(name).second) {
      CountChange(kind, name, 1);
      auto [it, created] = entries_[Index(kind)].try_emplace(name);
      Entry& entry = it->second;
      if (created) {
        const std::span<Link* const> targets = kind == SubscriptionKind::kPattern
                                                   ? std::span<Link* const>(links)
                                                   : std::span<Link* const>(&links[i], 1);
        entry.server = kind == SubscriptionKind::kPattern ? nullptr : targets[0]->server;
        for (Link* link : targets) {
          ++link->outstanding[OutstandingKey(kind, name)];
          Send(link, kSubscribeCommand[Index(kind)], name);
        }
        entry.awaiting = static_cast<uint32_t>(targets.size());
      }
      entry.clients.push_back(client);
      if (entry.awaiting > 0) {
        Fragment* waiter = context_->NewFragment();
        waiter->request = request;
        ++request->pending;
        entry.waiters.push_back(waiter);
      }
    }
    const size_t count = kind == SubscriptionKind::kShardChannel
                             ? mine.names[2].size()
                             : mine.names[0].size() + mine.names[1].size();
    AppendPushHeader(&request->reply, protocol, 3);
    resp::AppendBulk(&request->reply, kSubscribe[Index(kind)]);
    resp::AppendBulk(&request->reply, name);
    resp::AppendInteger(&request->reply, static_cast<int64_t>(count));
  }
  return true;
}

void PubSubHub::Unsubscribe(PubSubClient* client, SubscriptionKind kind,
                            std::span<const std::string_view> names, ByteBuffer* out) {
  const Protocol protocol = client->pubsub_protocol();
  auto it = clients_.find(client);
  std::vector<std::string> targets;
  if (!names.empty()) {
    targets.assign(names.begin(), names.end());
  } else if (it != clients_.end()) {
    const auto& mine = it->second.names[Index(kind)];
    targets.assign(mine.begin(), mine.end());
  }
  auto count = [&] {
    if (it == clients_.end()) return size_t{0};
    const ClientNames& mine = it->second;
    return kind == SubscriptionKind::kShardChannel ? mine.names[2].size()
                                                   : mine.names[0].size() + mine.names[1].size();
  };
  if (targets.empty()) {
    // Redis: one reply with a null name when there was nothing to unsubscribe from.
    AppendPushHeader(out, protocol, 3);
    resp::AppendBulk(out, kUnsubscribe[Index(kind)]);
    resp::AppendNull(out, protocol);
    resp::AppendInteger(out, static_cast<int64_t>(count()));
  }
  for (const std::string& name : targets) {
    if (it != clients_.end() && it->second.names[Index(kind)].erase(name) > 0) {
      CountChange(kind, name, -1);
      RemoveFromEntry(kind, name, client);
    }
    AppendPushHeader(out, protocol, 3);
    resp::AppendBulk(out, kUnsubscribe[Index(kind)]);
    resp::AppendBulk(out, name);
    resp::AppendInteger(out, static_cast<int64_t>(count()));
  }
  if (it != clients_.end() && it->second.names[0].empty() && it->second.names[1].empty() &&
      it->second.names[2].empty()) {
    clients_.erase(it);
  }
}

void PubSubHub::RemoveClient(PubSubClient* client) {
  const auto it = clients_.find(client);
  if (it == clients_.end()) return;
  ClientNames names = std::move(it->second);
  clients_.erase(it);
  for (size_t kind = 0; kind < 3; ++kind) {
    for (const std::string& name : names.names[kind]) {
      CountChange(static_cast<SubscriptionKind>(kind), name, -1);
      RemoveFromEntry(static_cast<SubscriptionKind>(kind), name, client);
    }
  }
}

void PubSubHub::RemoveFromEntry(SubscriptionKind kind, const std::string& name,
                                PubSubClient* client) {
  auto& entries = entries_[Index(kind)];
  const auto it = entries.find(name);
  if (it == entries.end()) return;
  std::vector<PubSubClient*>& clients = it->second.clients;
  const auto at = std::find(clients.begin(), clients.end(), client);
  if (at != clients.end()) {
    *at = clients.back();
    clients.pop_back();
  }
  if (!clients.empty()) return;
  DropEntry(kind, name, &it->second, nullptr);
  entries.erase(it);
}

void PubSubHub::DropEntry(SubscriptionKind kind, const std::string& name, Entry* entry,
                          const Link* except) {
  // Whoever waited for the server's confirmation has its answer: there is nothing left to wait
  // for.
  for (Fragment* waiter : std::exchange(entry->waiters, {})) {
    context_->CompleteFragment(waiter, "+OK\r\n");
  }
  for (const auto& link : links_) {
    if (link.get() == except || link->connection == nullptr) continue;
    if (kind != SubscriptionKind::kPattern && link->server != entry->server) continue;
    Send(link.get(), kUnsubscribeCommand[Index(kind)], name);
  }
}

void PubSubHub::Confirm(Link* link, SubscriptionKind kind, std::string_view name) {
  const auto outstanding = link->outstanding.find(OutstandingKey(kind, name));
  if (outstanding == link->outstanding.end()) return;
  if (--outstanding->second > 0) return;  // an earlier, dropped subscription's
  link->outstanding.erase(outstanding);
  // cppcheck 2.10 misses that the entry found is changed through the iterator.
  // cppcheck-suppress constVariable
  auto& entries = entries_[Index(kind)];
  const auto it = entries.find(std::string(name));
  if (it == entries.end() || it->second.awaiting == 0) return;
  if (--it->second.awaiting > 0) return;
  for (Fragment* waiter : std::exchange(it->second.waiters, {})) {
    context_->CompleteFragment(waiter, "+OK\r\n");
  }
}

void PubSubHub::Deliver(Entry* entry, std::string_view frame) {
  // Copied: writing to a client may close it (its output limit), which edits the entry.
  delivery_.assign(entry->clients.begin(), entry->clients.end());
  bool push_made = false;
  for (PubSubClient* client : delivery_) {
    if (client->pubsub_protocol() == Protocol::kResp2) {
      client->DeliverPubSub(frame);
      continue;
    }
    if (!push_made) {
      // The same elements as the server's RESP2 array, as a RESP3 push.
      push_.assign(frame);
      push_[0] = '>';
      push_made = true;
    }
    client->DeliverPubSub(push_);
  }
}

void PubSubHub::OnSubscriberFrame(ServerConnection* connection, std::string_view frame) {
  Link* link = FindLink(connection);
  if (link == nullptr) return;
  std::vector<std::string_view> items;
  if (!SplitFrame(frame, &items) || items.size() < 2) {
    RP_LOG(kLogError, "%s answered a subscription with %.*s; closing its subscribers",
           link->server->Where(connection->address()).c_str(),
           static_cast<int>(std::min<size_t>(frame.size(), 200)), frame.data());
    connection->Close(UV_EPROTO);
    return;
  }
  const std::string_view type = items[0];
  SubscriptionKind kind = SubscriptionKind::kChannel;
  if (type == "message" || type == "pmessage" || type == "smessage") {
    if (type == "pmessage") kind = SubscriptionKind::kPattern;
    if (type == "smessage") kind = SubscriptionKind::kShardChannel;
    // cppcheck 2.10 misses that the entry found is changed through the iterator.
    // cppcheck-suppress constVariable
    auto& entries = entries_[Index(kind)];
    const auto it = entries.find(std::string(items[1]));
    if (it != entries.end()) Deliver(&it->second, frame);
    return;
  }
  for (size_t k = 0; k < 3; ++k) {
    if (type == kSubscribe[k]) {
      Confirm(link, static_cast<SubscriptionKind>(k), items[1]);
      return;
    }
  }
  // An unsubscribe confirmation: the hub forgot the name when it sent it.
}

void PubSubHub::OnSubscriberLost(ServerConnection* connection) {
  Link* link = FindLink(connection);
  if (link == nullptr) return;
  link->connection = nullptr;
  link->outstanding.clear();
  // Every name the server carried, and every pattern (each needs every server), goes; their
  // clients are closed.
  std::vector<PubSubClient*> victims;
  for (size_t kind = 0; kind < 3; ++kind) {
    auto& entries = entries_[kind];
    for (auto it = entries.begin(); it != entries.end();) {
      const bool lost =
          kind == Index(SubscriptionKind::kPattern) || it->second.server == link->server;
      if (!lost) {
        ++it;
        continue;
      }
      victims.insert(victims.end(), it->second.clients.begin(), it->second.clients.end());
      DropEntry(static_cast<SubscriptionKind>(kind), it->first, &it->second, link);
      it = entries.erase(it);
    }
  }
  if (victims.empty()) return;
  RP_LOG(kLogWarn, "worker %d: lost the subscriptions on %s: closing %zu subscribed clients",
         context_->id(), link->server->Where(connection->address()).c_str(), victims.size());
  CloseClients(std::move(victims));
}

void PubSubHub::CloseClients(std::vector<PubSubClient*> clients) {
  std::sort(clients.begin(), clients.end());
  clients.erase(std::unique(clients.begin(), clients.end()), clients.end());
  for (PubSubClient* client : clients) client->OnSubscriptionsLost();
}

void PubSubHub::OnPlacementChanged() {
  std::vector<PubSubClient*> victims;
  for (const size_t kind :
       {Index(SubscriptionKind::kChannel), Index(SubscriptionKind::kShardChannel)}) {
    auto& entries = entries_[kind];
    for (auto it = entries.begin(); it != entries.end();) {
      if (ServerOf(it->first) == it->second.server) {
        ++it;
        continue;
      }
      victims.insert(victims.end(), it->second.clients.begin(), it->second.clients.end());
      DropEntry(static_cast<SubscriptionKind>(kind), it->first, &it->second, nullptr);
      it = entries.erase(it);
    }
  }
  std::vector<Server*> servers;
  for (size_t i = 0; i < pool_->server_count(); ++i) servers.push_back(&pool_->server(i));
  auto& patterns = entries_[Index(SubscriptionKind::kPattern)];
  if (!patterns.empty() && servers != pattern_servers_) {
    for (auto& [name, entry] : patterns) {
      victims.insert(victims.end(), entry.clients.begin(), entry.clients.end());
      DropEntry(SubscriptionKind::kPattern, name, &entry, nullptr);
    }
    patterns.clear();
  }
  // Links of servers that left the pool go (their connections were closed with them).
  std::erase_if(links_, [&](const auto& link) {
    return link->connection == nullptr &&
           std::find(servers.begin(), servers.end(), link->server) == servers.end();
  });
  if (!victims.empty()) {
    RP_LOG(kLogNotice,
           "worker %d: pool '%s' changed where channels live: closing %zu subscribed clients",
           context_->id(), pool_->config().name.c_str(), victims.size());
    CloseClients(std::move(victims));
  }
}

void PubSubHub::AnswerPubsub(std::span<const std::string_view> args, ByteBuffer* out) {
  std::string sub(args[1]);
  std::transform(sub.begin(), sub.end(), sub.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool shard = sub.starts_with("shard");
  const SubscriptionKind kind =
      shard ? SubscriptionKind::kShardChannel : SubscriptionKind::kChannel;
  auto wrong_arity = [&] {
    resp::AppendError(out, "ERR wrong number of arguments for 'pubsub|" + sub + "' command");
  };
  if (sub == "channels" || sub == "shardchannels") {
    if (args.size() > 3) return wrong_arity();
    const std::string pattern = args.size() == 3 ? std::string(args[2]) : std::string();
    const std::vector<std::string> names =
        counts_->Names(kind, args.size() == 3 ? &pattern : nullptr);
    resp::AppendArrayHeader(out, static_cast<int64_t>(names.size()));
    for (const std::string& name : names) resp::AppendBulk(out, name);
    return;
  }
  if (sub == "numsub" || sub == "shardnumsub") {
    resp::AppendArrayHeader(out, static_cast<int64_t>(2 * (args.size() - 2)));
    for (size_t i = 2; i < args.size(); ++i) {
      resp::AppendBulk(out, args[i]);
      resp::AppendInteger(out, counts_->Subscribers(kind, args[i]));
    }
    return;
  }
  if (sub == "numpat") {
    if (args.size() != 2) return wrong_arity();
    resp::AppendInteger(out, counts_->Distinct(SubscriptionKind::kPattern));
    return;
  }
  if (sub == "help") {
    if (args.size() != 2) return wrong_arity();
    resp::AppendArrayHeader(out, static_cast<int64_t>(std::size(kPubsubHelp)));
    for (std::string_view line : kPubsubHelp) resp::AppendSimple(out, line);
    return;
  }
  resp::AppendError(out, "ERR unknown subcommand '" + std::string(args[1]) + "'. Try PUBSUB HELP.");
}

}  // namespace ringproxy::proxy
