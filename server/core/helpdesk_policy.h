// How urgency and the helpdesk behave in one deployment: when urgent
// messages are re-notified and escalated, who the helpdesk staff and
// supervisors are, each intake state's deadline by urgency, and the
// escalation ladder. Part of the server configuration
// (server/helpdesk_options.h declares the flags); every value is checked by
// Validate before the server starts.
#ifndef CARERELAY_SERVER_CORE_HELPDESK_POLICY_H_
#define CARERELAY_SERVER_CORE_HELPDESK_POLICY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "carerelay/v1/intakes.pb.h"
#include "server/core/service_calendar.h"

namespace carerelay::core {

// One step of the intake escalation ladder, climbed one step per missed
// deadline interval.
enum class LadderStep {
  kAssignee,           // re-notify the assignee (the pool, or the helpdesk while NEW)
  kCoordinatorOrPool,  // the team's coordinator, else the region's pool
  kSupervisor,         // the helpdesk supervisors
};

struct HelpdeskPolicy {
  // Urgent messages: reminders every `interval` while under `window` after
  // the send, then the escalation.
  absl::Duration urgent_reminder_interval = absl::Minutes(2);
  absl::Duration urgent_reminder_window = absl::Minutes(20);
  // Helpdesk staff accounts (32 hex): told of urgent-message escalations,
  // and the notes of every intake are encrypted to them.
  std::vector<std::string> helpdesk_accounts;
  // The last step of the intake ladder (32 hex). Empty: the helpdesk staff.
  std::vector<std::string> supervisors;
  // Deadline of each open intake state (NEW, ROUTED, ACCEPTED) by urgency
  // (LOW, NORMAL, HIGH).
  absl::Duration intake_deadline[3][3] = {
      {absl::Hours(4), absl::Hours(1), absl::Minutes(15)},   // NEW
      {absl::Hours(24), absl::Hours(4), absl::Minutes(30)},  // ROUTED
      {absl::Hours(72), absl::Hours(24), absl::Hours(4)},    // ACCEPTED
  };
  std::vector<LadderStep> ladder = {LadderStep::kAssignee, LadderStep::kCoordinatorOrPool,
                                    LadderStep::kSupervisor};
  // Time between two ladder steps once the deadline is missed.
  absl::Duration ladder_step_interval = absl::Minutes(15);
  // The line's service hours: intake deadlines and ladder steps count only
  // the time it is open (always open unless configured). A promised
  // callback's time and a case management's evaluation date are dates
  // given to people, kept as they are; a reminder of one that falls while
  // the line is closed comes when it opens.
  ServiceCalendar service_hours;

  // Case management (intakes.proto). The plan sets no length: "as short as
  // possible, as long as necessary", evaluated at the end of each period.
  // The period an assessor gives when they name none, and the longest.
  absl::Duration case_management_period = absl::Hours(24 * 90);
  absl::Duration case_management_max_period = absl::Hours(24 * 365);
  // The period of an urgent start (a pool member accepted), before an
  // assessor's first evaluation.
  absl::Duration urgent_case_management_period = absl::Hours(24 * 30);
  // How long before the evaluation date the case manager and the assessor
  // are reminded (at most half the period, for a short one).
  absl::Duration evaluation_reminder_lead = absl::Hours(24 * 14);

  // The deadline of `state` for `urgency`; zero for a closed state.
  absl::Duration Deadline(v1::IntakeState state, v1::IntakeUrgency urgency) const;
  // "STATE:URGENCY=MINUTES", e.g. "routed:high=20". INVALID_ARGUMENT otherwise.
  absl::Status SetDeadline(const std::string& spec);
  // "assignee,coordinator,supervisor" (any order, each at most once).
  absl::Status SetLadder(const std::string& spec);
  // When the reminder of a period from `start` to `due` falls.
  int64_t EvaluationReminderMs(int64_t start_ms, int64_t due_ms) const;
  // INVALID_ARGUMENT naming what is wrong (a zero interval, a malformed id).
  absl::Status Validate() const;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_HELPDESK_POLICY_H_
