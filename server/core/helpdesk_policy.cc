#include "server/core/helpdesk_policy.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/store/ids.h"

namespace carerelay::core {
namespace {

int StateIndex(v1::IntakeState state) {
  switch (state) {
    case v1::INTAKE_STATE_NEW:
      return 0;
    case v1::INTAKE_STATE_ROUTED:
      return 1;
    case v1::INTAKE_STATE_ACCEPTED:
      return 2;
    default:
      return -1;
  }
}

int UrgencyIndex(v1::IntakeUrgency urgency) {
  switch (urgency) {
    case v1::INTAKE_URGENCY_LOW:
      return 0;
    case v1::INTAKE_URGENCY_HIGH:
      return 2;
    default:
      return 1;
  }
}

}  // namespace

absl::Duration HelpdeskPolicy::Deadline(v1::IntakeState state, v1::IntakeUrgency urgency) const {
  int s = StateIndex(state);
  if (s < 0) return absl::ZeroDuration();
  return intake_deadline[s][UrgencyIndex(urgency)];
}

absl::Status HelpdeskPolicy::SetDeadline(const std::string& spec) {
  std::vector<std::string> parts =
      absl::StrSplit(absl::AsciiStrToLower(spec), absl::ByAnyChar(":="));
  int minutes = 0;
  const absl::Status bad = absl::InvalidArgumentError(absl::StrCat(
      "--intake-deadline takes STATE:URGENCY=MINUTES (state new, routed or accepted; urgency "
      "low, normal or high; minutes > 0), got \"",
      spec, "\""));
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[2], &minutes) || minutes <= 0) return bad;
  int s = parts[0] == "new" ? 0 : parts[0] == "routed" ? 1 : parts[0] == "accepted" ? 2 : -1;
  int u = parts[1] == "low" ? 0 : parts[1] == "normal" ? 1 : parts[1] == "high" ? 2 : -1;
  if (s < 0 || u < 0) return bad;
  intake_deadline[s][u] = absl::Minutes(minutes);
  return absl::OkStatus();
}

absl::Status HelpdeskPolicy::SetLadder(const std::string& spec) {
  std::vector<LadderStep> steps;
  for (absl::string_view name : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    name = absl::StripAsciiWhitespace(name);
    LadderStep step;
    if (name == "assignee") {
      step = LadderStep::kAssignee;
    } else if (name == "coordinator" || name == "pool") {
      step = LadderStep::kCoordinatorOrPool;
    } else if (name == "supervisor") {
      step = LadderStep::kSupervisor;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--intake-ladder steps are assignee, coordinator and supervisor; got \"", name, "\""));
    }
    if (std::find(steps.begin(), steps.end(), step) != steps.end()) {
      return absl::InvalidArgumentError(absl::StrCat("--intake-ladder names \"", name, "\" twice"));
    }
    steps.push_back(step);
  }
  if (steps.empty()) return absl::InvalidArgumentError("--intake-ladder needs at least one step");
  ladder = std::move(steps);
  return absl::OkStatus();
}

int64_t HelpdeskPolicy::EvaluationReminderMs(int64_t start_ms, int64_t due_ms) const {
  const int64_t lead =
      std::min(absl::ToInt64Milliseconds(evaluation_reminder_lead), (due_ms - start_ms) / 2);
  return due_ms - lead;
}

absl::Status HelpdeskPolicy::Validate() const {
  if (urgent_reminder_interval <= absl::ZeroDuration() ||
      urgent_reminder_window < urgent_reminder_interval) {
    return absl::InvalidArgumentError(
        "--urgent-reminder-minutes must be positive and at most --urgent-window-minutes");
  }
  if (ladder_step_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--intake-escalation-step-minutes must be positive");
  }
  for (const auto& row : intake_deadline) {
    for (absl::Duration d : row) {
      if (d <= absl::ZeroDuration()) {
        return absl::InvalidArgumentError("every intake deadline must be positive");
      }
    }
  }
  for (const auto* list : {&helpdesk_accounts, &supervisors}) {
    for (const auto& id : *list) {
      absl::Status s = store::AccountId::FromHex(id).status();
      if (!s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--helpdesk-account and --helpdesk-supervisor take account ids: ", s.message()));
      }
    }
  }
  if (ladder.empty()) return absl::InvalidArgumentError("the intake ladder needs a step");
  absl::Status calendar = service_hours.Validate();
  if (!calendar.ok()) return calendar;
  for (absl::Duration d :
       {case_management_period, urgent_case_management_period, evaluation_reminder_lead}) {
    if (d < absl::Hours(24)) {
      return absl::InvalidArgumentError(
          "--case-management-period-days, --urgent-case-management-days and "
          "--evaluation-reminder-days must be at least 1");
    }
  }
  if (case_management_period > case_management_max_period ||
      urgent_case_management_period > case_management_max_period) {
    return absl::InvalidArgumentError(
        "--case-management-max-period-days must be at least the default and the urgent period");
  }
  return absl::OkStatus();
}

}  // namespace carerelay::core
