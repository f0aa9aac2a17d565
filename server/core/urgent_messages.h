// Urgent messages that must be acknowledged (urgency.proto): who has
// acknowledged, the reminders to those who have not, and the escalation
// when the reminder window ends. The rules of DESIGN.md, "Helpdesk,
// urgency and escalation", for messages; decided here and only here.
//
// - The relay calls Track inside the send's transaction for a send with
//   priority URGENT and ack_required: the message is recorded (its id is the
//   sequence of its first envelope) with one entry per recipient PERSON (the
//   sender's own other devices are not recipients) and the first reminder
//   timer is set, all in the same commit as the envelopes.
// - A recipient absent at send time (professional_directory.h) has their
//   substitute named on their entry: reminders go to both, either's
//   acknowledgement counts.
// - Reminders (Alert KIND_URGENT_REMINDER) go every `urgent_reminder_interval`
//   to every active device of each person who has not acknowledged, until
//   `urgent_reminder_window` after the send; then one Alert
//   KIND_URGENT_ESCALATED goes to the team's coordinator (a team message),
//   the configured helpdesk accounts and the sender. A timer that fires late
//   (the server was down) sends one reminder or the escalation, not the
//   missed ones.
// - On a team, a person removed from it (or a team erased) is cut off from
//   its urgent messages too: no more reminders, no escalation to a removed
//   sender, a removed recipient is neither chased in the escalation nor
//   able to acknowledge (NOT_FOUND), and no longer counts as waiting. So is
//   a recipient who may no longer read the message's channel (a role change
//   or a narrowing dropped the message from their queues).
// - An organisation on a team (care_teams.h, "Organisations") is one
//   recipient: its staff on duty receive the message and the reminders,
//   and the first of them to acknowledge does so for it. The team's audit
//   log names who acknowledged for another (staff for their organisation,
//   a substitute for an absent member): KIND_URGENT_ACKNOWLEDGED_FOR, in
//   the acknowledgement's commit.
// - Everyone acknowledged: the pending timer is cancelled.
// - The record goes when the envelopes would (the queue time-to-live):
//   DeleteExpired, run by the server's expiry.
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_CORE_URGENT_MESSAGES_H_
#define CARERELAY_SERVER_CORE_URGENT_MESSAGES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "carerelay/v1/urgency.pb.h"
#include "server/core/access_matrix.h"
#include "server/core/account_registry.h"
#include "server/core/audit_log.h"
#include "server/core/clock.h"
#include "server/core/delivery_hub.h"
#include "server/core/helpdesk_policy.h"
#include "server/core/limits.h"
#include "server/core/professional_directory.h"
#include "server/core/server_envelopes.h"
#include "server/store/database.h"
#include "server/store/queue_table.h"
#include "server/store/team_table.h"
#include "server/store/timer_table.h"
#include "server/store/urgent_table.h"

namespace carerelay::core {

// The active coordinator of `team`, if it has one.
std::optional<store::AccountId> CoordinatorOf(const store::TeamRecord& team);

class UrgentMessages {
 public:
  // All pointers must outlive this object.
  UrgentMessages(store::Database* db, store::UrgentTable* table, store::TimerTable* timers,
                 store::TeamTable* teams, AuditLog* audit, const AccessMatrix* matrix,
                 const AccountRegistry* accounts, const ProfessionalDirectory* directory,
                 DeliveryHub* hub, store::QueueTable* queues, const Clock* clock,
                 const Limits& limits, const HelpdeskPolicy& policy);

  // For the relay, inside the send transaction. `team` is null for a direct
  // message; `recipients` are the accounts sent to (without the sender's;
  // staff on duty stand for their organisation, which is recorded);
  // `envelope_sequences` every envelope of the send. Returns the urgent
  // message id (the first envelope's id).
  absl::StatusOr<std::string> Track(store::Transaction& txn, const store::DeviceRef& sender,
                                    const store::TeamId* team, v1::Channel channel,
                                    const std::vector<store::AccountId>& recipients,
                                    const std::vector<uint64_t>& envelope_sequences,
                                    int64_t now_ms);

  // The caller's person acknowledges `id` (the message's id or one of its
  // envelopes'). NOT_FOUND: no such urgent message with the caller as
  // recipient or substitute. INVALID_ARGUMENT: a malformed id.
  absl::StatusOr<v1::AcknowledgeUrgentResponse> Acknowledge(const store::DeviceRef& caller,
                                                            absl::string_view id);
  // The sender or the team's coordinator; NOT_FOUND for anyone else.
  absl::StatusOr<v1::UrgentMessageStatus> Status(const store::DeviceRef& caller,
                                                 absl::string_view id);

  // Forgets urgent messages sent longer ago than the queue time-to-live (their
  // envelopes are gone too), with any timer left; returns how many.
  absl::StatusOr<uint64_t> DeleteExpired();

  // The scheduler's handler for store::TimerKind::kUrgentReminder.
  absl::Status OnReminderDue(store::Transaction& txn, const store::Timer& timer, int64_t now_ms,
                             ServerEnvelopes& out);

 private:
  // Schedules the next reminder after `now_ms` (or none past the window's end,
  // where the escalation is due) and records its due time.
  absl::Status ScheduleNext(store::Transaction& txn, store::UrgentMessageRecord& record,
                            int64_t now_ms);
  absl::StatusOr<uint64_t> Resolve(store::Transaction& txn, absl::string_view id);
  // The organisation on `team` that `account` is on duty for, when they
  // are not on it in their own right; nullopt otherwise.
  absl::StatusOr<std::optional<store::AccountId>> OrganisationActedFor(
      const store::TeamRecord& team, const store::AccountId& account) const;
  // Locks, in the store's lock order (database.h), the team of urgent
  // message `sequence` (read first without a lock: a message never changes
  // team), then the message. The alerts a change writes name the team, so
  // they are decided and written under its lock, as a removal drops them.
  // `team` is the team as it is now; nullopt for a direct message or a team
  // that no longer exists. NOT_FOUND: no such message.
  struct Locked {
    store::UrgentMessageRecord record;
    std::optional<store::TeamRecord> team;
    const store::TeamRecord* on() const { return team ? &*team : nullptr; }
  };
  absl::StatusOr<Locked> Lock(store::Transaction& txn, uint64_t sequence);

  store::Database* db_;
  store::UrgentTable* table_;
  store::TimerTable* timers_;
  store::TeamTable* teams_;
  AuditLog* audit_;
  const AccessMatrix* matrix_;
  const AccountRegistry* accounts_;
  const ProfessionalDirectory* directory_;
  DeliveryHub* hub_;
  store::QueueTable* queues_;
  const Clock* clock_;
  const Limits limits_;
  const HelpdeskPolicy policy_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_URGENT_MESSAGES_H_
