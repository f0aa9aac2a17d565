// Alerts (alerts.proto): the server's own notices about urgency and
// intakes, queued as ENVELOPE_TYPE_ALERT envelopes inside the caller's
// transaction (server_envelopes.h) to every active device of a person.
//
// Thread-safety: the functions are as thread-safe as the ServerEnvelopes
// they are given (one per transaction).
#ifndef CARERELAY_SERVER_CORE_ALERTS_H_
#define CARERELAY_SERVER_CORE_ALERTS_H_

#include "absl/status/status.h"
#include "carerelay/v1/alerts.pb.h"
#include "server/core/account_registry.h"
#include "server/core/server_envelopes.h"

namespace carerelay::core {

// Queues `alert` (stamped with `now_ms`) for every active device of
// `account`. An account that no longer exists gets nothing: an alert must
// not make the change it reports fail.
absl::Status QueueAlert(const AccountRegistry& accounts, ServerEnvelopes& out,
                        const store::AccountId& account, v1::Alert alert, int64_t now_ms);

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_ALERTS_H_
