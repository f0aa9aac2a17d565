// The helpdesk's intakes (intakes.proto): opening, routing, accepting,
// resolving and cancelling, the deadline of each state and the escalation
// ladder when one is missed. The rules of DESIGN.md, "Helpdesk, urgency and
// escalation", for intakes; decided here and only here.
//
// - Only HELPDESK accounts open, route (and reassign), answer, promise
//   callbacks and cancel. Each records the outcome (intakes.proto).
// - Routing targets: a team's active coordinator; a named professional
//   account (an active member of the intake's team when it has one); a
//   named ASSESSOR; or the case-manager pool of a region
//   (professional_directory.h), where the first member to accept takes it
//   and the others are told. A target absent now (directory) is replaced
//   by their substitute; the intake records for whom.
// - Case management (intakes.proto): the assessor it was routed to names a
//   case manager for a period (CASE_MANAGEMENT; its deadline is the
//   evaluation date, with a reminder before it) or finds it does not fit
//   (RESOLVED); an urgent start by a pool member enters CASE_MANAGEMENT for
//   the urgent period, with no assessor yet. Any ASSESSOR evaluates: extends
//   for a new period or ends it. The case manager must not be on the
//   intake's team (the function is external to it). Ending it removes the
//   case manager from the intake's team (CareTeams::ReleaseCaseManager)
//   before the intake is resolved, so a failure between the two is mended
//   by evaluating again. Nobody else routes or cancels a running case
//   management. HELPDESK accounts see every intake; ASSESSOR accounts
//   those routed to an assessor or with a case management.
// - Transitions: NEW -> ROUTED -> ACCEPTED -> RESOLVED, CANCELLED from any
//   open state, routing again from ROUTED or ACCEPTED (reassignment),
//   RESOLVED by the helpdesk's answer from NEW, ROUTED or ACCEPTED. Each
//   is appended to the intake's history and, for an intake with a team, to
//   the team's audit log (TeamEvent KIND_INTAKE), in the same transaction.
// - Deadlines: entering an open state sets its deadline from the policy
//   (by urgency, counted in the line's service hours: service_calendar.h),
//   or the callback promised for a NEW intake, and a persisted timer whose
//   time the intake records (next_alert_ms). A missed deadline climbs the
//   policy's ladder one step per `ladder_step_interval` of service hours,
//   each step an Alert and a history entry (KIND_ESCALATED); a transition
//   restarts the clock.
//
// Errors: INVALID_ARGUMENT (malformed id, unspecified enum, a route without
// its target); NOT_FOUND (no intake the caller may see; unknown team or
// account); PERMISSION_DENIED (no helpdesk or assessor function, or not
// the assignee);
// FAILED_PRECONDITION (the transition is not allowed from the current state,
// the team is closed or has no coordinator, the professional is not on the
// team or not a professional, the region's pool is empty, the named case
// manager lacks the function or is on the team).
//
// Thread-safety: thread-safe. Each change is one transaction holding the
// intake's lock (then the team's, for its audit log).
#ifndef CARERELAY_SERVER_CORE_INTAKE_DESK_H_
#define CARERELAY_SERVER_CORE_INTAKE_DESK_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "carerelay/v1/alerts.pb.h"
#include "carerelay/v1/intakes.pb.h"
#include "server/core/account_registry.h"
#include "server/core/audit_log.h"
#include "server/core/care_teams.h"
#include "server/core/clock.h"
#include "server/core/delivery_hub.h"
#include "server/core/helpdesk_policy.h"
#include "server/core/limits.h"
#include "server/core/professional_directory.h"
#include "server/core/server_envelopes.h"
#include "server/store/database.h"
#include "server/store/intake_table.h"
#include "server/store/queue_table.h"
#include "server/store/team_table.h"
#include "server/store/timer_table.h"

namespace carerelay::core {

class IntakeDesk : public TeamData {
 public:
  // All pointers must outlive this object.
  IntakeDesk(store::Database* db, store::IntakeTable* intakes, store::TimerTable* timers,
             store::TeamTable* teams, AuditLog* audit, CareTeams* care_teams,
             const AccountRegistry* accounts, const ProfessionalDirectory* directory,
             DeliveryHub* hub, store::QueueTable* queues, const Clock* clock, const Limits& limits,
             const HelpdeskPolicy& policy);

