// ClientConnection's pub/sub: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH, PUBSUB and
// RESET, carried out with the pool's PubSubHub (pubsub_hub.h), and the messages it delivers.
#include <string>
#include <vector>

#include "base/byte_buffer.h"
#include "dataplane/client_connection.h"
#include "dataplane/pubsub_hub.h"
#include "dataplane/request.h"
#include "dataplane/resp_writer.h"
#include "dataplane/server.h"
#include "dataplane/server_connection.h"
#include "dataplane/server_pool.h"

namespace ringproxy::proxy {
namespace {

constexpr std::string_view kHello2Command = "*2\r\n$5\r\nHELLO\r\n$1\r\n2\r\n";

}  // namespace

bool ClientConnection::ExecutePubSub(const CommandSpec& spec, const RouteDecision& decision,
                                     std::string_view raw) {
  switch (spec.local) {
    case LocalCommand::kSubscribe:
      Subscribe(SubscriptionKind::kChannel, raw);
      break;
    case LocalCommand::kPsubscribe:
      Subscribe(SubscriptionKind::kPattern, raw);
      break;
    case LocalCommand::kSsubscribe:
      Subscribe(SubscriptionKind::kShardChannel, raw);
      break;
    case LocalCommand::kUnsubscribe:
      Unsubscribe(SubscriptionKind::kChannel);
      break;
    case LocalCommand::kPunsubscribe:
      Unsubscribe(SubscriptionKind::kPattern);
      break;
    case LocalCommand::kSunsubscribe:
      Unsubscribe(SubscriptionKind::kShardChannel);
      break;
    case LocalCommand::kPublish:
      Publish(SubscriptionKind::kChannel, decision, raw);
      break;
    case LocalCommand::kSpublish:
      Publish(SubscriptionKind::kShardChannel, decision, raw);
      break;
    case LocalCommand::kPubsub:
      pool_->pubsub().AnswerPubsub(context_->args(), BeginLocalReply(CommandClass::kLocal));
      EndLocalReply();
      break;
    case LocalCommand::kReset:
      return Reset();
    default:
      ReplyError("ERR " + std::string(spec.name) + " is not supported through the proxy");
      break;
  }
  return true;
}

void ClientConnection::Subscribe(SubscriptionKind kind, std::string_view raw) {
  const std::vector<std::string_view> names(context_->args().begin() + 1, context_->args().end());
  Request* request = Enqueue(CommandClass::kLocal, raw.size());
  request->merge = MergeKind::kPubSub;
  std::string error;
  PubSubHub& hub = pool_->pubsub();
  if (!hub.Subscribe(this, kind, names, request, &error)) {
    stats_->forward_error.Add();
    request->reply.Clear();
    resp::AppendError(&request->reply, error);
  }
  session_.subscriptions = hub.SubscriptionCount(this);
  if (request->pending == 0) {
    // Every name was confirmed by its server already: the reply can go.
    request->done = true;
    OnRequestDone(request);
  }
}

void ClientConnection::Unsubscribe(SubscriptionKind kind) {
  const std::vector<std::string_view> names(context_->args().begin() + 1, context_->args().end());
  PubSubHub& hub = pool_->pubsub();
  // Composed before the reply takes its place: dropping a name whose server confirmation is
  // still awaited completes the SUBSCRIBE ahead of it, which writes the replies at the head of
  // the queue; a local reply enqueued before that would become the head while not done yet, and
  // nothing would write it, nor anything after it.
  ByteBuffer reply;
  hub.Unsubscribe(this, kind, names, &reply);
  session_.subscriptions = hub.SubscriptionCount(this);
  BeginLocalReply(CommandClass::kLocal)->Append(reply.view());
  EndLocalReply();
}

void ClientConnection::Publish(SubscriptionKind kind, const RouteDecision& decision,
                               std::string_view raw) {
  // The server counts the proxy's subscriber connections, one per worker: the client is told
  // how many clients of the proxy receive the message, as one Redis would tell it.
  Request* request = Enqueue(CommandClass::kSingleKey, raw.size());
  request->BeginSplit(MergeKind::kPublish, 1);
  request->sum = pool_->pubsub().Receivers(kind, context_->args()[1]);
  Fragment* fragment = context_->NewFragment();
  fragment->request = request;
  session_.last_server = decision.server;
  SendTo(&pool_->server(decision.server), fragment, WireBytes(raw));
}

bool ClientConnection::Reset() {
  if (session_.protocol != Protocol::kResp2 && pending_ > 0) {
    // Back to RESP2: what follows travels on RESP2 server connections and must not overtake
    // the requests in flight on RESP3 ones (as HELLO 2).
    hold_ = Hold::kUntilIdle;
    return false;
  }
  // As Redis 7's RESET: no transaction, no WATCH, no subscription (nothing is sent for them),
  // no name, RESP2, and authenticated only when the pool needs no password.
  DropTransaction();
  if (session_.subscriptions > 0) pool_->pubsub().RemoveClient(this);
  session_.subscriptions = 0;
  session_.name.clear();
  if (session_.protocol != Protocol::kResp2) {
    session_.protocol = Protocol::kResp2;
    if (pinned_ != nullptr) {
      Fragment* quiet = context_->NewFragment();
      quiet->kind = FragmentKind::kQuiet;
      pinned_server_->SendOn(pinned_, quiet, kHello2Command);
      pinned_->set_protocol(Protocol::kResp2);
    }
  }
  if (!pool_->config().redis_auth.empty() && session_.authenticated) {
    session_.authenticated = false;
    parser_.set_limits(RequestLimits::Unauthenticated());
  }
  ReplySimple("RESET", CommandClass::kLocal);
  return true;
}

void ClientConnection::DeliverPubSub(std::string_view frame) {
  if (state_ != State::kOpen && state_ != State::kEnding) return;
  if (CloseIfOverHardLimit(frame.size())) return;
  if (head_ == nullptr) {
    out_.Append(frame);
    ScheduleFlush();
    return;
  }
  // Behind replies not written yet: it waits its turn, as a reply that is done.
  Request* request = context_->NewRequest();
  request->client = this;
  request->push = true;
  request->done = true;
  request->parked = true;
  request->reply.Append(frame);
  parked_bytes_ += frame.size();
  tail_->next = request;
  tail_ = request;
  ++queued_;
}

void ClientConnection::OnSubscriptionsLost() {
  stats_->client_err.Add();
  Close();
}

}  // namespace ringproxy::proxy