  absl::StatusOr<v1::Intake> Open(const store::DeviceRef& caller,
                                  const v1::OpenIntakeRequest& request);
  absl::StatusOr<v1::Intake> Route(const store::DeviceRef& caller,
                                   const v1::RouteIntakeRequest& request);
  absl::StatusOr<v1::Intake> Accept(const store::DeviceRef& caller, absl::string_view intake_id);
  absl::StatusOr<v1::Intake> Resolve(const store::DeviceRef& caller, absl::string_view intake_id);
  absl::StatusOr<v1::Intake> Cancel(const store::DeviceRef& caller, absl::string_view intake_id);
  absl::StatusOr<v1::Intake> Answer(const store::DeviceRef& caller,
                                    const v1::AnswerIntakeRequest& request);
  absl::StatusOr<v1::Intake> PromiseCallback(const store::DeviceRef& caller,
                                             const v1::PromiseCallbackRequest& request);
  absl::StatusOr<v1::Intake> Assess(const store::DeviceRef& caller,
                                    const v1::AssessIntakeRequest& request);
  absl::StatusOr<v1::Intake> Evaluate(const store::DeviceRef& caller,
                                      const v1::EvaluateCaseManagementRequest& request);
  absl::StatusOr<v1::Intake> Get(const store::DeviceRef& caller, absl::string_view intake_id);
  // The line's activity report (intake_report.h) for HELPDESK and
  // HELPDESK_SUPERVISOR accounts.
  absl::StatusOr<v1::IntakeReport> Report(const store::DeviceRef& caller,
                                          const v1::ReportIntakesRequest& request);
  absl::StatusOr<std::vector<v1::Intake>> List(const store::DeviceRef& caller,
                                               const v1::ListIntakesRequest& request);

  // TeamData: an intake that names an erased team stays (the helpdesk's
  // record of a call, which holds no patient data) but loses the link to
  // the team; counted in intakes_unlinked. Its ladder's coordinator step
  // then goes to the pool, or the helpdesk.
  absl::Status DeleteForErasure(store::Transaction& txn, const store::TeamId& team,
                                v1::EraseTeamResponse* counts) override;
  void PurgeAfterErasure(const store::TeamId&) override {}

  // Deletes intakes resolved or cancelled more than
  // Limits::closed_intake_retention ago (the server's expiry loop); their
  // transitions stay in their team's audit log. Returns how many went.
  absl::StatusOr<uint64_t> DeleteClosed();

  // The scheduler's handler for store::TimerKind::kIntakeDeadline.
  absl::Status OnDeadline(store::Transaction& txn, const store::Timer& timer, int64_t now_ms,
                          ServerEnvelopes& out);

 private:
  struct Change;
  // Locks the intake (LockIntake), runs `decide`, and commits what it did.
  // `also_team` (hex): a team the change may link the intake to.
  absl::StatusOr<v1::Intake> Apply(const store::DeviceRef& caller, absl::string_view intake_id,
                                   const std::function<absl::Status(Change&)>& decide,
                                   absl::string_view also_team = "");
  // Locks, in the store's lock order (database.h), the team the intake is
  // about and `also_team` (hex, may be empty), then the intake, and
  // returns it. NOT_FOUND: no such intake. ABORTED: it was linked to a
  // team between the unlocked read and the lock (start a new transaction).
  absl::StatusOr<v1::Intake> LockIntake(store::Transaction& txn, const store::IntakeId& id,
                                        absl::string_view also_team = "");
  // Writes a decided change in `txn`: timers, history into the team's audit
  // log, alerts into `out`, the record.
  absl::Status Finish(store::Transaction& txn, Change& c, ServerEnvelopes& out);
  // When the intake's next reminder or escalation step falls under the
  // policy, 0 if none: the deadline, then each ladder step after it, in
  // the line's service hours.
  int64_t NextAlertDue(const v1::Intake& intake) const;
  // The due time of the timer the intake waits for: the one recorded when
  // it was scheduled (next_alert_ms), or for a record written before that
  // field, as the policy computes it.
  int64_t ScheduledDue(const v1::Intake& intake) const;
  v1::Intake View(v1::Intake intake) const;
  absl::StatusOr<bool> IsHelpdesk(const store::AccountId& account) const;
  // OK if `account` holds `function`; PERMISSION_DENIED "only accounts with
  // the <function> function <what>" otherwise.
  absl::Status Require(const store::AccountId& account, v1::Function function,
                       absl::string_view what) const;
  bool Involves(const v1::Intake& intake, const store::AccountId& account) const;
  // Whether `account` may see the intake (the rule in the header comment).
  struct Viewer {
    store::AccountId account;
    bool helpdesk = false;
    bool assessor = false;
    bool Sees(const IntakeDesk& desk, const v1::Intake& intake) const;
  };
  absl::StatusOr<Viewer> ViewerOf(const store::AccountId& account) const;
  // The period asked for (0: the default), or INVALID_ARGUMENT.
  absl::StatusOr<absl::Duration> Period(uint32_t days) const;
  // Who is told of a case management's evaluation: its assessor, or every
  // ASSESSOR while it has none (an urgent start).
  absl::StatusOr<std::vector<store::AccountId>> Assessors(const v1::Intake& intake) const;
  std::vector<store::AccountId> HelpdeskStaff(const v1::Intake& intake) const;

  store::Database* db_;
  store::IntakeTable* intakes_;
  store::TimerTable* timers_;
  store::TeamTable* teams_;
  AuditLog* audit_;
  CareTeams* care_teams_;
  const AccountRegistry* accounts_;
  const ProfessionalDirectory* directory_;
  DeliveryHub* hub_;
  store::QueueTable* queues_;
  const Clock* clock_;
  const Limits limits_;
  const HelpdeskPolicy policy_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_INTAKE_DESK_H_
