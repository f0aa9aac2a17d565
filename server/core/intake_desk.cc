#include "server/core/intake_desk.h"

#include <algorithm>
#include <map>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/core/account_functions.h"
#include "server/core/alerts.h"
#include "server/core/intake_report.h"
#include "server/core/urgent_messages.h"

namespace carerelay::core {
namespace {

bool IsOpen(v1::IntakeState s) {
  return s == v1::INTAKE_STATE_NEW || s == v1::INTAKE_STATE_ROUTED ||
         s == v1::INTAKE_STATE_ACCEPTED || s == v1::INTAKE_STATE_CASE_MANAGEMENT;
}

// The reason an assessor gives: required, short, kept by the server.
absl::Status CheckReason(absl::string_view reason) {
  const size_t size = absl::StripAsciiWhitespace(reason).size();
  if (size == 0) {
    return absl::InvalidArgumentError(
        "give the reason, in general terms and naming no one (it is kept with the intake)");
  }
  if (reason.size() > 200) {
    return absl::InvalidArgumentError("a reason is at most 200 characters");
  }
  return absl::OkStatus();
}

absl::Status CaseManagementRuns(const v1::Intake& intake, absl::string_view what) {
  return absl::FailedPreconditionError(
      absl::StrCat("intake ", intake.intake_id(), " is a running case management; ", what,
                   " is not possible: an assessor extends or ends it (carerelay intake evaluate)"));
}

std::string StateName(v1::IntakeState s) {
  std::string name = v1::IntakeState_Name(s);
  return absl::AsciiStrToLower(absl::StripPrefix(name, "INTAKE_STATE_"));
}

store::AccountId Id(absl::string_view hex) {
  auto id = store::AccountId::FromHex(hex);
  return id.ok() ? *id : store::AccountId();
}

void AddOnce(std::vector<store::AccountId>* to, const store::AccountId& a) {
  if (!a.IsZero() && std::find(to->begin(), to->end(), a) == to->end()) to->push_back(a);
}

// Who has the intake now: its assignee, or the pool it is offered to.
std::vector<store::AccountId> HoldersOf(const v1::Intake& intake) {
  std::vector<store::AccountId> holders;
  if (!intake.assignee_account_id().empty()) AddOnce(&holders, Id(intake.assignee_account_id()));
  for (const auto& p : intake.pool_account_ids()) AddOnce(&holders, Id(p));
  return holders;
}

const store::TeamMemberRecord* MemberOf(const store::TeamRecord& team,
                                        const store::AccountId& account) {
  for (const auto& m : team.members()) {
    if (m.account_id() == account.Bytes()) return &m;
  }
  return nullptr;
}

}  // namespace

struct IntakeDesk::Change {
  store::IntakeId id;
  v1::Intake intake;
  v1::Intake before;
  bool fresh = false;    // a new intake (Open)
  bool restart = false;  // the state's clock starts again (a transition)
  int64_t now_ms = 0;
  std::string actor;     // hex; empty for the server
  size_t first_new = 0;  // history entries from here on are this change's
  std::vector<std::pair<store::AccountId, v1::Alert>> alerts;

  v1::IntakeTransition& Transition(v1::IntakeTransition::Kind kind) {
    v1::IntakeTransition* t = intake.add_history();
    t->set_kind(kind);
    t->set_actor_account_id(actor);
    t->set_at_ms(now_ms);
    return *t;
  }
  void Tell(const store::AccountId& to, v1::Alert::Kind kind, const std::string& on_behalf = "") {
    v1::Alert a;
    a.set_kind(kind);
    a.set_intake_id(intake.intake_id());
    a.set_intake_state(intake.state());
    a.set_intake_urgency(intake.urgency());
    a.set_team_id(intake.team_id());
    a.set_assignee_account_id(intake.assignee_account_id());
    a.set_subject_account_id(actor);
    a.set_on_behalf_of_account_id(on_behalf);
    a.set_evaluation_due_ms(intake.case_management().evaluation_due_ms());
    alerts.emplace_back(to, std::move(a));
  }
};

IntakeDesk::IntakeDesk(store::Database* db, store::IntakeTable* intakes, store::TimerTable* timers,
                       store::TeamTable* teams, AuditLog* audit, CareTeams* care_teams,
                       const AccountRegistry* accounts, const ProfessionalDirectory* directory,
                       DeliveryHub* hub, store::QueueTable* queues, const Clock* clock,
                       const Limits& limits, const HelpdeskPolicy& policy)
    : db_(db),
      intakes_(intakes),
      timers_(timers),
      teams_(teams),
      audit_(audit),
      care_teams_(care_teams),
      accounts_(accounts),
      directory_(directory),
      hub_(hub),
      queues_(queues),
      clock_(clock),
      limits_(limits),
      policy_(policy) {}

absl::StatusOr<bool> IntakeDesk::IsHelpdesk(const store::AccountId& account) const {
  auto record = accounts_->GetAccount(account);
  if (!record.ok()) return record.status();
  return HasFunction(*record, v1::FUNCTION_HELPDESK);
}

absl::Status IntakeDesk::Require(const store::AccountId& account, v1::Function function,
                                 absl::string_view what) const {
  auto record = accounts_->GetAccount(account);
  if (!record.ok()) return record.status();
  if (HasFunction(*record, function)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("only accounts with the ", FunctionName(function), " function ", what));
}

bool IntakeDesk::Involves(const v1::Intake& intake, const store::AccountId& account) const {
  const std::string hex = account.Hex();
  if (intake.assignee_account_id() == hex || intake.routed_for_account_id() == hex ||
      intake.case_management().assessor_account_id() == hex) {
    return true;
  }
  for (const auto& p : intake.pool_account_ids()) {
    if (p == hex) return true;
  }
  return false;
}

absl::StatusOr<IntakeDesk::Viewer> IntakeDesk::ViewerOf(const store::AccountId& account) const {
  auto record = accounts_->GetAccount(account);
  if (!record.ok()) return record.status();
  Viewer v;
  v.account = account;
  v.helpdesk = HasFunction(*record, v1::FUNCTION_HELPDESK);
  v.assessor = HasFunction(*record, v1::FUNCTION_ASSESSOR);
  return v;
}

bool IntakeDesk::Viewer::Sees(const IntakeDesk& desk, const v1::Intake& intake) const {
  if (helpdesk || desk.Involves(intake, account)) return true;
  return assessor &&
         (intake.route_kind() == v1::ROUTE_KIND_ASSESSOR || intake.has_case_management());
}

absl::StatusOr<absl::Duration> IntakeDesk::Period(uint32_t days) const {
  if (days == 0) return policy_.case_management_period;
  const absl::Duration d = absl::Hours(24) * static_cast<int64_t>(days);
  if (d > policy_.case_management_max_period) {
    return absl::InvalidArgumentError(
        absl::StrCat("a case management period is at most ",
                     policy_.case_management_max_period / absl::Hours(24),
                     " days here; evaluate it then, and extend it if it is still needed"));
  }
  return d;
}

absl::StatusOr<std::vector<store::AccountId>> IntakeDesk::Assessors(
    const v1::Intake& intake) const {
  const std::string& named = intake.case_management().assessor_account_id();
  if (!named.empty()) return std::vector<store::AccountId>{Id(named)};
  return accounts_->AccountsWith(v1::FUNCTION_ASSESSOR);
}

std::vector<store::AccountId> IntakeDesk::HelpdeskStaff(const v1::Intake& intake) const {
  std::vector<store::AccountId> staff;
  AddOnce(&staff, Id(intake.opened_by_account_id()));
  for (const auto& hex : policy_.helpdesk_accounts) AddOnce(&staff, Id(hex));
  return staff;
}

int64_t IntakeDesk::NextAlertDue(const v1::Intake& intake) const {
  const v1::CaseManagement& cm = intake.case_management();
  if (intake.state() == v1::INTAKE_STATE_CASE_MANAGEMENT && !cm.reminded()) {
    return policy_.EvaluationReminderMs(cm.period_started_at_ms(), cm.evaluation_due_ms());
  }
  if (!IsOpen(intake.state()) || intake.deadline_ms() == 0 ||
      intake.escalation_step() >= policy_.ladder.size()) {
    return 0;
  }
  return absl::ToUnixMillis(
      policy_.service_hours.Add(absl::FromUnixMillis(intake.deadline_ms()),
                                intake.escalation_step() * policy_.ladder_step_interval));
}

int64_t IntakeDesk::ScheduledDue(const v1::Intake& intake) const {
  return intake.next_alert_ms() != 0 ? intake.next_alert_ms() : NextAlertDue(intake);
}

v1::Intake IntakeDesk::View(v1::Intake intake) const {
  intake.set_overdue(IsOpen(intake.state()) && intake.deadline_ms() != 0 &&
                     clock_->NowMs() >= intake.deadline_ms());
  intake.clear_helpdesk_account_ids();
  for (const auto& hex : policy_.helpdesk_accounts) intake.add_helpdesk_account_ids(hex);
  // A history names the same few people again and again: look each up once.
  std::map<std::string, std::string> names;
  auto name_of = [&](const std::string& hex) -> const std::string& {
    auto [it, fresh] = names.try_emplace(hex);
    if (fresh && !hex.empty()) {
      auto record = accounts_->GetAccount(Id(hex));
      if (record.ok()) it->second = record->display_name();
    }
    return it->second;
  };
  intake.set_assignee_name(name_of(intake.assignee_account_id()));
  for (v1::IntakeTransition& t : *intake.mutable_history()) {
    t.set_actor_name(name_of(t.actor_account_id()));
    t.set_assignee_name(name_of(t.assignee_account_id()));
  }
  return intake;
}

absl::Status IntakeDesk::Finish(store::Transaction& txn, Change& c, ServerEnvelopes& out) {
  // The clock of the current state: a transition cancels the pending timer
  // and starts the new state's deadline.
  if (c.restart) {
    int64_t pending = c.fresh ? 0 : ScheduledDue(c.before);
    if (pending != 0) {
      absl::Status s = timers_->Cancel(
          txn, {pending, store::TimerKind::kIntakeDeadline, std::string(c.id.Bytes())});
      if (!s.ok()) return s;
    }
    // The state's delay counts the line's service hours: a call taken
    // after hours starts its clock when the line opens.
    absl::Duration d = policy_.Deadline(c.intake.state(), c.intake.urgency());
    c.intake.set_deadline_ms(
        IsOpen(c.intake.state())
            ? absl::ToUnixMillis(policy_.service_hours.Add(absl::FromUnixMillis(c.now_ms), d))
            : 0);
    // A case management's deadline is its evaluation date; a new call's,
    // the callback promised.
    if (c.intake.state() == v1::INTAKE_STATE_CASE_MANAGEMENT) {
      c.intake.set_deadline_ms(c.intake.case_management().evaluation_due_ms());
    } else if (c.intake.state() == v1::INTAKE_STATE_NEW && c.intake.callback_at_ms() != 0) {
      c.intake.set_deadline_ms(c.intake.callback_at_ms());
    }
    c.intake.set_escalation_step(0);
  }
  // (After an escalation step the caller advanced escalation_step: the
  // next step's timer is set here too.)
  int64_t due = NextAlertDue(c.intake);
  c.intake.set_next_alert_ms(due);
  if (due != 0) {
    absl::Status s =
        timers_->Schedule(txn, {due, store::TimerKind::kIntakeDeadline, std::string(c.id.Bytes())});
    if (!s.ok()) return s;
  }
  c.intake.set_updated_at_ms(c.now_ms);

  // The team's audit log gets every transition of an intake about it.
  if (!c.intake.team_id().empty() && c.first_new < static_cast<size_t>(c.intake.history_size())) {
    auto team_id = store::TeamId::FromHex(c.intake.team_id());
    if (!team_id.ok()) return team_id.status();
    auto team = teams_->GetForUpdate(txn, *team_id);
    if (team.ok()) {
      store::TeamRecord before = *team;
      for (size_t i = c.first_new; i < static_cast<size_t>(c.intake.history_size()); ++i) {
        const v1::IntakeTransition& t = c.intake.history(static_cast<int>(i));
        v1::TeamEvent e;
        e.set_kind(v1::TeamEvent::KIND_INTAKE);
        e.set_team_id(team_id->Hex());
        e.set_actor_account_id(t.actor_account_id());
        e.set_subject_account_id(t.assignee_account_id());
        e.set_at_ms(t.at_ms());
        std::string kind = v1::IntakeTransition::Kind_Name(t.kind());
        e.set_detail(absl::StrCat(c.intake.intake_id(), " ",
                                  absl::AsciiStrToLower(absl::StripPrefix(kind, "KIND_")),
                                  t.ladder_step() ? absl::StrCat(" step ", t.ladder_step()) : ""));
        auto entry = audit_->Append(txn, &*team, e);
        if (!entry.ok()) return entry.status();
      }
      absl::Status s = teams_->Put(txn, &before, *team);
      if (!s.ok()) return s;
    } else if (!absl::IsNotFound(team.status())) {
      return team.status();  // an erased team has no log left to write to
    }
  }

  for (auto& [to, alert] : c.alerts) {
    absl::Status s = QueueAlert(*accounts_, out, to, alert, c.now_ms);
    if (!s.ok()) return s;
  }
  return intakes_->Put(txn, c.id, c.intake);
}

absl::StatusOr<v1::Intake> IntakeDesk::LockIntake(store::Transaction& txn,
                                                  const store::IntakeId& id,
                                                  absl::string_view also_team) {
  // Which team to lock first: the intake's, read without a lock, and the
  // one the change may link it to.
  absl::StatusOr<v1::Intake> seen = intakes_->Get(id);
  if (!seen.ok()) return seen.status();
  std::vector<store::TeamId> teams;
  for (absl::string_view hex : {absl::string_view(seen->team_id()), also_team}) {
    auto team = store::TeamId::FromHex(hex);  // bad hex: the change refuses it
    if (hex.empty() || !team.ok() || std::find(teams.begin(), teams.end(), *team) != teams.end()) {
      continue;
    }
    teams.push_back(*team);
  }
  std::sort(teams.begin(), teams.end());
  for (const store::TeamId& team : teams) {
    absl::StatusOr<store::TeamRecord> locked = teams_->GetForUpdate(txn, team);
    if (!locked.ok() && !absl::IsNotFound(locked.status())) return locked.status();
  }
  absl::StatusOr<v1::Intake> intake = intakes_->GetForUpdate(txn, id);
  if (!intake.ok()) return intake.status();
  // Unlinked by its team's erasure between the two reads: nothing more to
  // lock. Linked to a team not locked here: locking it now would break the
  // order, so the caller starts again.
  const auto now_team = store::TeamId::FromHex(intake->team_id());
  if (!intake->team_id().empty() && now_team.ok() &&
      std::find(teams.begin(), teams.end(), *now_team) == teams.end()) {
    return absl::AbortedError(
        absl::StrCat("intake ", id.Hex(), " was linked to a team meanwhile; try again"));
  }
  return intake;
}

absl::StatusOr<v1::Intake> IntakeDesk::Apply(const store::DeviceRef& caller,
                                             absl::string_view intake_id,
                                             const std::function<absl::Status(Change&)>& decide,
                                             absl::string_view also_team) {
  auto id = store::IntakeId::FromHex(intake_id);
  if (!id.ok()) return id.status();
  auto txn = db_->Begin();
  auto intake = LockIntake(*txn, *id, also_team);
  for (int again = 0; again < 2 && absl::IsAborted(intake.status()); ++again) {
    txn = db_->Begin();  // the locks taken so far go with the old one
    intake = LockIntake(*txn, *id, also_team);
  }
  if (absl::IsNotFound(intake.status())) {
    return absl::NotFoundError(absl::StrCat("no intake ", id->Hex()));
  }
  if (!intake.ok()) return intake.status();
  auto viewer = ViewerOf(caller.account);
  if (!viewer.ok()) return viewer.status();
  // People who are not involved cannot tell an intake from a missing one.
  if (!viewer->Sees(*this, *intake)) {
    return absl::NotFoundError(absl::StrCat("no intake ", id->Hex()));
  }
  Change c;
  c.id = *id;
  c.before = *intake;
  c.intake = *std::move(intake);
  c.now_ms = clock_->NowMs();
  c.actor = caller.account.Hex();
  c.first_new = c.intake.history_size();
  absl::Status s = decide(c);
  if (!s.ok()) return s;
  ServerEnvelopes out(hub_, queues_, c.now_ms, limits_);
  s = Finish(*txn, c, out);
  if (s.ok()) s = out.Write(*txn);
  if (s.ok()) s = txn->Commit();
  if (!s.ok()) return s;
  out.Publish();
  return View(std::move(c.intake));
}

absl::StatusOr<v1::Intake> IntakeDesk::Open(const store::DeviceRef& caller,
                                            const v1::OpenIntakeRequest& r) {
  absl::Status allowed = Require(caller.account, v1::FUNCTION_HELPDESK, "open intakes");
  if (!allowed.ok()) return allowed;
  if (r.caller_kind() == v1::CALLER_KIND_UNSPECIFIED || !v1::CallerKind_IsValid(r.caller_kind())) {
    return absl::InvalidArgumentError("say who called: patient, caregiver, professional or other");
  }
  if (r.urgency() == v1::INTAKE_URGENCY_UNSPECIFIED || !v1::IntakeUrgency_IsValid(r.urgency())) {
    return absl::InvalidArgumentError("say how urgent: low, normal or high");
  }
  if (r.category() == v1::INTAKE_CATEGORY_UNSPECIFIED ||
      !v1::IntakeCategory_IsValid(r.category())) {
    return absl::InvalidArgumentError(
        "give a category: access-to-care, administrative, hospital-discharge, "
        "coordination-request or alert");
  }
  if (r.source() == v1::INTAKE_SOURCE_UNSPECIFIED || !v1::IntakeSource_IsValid(r.source())) {
    return absl::InvalidArgumentError("say how the call came: live or voicemail");
  }
  if (r.notes_message_id().size() > 64) {
    return absl::InvalidArgumentError("a notes message id is at most 64 characters");
  }
  Change c;
  c.fresh = true;
  c.restart = true;
  c.id = store::IntakeId::Random();
  c.now_ms = clock_->NowMs();
  c.actor = caller.account.Hex();
  auto txn = db_->Begin();
  if (!r.team_id().empty()) {
    auto team_id = store::TeamId::FromHex(r.team_id());
    if (!team_id.ok()) return team_id.status();
    // Locked first (the lock order): Finish writes its audit log.
    auto team = teams_->GetForUpdate(*txn, *team_id);
    if (absl::IsNotFound(team.status())) {
      return absl::NotFoundError(absl::StrCat("no team ", team_id->Hex()));
    }
    if (!team.ok()) return team.status();
    c.intake.set_team_id(team_id->Hex());
  }
  c.intake.set_intake_id(c.id.Hex());
  c.intake.set_state(v1::INTAKE_STATE_NEW);
  c.intake.set_caller_kind(r.caller_kind());
  c.intake.set_urgency(r.urgency());
  c.intake.set_category(r.category());
  c.intake.set_source(r.source());
  c.intake.set_opened_by_account_id(c.actor);
  c.intake.set_opened_at_ms(c.now_ms);
  c.intake.set_notes_message_id(r.notes_message_id());
  c.Transition(v1::IntakeTransition::KIND_OPENED).set_state(v1::INTAKE_STATE_NEW);
  ServerEnvelopes out(hub_, queues_, c.now_ms, limits_);
  absl::Status s = Finish(*txn, c, out);
  if (s.ok()) s = out.Write(*txn);
  if (s.ok()) s = txn->Commit();
  if (!s.ok()) return s;
  out.Publish();
  return View(std::move(c.intake));
}

absl::StatusOr<v1::Intake> IntakeDesk::Route(const store::DeviceRef& caller,
                                             const v1::RouteIntakeRequest& r) {
  absl::Status allowed = Require(caller.account, v1::FUNCTION_HELPDESK, "route intakes");
  if (!allowed.ok()) return allowed;
  auto decide = [&](Change& c) -> absl::Status {
    if (!IsOpen(c.intake.state())) {
      return absl::FailedPreconditionError(
          absl::StrCat("intake ", c.intake.intake_id(), " is ", StateName(c.intake.state()),
                       "; only an open intake can be routed (open a new one)"));
    }
    if (c.intake.state() == v1::INTAKE_STATE_CASE_MANAGEMENT) {
      return CaseManagementRuns(c.intake, "routing it elsewhere");
    }
    std::vector<store::AccountId> targets;  // after substitution
    std::string routed_for;
    std::string region;
    auto substitute = [&](const store::AccountId& who) -> absl::StatusOr<store::AccountId> {
      auto sub = directory_->SubstituteFor(who, c.now_ms);
      if (!sub.ok()) return sub.status();
      return *sub ? **sub : who;
    };
    switch (r.route_kind()) {
      case v1::ROUTE_KIND_TEAM_COORDINATOR: {
        std::string team_hex = r.team_id().empty() ? c.intake.team_id() : r.team_id();
        if (team_hex.empty()) {
          return absl::InvalidArgumentError(
              "routing to a team's coordinator needs the team (find it with team find)");
        }
        auto team_id = store::TeamId::FromHex(team_hex);
        if (!team_id.ok()) return team_id.status();
        if (!c.intake.team_id().empty() && c.intake.team_id() != team_id->Hex()) {
          return absl::FailedPreconditionError(absl::StrCat("intake ", c.intake.intake_id(),
                                                            " is about team ", c.intake.team_id(),
                                                            ", not ", team_id->Hex()));
        }
        auto team = teams_->Get(*team_id);
        if (absl::IsNotFound(team.status())) {
          return absl::NotFoundError(absl::StrCat("no team ", team_id->Hex()));
        }
        if (!team.ok()) return team.status();
        if (team->status() != v1::TEAM_STATUS_OPEN) {
          return absl::FailedPreconditionError(absl::StrCat("team ", team_id->Hex(), " is closed"));
        }
        auto coordinator = CoordinatorOf(*team);
        if (!coordinator) {
          return absl::FailedPreconditionError(absl::StrCat(
              "team ", team_id->Hex(),
              " has no coordinator; route to a professional or to the case-manager pool"));
        }
        c.intake.set_team_id(team_id->Hex());
        auto to = substitute(*coordinator);
        if (!to.ok()) return to.status();
        if (*to != *coordinator) routed_for = coordinator->Hex();
        targets.push_back(*to);
        break;
      }
      case v1::ROUTE_KIND_PROFESSIONAL: {
        auto who = store::AccountId::FromHex(r.account_id());
        if (!who.ok()) return who.status();
        auto record = accounts_->GetAccount(*who);
        if (absl::IsNotFound(record.status())) {
          return absl::NotFoundError(absl::StrCat("no account ", who->Hex()));
        }
        if (!record.ok()) return record.status();
        // Staff without a care profession take intakes as case managers only.
        if (!IsProfessionalKind(record->kind()) ||
            (record->kind() == v1::ACCOUNT_KIND_STAFF &&
             !HasFunction(*record, v1::FUNCTION_CASE_MANAGER))) {
          return absl::FailedPreconditionError(
              absl::StrCat(record->display_name(),
                           " is not a professional account; intakes go to "
                           "professionals, coordinators and case managers"));
        }
        if (!c.intake.team_id().empty()) {
          auto team_id = store::TeamId::FromHex(c.intake.team_id());
          if (!team_id.ok()) return team_id.status();
          auto team = teams_->Get(*team_id);
          if (!team.ok() && !absl::IsNotFound(team.status())) return team.status();
          const store::TeamMemberRecord* m = team.ok() ? MemberOf(*team, *who) : nullptr;
          if (!m || m->status() != v1::MEMBER_STATUS_ACTIVE) {
            return absl::FailedPreconditionError(absl::StrCat(
                record->display_name(), " is not an active member of team ", c.intake.team_id(),
                "; route to the team's coordinator, or have them invited first"));
          }
        }
        auto to = substitute(*who);
        if (!to.ok()) return to.status();
        if (*to != *who) routed_for = who->Hex();
        targets.push_back(*to);
        break;
      }
      case v1::ROUTE_KIND_ASSESSOR: {
        auto who = store::AccountId::FromHex(r.account_id());
        if (!who.ok()) return who.status();
        auto record = accounts_->GetAccount(*who);
        if (absl::IsNotFound(record.status())) {
          return absl::NotFoundError(absl::StrCat("no account ", who->Hex()));
        }
        if (!record.ok()) return record.status();
        if (!HasFunction(*record, v1::FUNCTION_ASSESSOR)) {
          return absl::FailedPreconditionError(
              absl::StrCat(record->display_name(),
                           " does not have the assessor function; the administrator gives it "
                           "(carerelayd admin functions --grant assessor)"));
        }
        auto to = substitute(*who);
        if (!to.ok()) return to.status();
        if (*to != *who) routed_for = who->Hex();
        targets.push_back(*to);
        break;
      }
      case v1::ROUTE_KIND_CASE_MANAGER_POOL: {
        region = std::string(absl::StripAsciiWhitespace(r.region()));
        if (region.empty()) {
          return absl::InvalidArgumentError("routing to the pool needs the region");
        }
        auto pool = directory_->Pool(region);
        if (!pool.ok()) return pool.status();
        for (const auto& member : *pool) {
          auto to = substitute(member);
          if (!to.ok()) return to.status();
          AddOnce(&targets, *to);
        }
        if (targets.empty()) {
          return absl::FailedPreconditionError(
              absl::StrCat("nobody is in the case-manager pool of ", region,
                           "; route to a named professional instead"));
        }
        break;
      }
      default:
        return absl::InvalidArgumentError(
            "say where to route: the team's coordinator, a professional, an assessor or the "
            "pool");
    }
    // Whoever had it and no longer does is told.
    const std::vector<store::AccountId> before = HoldersOf(c.intake);
    const bool reassign = c.intake.state() != v1::INTAKE_STATE_NEW;

    c.intake.set_state(v1::INTAKE_STATE_ROUTED);
    c.intake.set_route_kind(r.route_kind());
    c.intake.set_outcome(r.route_kind() == v1::ROUTE_KIND_ASSESSOR ||
                                 r.route_kind() == v1::ROUTE_KIND_CASE_MANAGER_POOL
                             ? v1::INTAKE_OUTCOME_PASSED_TO_CASE_MANAGEMENT
                             : v1::INTAKE_OUTCOME_ROUTED);
    c.intake.set_routed_for_account_id(routed_for);
    c.intake.clear_pool_account_ids();
    c.intake.clear_pool_region();
    c.intake.clear_assignee_account_id();
    if (r.route_kind() == v1::ROUTE_KIND_CASE_MANAGER_POOL) {
      c.intake.set_pool_region(region);
      for (const auto& t : targets) c.intake.add_pool_account_ids(t.Hex());
    } else {
      c.intake.set_assignee_account_id(targets.front().Hex());
    }
    c.restart = true;
    v1::IntakeTransition& t = c.Transition(reassign ? v1::IntakeTransition::KIND_REASSIGNED
                                                    : v1::IntakeTransition::KIND_ROUTED);
    t.set_state(v1::INTAKE_STATE_ROUTED);
    t.set_assignee_account_id(c.intake.assignee_account_id());
    t.set_route_kind(r.route_kind());
    t.set_region(region);
    for (const auto& to : targets) {
      t.add_notified_account_ids(to.Hex());
      c.Tell(to, v1::Alert::KIND_INTAKE_ASSIGNED, routed_for);
    }
    for (const auto& b : before) {
      if (std::find(targets.begin(), targets.end(), b) == targets.end()) {
        c.Tell(b, v1::Alert::KIND_INTAKE_WITHDRAWN);
      }
    }
    return absl::OkStatus();
  };
  // The team it may be routed to is locked with the intake's (the lock order).
  return Apply(caller, r.intake_id(), decide, r.team_id());
}

absl::StatusOr<v1::Intake> IntakeDesk::Accept(const store::DeviceRef& caller,
                                              absl::string_view intake_id) {
  return Apply(caller, intake_id, [&](Change& c) -> absl::Status {
    const std::string me = caller.account.Hex();
    switch (c.intake.state()) {
      case v1::INTAKE_STATE_ROUTED:
        break;
      case v1::INTAKE_STATE_ACCEPTED:
      case v1::INTAKE_STATE_CASE_MANAGEMENT:
        return absl::FailedPreconditionError(
            absl::StrCat("intake ", c.intake.intake_id(), " was already accepted",
                         c.intake.assignee_account_id() == me ? " by you" : " by a colleague"));
      case v1::INTAKE_STATE_NEW:
        return absl::FailedPreconditionError(
            absl::StrCat("intake ", c.intake.intake_id(), " is not routed yet"));
      default:
        return absl::FailedPreconditionError(absl::StrCat("intake ", c.intake.intake_id(), " is ",
                                                          StateName(c.intake.state()),
                                                          " and can no longer be accepted"));
    }
    bool offered = c.intake.assignee_account_id() == me;
    for (const auto& p : c.intake.pool_account_ids()) offered = offered || p == me;
    if (!offered) {
      return absl::PermissionDeniedError(
          "this intake is routed to someone else; only they (or the pool it was offered to) "
          "accept it");
    }
    std::vector<std::string> others;
    for (const auto& p : c.intake.pool_account_ids()) {
      if (p != me) others.push_back(p);
    }
    c.intake.set_assignee_account_id(me);
    c.restart = true;
    if (c.intake.route_kind() != v1::ROUTE_KIND_CASE_MANAGER_POOL) {
      c.intake.set_state(v1::INTAKE_STATE_ACCEPTED);
      v1::IntakeTransition& t = c.Transition(v1::IntakeTransition::KIND_ACCEPTED);
      t.set_state(v1::INTAKE_STATE_ACCEPTED);
      t.set_assignee_account_id(me);
    } else {
      // The pool is the urgent start of case management: it runs at once,
      // for the urgent period, and an assessor evaluates it at the end.
      v1::CaseManagement* cm = c.intake.mutable_case_management();
      cm->set_urgent_start(true);
      cm->set_started_at_ms(c.now_ms);
      cm->set_period_started_at_ms(c.now_ms);
      cm->set_evaluation_due_ms(c.now_ms +
                                absl::ToInt64Milliseconds(policy_.urgent_case_management_period));
      cm->set_periods(1);
      c.intake.set_state(v1::INTAKE_STATE_CASE_MANAGEMENT);
      v1::IntakeTransition& t = c.Transition(v1::IntakeTransition::KIND_URGENT_START);
      t.set_state(v1::INTAKE_STATE_CASE_MANAGEMENT);
      t.set_assignee_account_id(me);
      t.set_evaluation_due_ms(cm->evaluation_due_ms());
      auto assessors = Assessors(c.intake);
      if (!assessors.ok()) return assessors.status();
      for (const auto& a : *assessors) c.Tell(a, v1::Alert::KIND_CASE_MANAGER_NAMED);
    }
    for (const auto& o : others) c.Tell(Id(o), v1::Alert::KIND_INTAKE_TAKEN);
    for (const auto& h : HelpdeskStaff(c.intake)) c.Tell(h, v1::Alert::KIND_INTAKE_UPDATED);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Intake> IntakeDesk::Resolve(const store::DeviceRef& caller,
                                               absl::string_view intake_id) {
  auto helpdesk = IsHelpdesk(caller.account);
  if (!helpdesk.ok()) return helpdesk.status();
  return Apply(caller, intake_id, [&](Change& c) -> absl::Status {
    if (c.intake.state() == v1::INTAKE_STATE_CASE_MANAGEMENT) {
      return CaseManagementRuns(c.intake, "resolving it");
    }
    if (c.intake.state() != v1::INTAKE_STATE_ACCEPTED) {
      return absl::FailedPreconditionError(
          absl::StrCat("intake ", c.intake.intake_id(), " is ", StateName(c.intake.state()),
                       "; only an accepted intake can be resolved"));
    }
    if (!*helpdesk && c.intake.assignee_account_id() != caller.account.Hex()) {
      return absl::PermissionDeniedError("only the assignee or the helpdesk resolves an intake");
    }
    c.intake.set_state(v1::INTAKE_STATE_RESOLVED);
    c.restart = true;
    v1::IntakeTransition& t = c.Transition(v1::IntakeTransition::KIND_RESOLVED);
    t.set_state(v1::INTAKE_STATE_RESOLVED);
    t.set_assignee_account_id(c.intake.assignee_account_id());
    for (const auto& h : HelpdeskStaff(c.intake)) {
      if (h != caller.account) c.Tell(h, v1::Alert::KIND_INTAKE_UPDATED);
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Intake> IntakeDesk::Cancel(const store::DeviceRef& caller,
                                              absl::string_view intake_id) {
  absl::Status allowed = Require(caller.account, v1::FUNCTION_HELPDESK, "cancel intakes");
  if (!allowed.ok()) return allowed;
  return Apply(caller, intake_id, [&](Change& c) -> absl::Status {
    if (!IsOpen(c.intake.state())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "intake ", c.intake.intake_id(), " is already ", StateName(c.intake.state())));
    }
    if (c.intake.state() == v1::INTAKE_STATE_CASE_MANAGEMENT) {
      return CaseManagementRuns(c.intake, "cancelling it");
    }
    c.intake.set_state(v1::INTAKE_STATE_CANCELLED);
    c.intake.set_outcome(v1::INTAKE_OUTCOME_CANCELLED);
    c.restart = true;
    v1::IntakeTransition& t = c.Transition(v1::IntakeTransition::KIND_CANCELLED);
    t.set_state(v1::INTAKE_STATE_CANCELLED);
    for (const auto& a : HoldersOf(c.intake)) c.Tell(a, v1::Alert::KIND_INTAKE_WITHDRAWN);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Intake> IntakeDesk::Answer(const store::DeviceRef& caller,
                                              const v1::AnswerIntakeRequest& r) {
  absl::Status allowed = Require(caller.account, v1::FUNCTION_HELPDESK, "answer or orient calls");
  if (!allowed.ok()) return allowed;
  if (r.resources_size() > 16) {
    return absl::InvalidArgumentError("an orientation names at most 16 resources");
  }
  for (const std::string& ref : r.resources()) {
    const bool printable = std::all_of(ref.begin(), ref.end(), [](char ch) {
      return static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7f;
    });
    if (ref.empty() || ref.size() > 64 || !printable) {
      return absl::InvalidArgumentError(
          "a resource reference is 1 to 64 printable characters (an entry of the map of "
          "services, never about the caller)");
    }
  }
  return Apply(caller, r.intake_id(), [&](Change& c) -> absl::Status {
    if (c.intake.state() == v1::INTAKE_STATE_CASE_MANAGEMENT) {
      return CaseManagementRuns(c.intake, "answering it");
    }
    if (!IsOpen(c.intake.state())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "intake ", c.intake.intake_id(), " is already ", StateName(c.intake.state())));
    }
    // Whoever it was routed or offered to no longer has it.
    const std::vector<store::AccountId> had = HoldersOf(c.intake);
    c.intake.set_state(v1::INTAKE_STATE_RESOLVED);
    c.intake.set_outcome(r.oriented() ? v1::INTAKE_OUTCOME_ORIENTED : v1::INTAKE_OUTCOME_ANSWERED);
    *c.intake.mutable_orientation() = r.resources();
    c.restart = true;
    v1::IntakeTransition& t = c.Transition(r.oriented() ? v1::IntakeTransition::KIND_ORIENTED
                                                        : v1::IntakeTransition::KIND_ANSWERED);
    t.set_state(v1::INTAKE_STATE_RESOLVED);
    *t.mutable_resources() = r.resources();
    for (const auto& a : had) c.Tell(a, v1::Alert::KIND_INTAKE_WITHDRAWN);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Intake> IntakeDesk::PromiseCallback(const store::DeviceRef& caller,
                                                       const v1::PromiseCallbackRequest& r) {
  absl::Status allowed = Require(caller.account, v1::FUNCTION_HELPDESK, "promise callbacks");
  if (!allowed.ok()) return allowed;
  const int64_t now = clock_->NowMs();
  if (r.callback_at_ms() <= now ||
      r.callback_at_ms() > now + absl::ToInt64Milliseconds(absl::Hours(24 * 14))) {
    return absl::InvalidArgumentError(
        "a callback is promised for a time to come, at most 14 days ahead");
  }
  return Apply(caller, r.intake_id(), [&](Change& c) -> absl::Status {
    if (c.intake.state() != v1::INTAKE_STATE_NEW) {
      return absl::FailedPreconditionError(
          absl::StrCat("intake ", c.intake.intake_id(), " is ", StateName(c.intake.state()),
                       "; a callback is promised while the helpdesk still holds the call (new)"));
    }
    c.intake.set_callback_at_ms(r.callback_at_ms());
    c.restart = true;
    v1::IntakeTransition& t = c.Transition(v1::IntakeTransition::KIND_CALLBACK_PROMISED);
    t.set_state(v1::INTAKE_STATE_NEW);
    t.set_callback_at_ms(r.callback_at_ms());
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Intake> IntakeDesk::Assess(const store::DeviceRef& caller,
                                              const v1::AssessIntakeRequest& r) {
  absl::Status s =
      Require(caller.account, v1::FUNCTION_ASSESSOR, "assess whether case management fits");
  if (!s.ok()) return s;
  s = CheckReason(r.reason());
  if (!s.ok()) return s;
  auto period = Period(r.period_days());
  if (!period.ok()) return period.status();
  std::optional<store::AccountId> named;
  std::optional<store::AccountRecord> record;
  if (!r.case_manager_account_id().empty()) {
    auto id = store::AccountId::FromHex(r.case_manager_account_id());
    if (!id.ok()) return id.status();
    auto found = accounts_->GetAccount(*id);
    if (absl::IsNotFound(found.status())) {
      return absl::NotFoundError(absl::StrCat("no account ", id->Hex()));
    }
    if (!found.ok()) return found.status();
    if (!HasFunction(*found, v1::FUNCTION_CASE_MANAGER)) {
      return absl::FailedPreconditionError(absl::StrCat(
          found->display_name(),
          " does not have the case-manager function; name someone who has (carerelay directory "
          "search --pool), or ask the administrator to give it"));
    }
    named = *id;
    record = *std::move(found);
  }
  return Apply(caller, r.intake_id(), [&](Change& c) -> absl::Status {
    const std::string me = caller.account.Hex();
    if (c.intake.route_kind() != v1::ROUTE_KIND_ASSESSOR ||
        (c.intake.state() != v1::INTAKE_STATE_ROUTED &&
         c.intake.state() != v1::INTAKE_STATE_ACCEPTED)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "intake ", c.intake.intake_id(), " is ", StateName(c.intake.state()),
          c.intake.route_kind() == v1::ROUTE_KIND_ASSESSOR ? "" : " and not routed to an assessor",
          "; the helpdesk routes an intake to an assessor (carerelay intake route ID --assessor "
          "ACCOUNT) for an assessment"));
    }
    if (c.intake.assignee_account_id() != me) {
      return absl::PermissionDeniedError(
          "this intake is routed to another assessor; only they assess it");
    }
    c.restart = true;
    if (!named) {
      c.intake.set_state(v1::INTAKE_STATE_RESOLVED);
      v1::IntakeTransition& t = c.Transition(v1::IntakeTransition::KIND_NOT_FITTING);
      t.set_state(v1::INTAKE_STATE_RESOLVED);
      t.set_assignee_account_id(me);
      t.set_reason(r.reason());
      for (const auto& h : HelpdeskStaff(c.intake)) c.Tell(h, v1::Alert::KIND_INTAKE_UPDATED);
      return absl::OkStatus();
    }
    // The case manager is external to the care team (the plan): never one
    // of its members.
    if (!c.intake.team_id().empty()) {
      auto team_id = store::TeamId::FromHex(c.intake.team_id());
      if (!team_id.ok()) return team_id.status();
      auto team = teams_->Get(*team_id);
      if (!team.ok() && !absl::IsNotFound(team.status())) return team.status();
      const store::TeamMemberRecord* m = team.ok() ? MemberOf(*team, *named) : nullptr;
      if (m && m->role() != v1::ROLE_CASE_MANAGER) {
        return absl::FailedPreconditionError(absl::StrCat(
            record->display_name(), " is on team ", c.intake.team_id(),
            "; a case manager is external to the care team: name someone who is not on it"));
      }
    }
    v1::CaseManagement* cm = c.intake.mutable_case_management();
    cm->set_assessor_account_id(me);
    cm->set_started_at_ms(c.now_ms);
    cm->set_period_started_at_ms(c.now_ms);
    cm->set_evaluation_due_ms(c.now_ms + absl::ToInt64Milliseconds(*period));
    cm->set_periods(1);
    c.intake.set_state(v1::INTAKE_STATE_CASE_MANAGEMENT);
    c.intake.set_assignee_account_id(named->Hex());
    c.intake.clear_routed_for_account_id();
    v1::IntakeTransition& t = c.Transition(v1::IntakeTransition::KIND_NOMINATED);
    t.set_state(v1::INTAKE_STATE_CASE_MANAGEMENT);
    t.set_assignee_account_id(named->Hex());
    t.set_reason(r.reason());
    t.set_evaluation_due_ms(cm->evaluation_due_ms());
    c.Tell(*named, v1::Alert::KIND_CASE_MANAGER_NAMED);
    for (const auto& h : HelpdeskStaff(c.intake)) c.Tell(h, v1::Alert::KIND_INTAKE_UPDATED);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Intake> IntakeDesk::Evaluate(const store::DeviceRef& caller,
                                                const v1::EvaluateCaseManagementRequest& r) {
  absl::Status s = Require(caller.account, v1::FUNCTION_ASSESSOR, "evaluate a case management");
  if (!s.ok()) return s;
  using E = v1::EvaluateCaseManagementRequest;
  if (r.decision() != E::DECISION_EXTEND && r.decision() != E::DECISION_END) {
    return absl::InvalidArgumentError("say whether the case management is extended or ended");
  }
  s = CheckReason(r.reason());
  if (!s.ok()) return s;
  auto period = Period(r.period_days());
  if (!period.ok()) return period.status();
  auto running = [](const v1::Intake& intake) -> absl::Status {
    if (intake.state() == v1::INTAKE_STATE_CASE_MANAGEMENT) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("intake ", intake.intake_id(), " is ", StateName(intake.state()),
                     intake.has_case_management() ? "; its case management has ended"
                                                  : "; no case management runs on it"));
  };
  if (r.decision() == E::DECISION_END) {
    // The case manager leaves the intake's team first: repeating the
    // evaluation mends a failure between the two (see the header).
    auto seen = Get(caller, r.intake_id());
    if (!seen.ok()) return seen.status();
    s = running(*seen);
    if (!s.ok()) return s;
    auto team = store::TeamId::FromHex(seen->team_id());
    if (!seen->team_id().empty() && team.ok()) {
      auto released = care_teams_->ReleaseCaseManager(*team, Id(seen->assignee_account_id()),
                                                      seen->intake_id());
      if (!released.ok()) return released.status();
    }
  }
  return Apply(caller, r.intake_id(), [&](Change& c) -> absl::Status {
    absl::Status running_now = running(c.intake);
    if (!running_now.ok()) return running_now;
    v1::CaseManagement* cm = c.intake.mutable_case_management();
    // An urgent start has its assessor from its first evaluation on.
    if (cm->assessor_account_id().empty()) cm->set_assessor_account_id(c.actor);
    c.restart = true;
    const store::AccountId case_manager = Id(c.intake.assignee_account_id());
    if (r.decision() == E::DECISION_EXTEND) {
      cm->set_period_started_at_ms(c.now_ms);
      cm->set_evaluation_due_ms(c.now_ms + absl::ToInt64Milliseconds(*period));
      cm->set_periods(cm->periods() + 1);
      cm->set_reminded(false);
      v1::IntakeTransition& t = c.Transition(v1::IntakeTransition::KIND_EXTENDED);
      t.set_state(c.intake.state());
      t.set_assignee_account_id(case_manager.Hex());
      t.set_reason(r.reason());
      t.set_evaluation_due_ms(cm->evaluation_due_ms());
    } else {
      cm->set_ended_at_ms(c.now_ms);
      c.intake.set_state(v1::INTAKE_STATE_RESOLVED);
      v1::IntakeTransition& t = c.Transition(v1::IntakeTransition::KIND_ENDED);
      t.set_state(v1::INTAKE_STATE_RESOLVED);
      t.set_assignee_account_id(case_manager.Hex());
      t.set_reason(r.reason());
      for (const auto& h : HelpdeskStaff(c.intake)) c.Tell(h, v1::Alert::KIND_INTAKE_UPDATED);
    }
    if (case_manager != caller.account) c.Tell(case_manager, v1::Alert::KIND_INTAKE_UPDATED);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::IntakeReport> IntakeDesk::Report(const store::DeviceRef& caller,
                                                    const v1::ReportIntakesRequest& r) {
  auto record = accounts_->GetAccount(caller.account);
  if (!record.ok()) return record.status();
  if (!HasFunction(*record, v1::FUNCTION_HELPDESK) &&
      !HasFunction(*record, v1::FUNCTION_HELPDESK_SUPERVISOR)) {
    return absl::PermissionDeniedError(
        "only accounts with the helpdesk or helpdesk_supervisor function read the line's report");
  }
  if (r.to_ms() <= r.from_ms() ||
      r.to_ms() - r.from_ms() > absl::ToInt64Milliseconds(absl::Hours(24 * 731))) {
    return absl::InvalidArgumentError(
        "a report covers a period of up to two years, from before to");
  }
  std::vector<v1::Intake> opened;
  absl::Status s = intakes_->ForEach([&](const v1::Intake& intake) {
    if (intake.opened_at_ms() >= r.from_ms() && intake.opened_at_ms() < r.to_ms()) {
      opened.push_back(intake);
    }
    return true;
  });
  if (!s.ok()) return s;
  return CountIntakes(opened, r.from_ms(), r.to_ms());
}

absl::StatusOr<v1::Intake> IntakeDesk::Get(const store::DeviceRef& caller,
                                           absl::string_view intake_id) {
  auto id = store::IntakeId::FromHex(intake_id);
  if (!id.ok()) return id.status();
  auto intake = intakes_->Get(*id);
  if (absl::IsNotFound(intake.status())) {
    return absl::NotFoundError(absl::StrCat("no intake ", id->Hex()));
  }
  if (!intake.ok()) return intake.status();
  auto viewer = ViewerOf(caller.account);
  if (!viewer.ok()) return viewer.status();
  if (!viewer->Sees(*this, *intake)) {
    return absl::NotFoundError(absl::StrCat("no intake ", id->Hex()));
  }
  return View(*std::move(intake));
}

absl::StatusOr<std::vector<v1::Intake>> IntakeDesk::List(const store::DeviceRef& caller,
                                                         const v1::ListIntakesRequest& r) {
  // An unknown filter (one a newer client knows) must not read as "all":
  // the caller would get intakes it did not ask for and never know.
  if (!v1::ListIntakesRequest::Filter_IsValid(r.filter())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown intake filter ", static_cast<int>(r.filter()), ": open, mine, overdue or all"));
  }
  auto viewer = ViewerOf(caller.account);
  if (!viewer.ok()) return viewer.status();
  const size_t limit = r.limit() == 0 ? 200 : std::min<size_t>(r.limit(), 1000);
  const int64_t now = clock_->NowMs();
  std::vector<v1::Intake> out;
  absl::Status s = intakes_->ForEach([&](const v1::Intake& intake) {
    const bool mine = Involves(intake, caller.account);
    if (!viewer->Sees(*this, intake)) return true;
    const bool open = IsOpen(intake.state());
    bool keep = false;
    switch (r.filter()) {
      case v1::ListIntakesRequest::FILTER_OPEN:
        keep = open;
        break;
      case v1::ListIntakesRequest::FILTER_MINE:
        keep = open && (mine || (intake.state() == v1::INTAKE_STATE_NEW &&
                                 intake.opened_by_account_id() == caller.account.Hex()));
        break;
      case v1::ListIntakesRequest::FILTER_OVERDUE:
        keep = open && intake.deadline_ms() != 0 && now >= intake.deadline_ms();
        break;
      case v1::ListIntakesRequest::FILTER_CASE_MANAGEMENT:
        keep = intake.state() == v1::INTAKE_STATE_CASE_MANAGEMENT;
        break;
      case v1::ListIntakesRequest::FILTER_CALLBACKS:
        keep = intake.state() == v1::INTAKE_STATE_NEW && intake.callback_at_ms() != 0;
        break;
      default:
        keep = true;
    }
    if (keep) out.push_back(View(intake));
    return out.size() < limit;
  });
  if (!s.ok()) return s;
  std::sort(out.begin(), out.end(), [&](const v1::Intake& a, const v1::Intake& b) {
    if (r.filter() == v1::ListIntakesRequest::FILTER_CASE_MANAGEMENT) {
      return a.case_management().evaluation_due_ms() < b.case_management().evaluation_due_ms();
    }
    if (r.filter() == v1::ListIntakesRequest::FILTER_CALLBACKS) {
      return a.callback_at_ms() < b.callback_at_ms();
    }
    return a.opened_at_ms() < b.opened_at_ms();
  });
  return out;
}

absl::StatusOr<uint64_t> IntakeDesk::DeleteClosed() {
  const int64_t cutoff =
      clock_->NowMs() - absl::ToInt64Milliseconds(limits_.closed_intake_retention);
  auto closed_before = [&](const v1::Intake& intake) {
    return !IsOpen(intake.state()) && intake.updated_at_ms() < cutoff;
  };
  std::vector<store::IntakeId> old;
  absl::Status s = intakes_->ForEach([&](const v1::Intake& intake) {
    auto id = store::IntakeId::FromHex(intake.intake_id());
    if (id.ok() && closed_before(intake)) old.push_back(*id);
    return true;
  });
  if (!s.ok()) return s;
  uint64_t deleted = 0;
  for (const store::IntakeId& id : old) {
    auto txn = db_->Begin(store::Durability::kBuffered);
    // Nothing of its team is written: the intake's own lock is enough.
    auto intake = intakes_->GetForUpdate(*txn, id);
    if (absl::IsNotFound(intake.status())) continue;
    if (!intake.ok()) return intake.status();
    if (!closed_before(*intake)) continue;
    s = intakes_->Delete(*txn, id);
    if (s.ok()) s = txn->Commit();
    if (!s.ok()) return s;
    ++deleted;
  }
  return deleted;
}

absl::Status IntakeDesk::OnDeadline(store::Transaction& txn, const store::Timer& timer,
                                    int64_t now_ms, ServerEnvelopes& out) {
  auto id = store::IntakeId::FromBytes(timer.target);
  if (!id.ok()) return absl::OkStatus();  // not ours to act on
  auto intake = LockIntake(txn, *id);
  if (absl::IsNotFound(intake.status())) return absl::OkStatus();
  if (!intake.ok()) return intake.status();
  // A timer the intake no longer waits for (a transition moved on) does nothing.
  if (ScheduledDue(*intake) != timer.due_ms) return absl::OkStatus();

  Change c;
  c.id = *id;
  c.before = *intake;
  c.intake = *std::move(intake);
  c.now_ms = now_ms;
  c.first_new = c.intake.history_size();
  if (c.intake.state() == v1::INTAKE_STATE_CASE_MANAGEMENT &&
      !c.intake.case_management().reminded()) {
    // Before the evaluation date: the case manager and the assessor, so
    // that the evaluation is prepared with the team, the person and their
    // circle. Finish then sets the timer of the date itself.
    c.intake.mutable_case_management()->set_reminded(true);
    v1::IntakeTransition& t = c.Transition(v1::IntakeTransition::KIND_EVALUATION_REMINDER);
    t.set_state(c.intake.state());
    t.set_assignee_account_id(c.intake.assignee_account_id());
    t.set_evaluation_due_ms(c.intake.case_management().evaluation_due_ms());
    auto assessors = Assessors(c.intake);
    if (!assessors.ok()) return assessors.status();
    std::vector<store::AccountId> told;
    AddOnce(&told, Id(c.intake.assignee_account_id()));
    for (const auto& a : *assessors) AddOnce(&told, a);
    for (const auto& a : told) {
      t.add_notified_account_ids(a.Hex());
      c.Tell(a, v1::Alert::KIND_EVALUATION_DUE);
    }
    return Finish(txn, c, out);
  }
  const uint32_t index = c.intake.escalation_step();
  const LadderStep step = policy_.ladder[index];

  std::vector<store::AccountId> to;
  std::vector<std::string> on_behalf;  // parallel to `to`
  auto add = [&](const store::AccountId& a, const std::string& behalf = "") -> absl::Status {
    if (a.IsZero() || std::find(to.begin(), to.end(), a) != to.end()) return absl::OkStatus();
    to.push_back(a);
    on_behalf.push_back(behalf);
    // An absent person's substitute is told too.
    auto sub = directory_->SubstituteFor(a, now_ms);
    if (!sub.ok()) return sub.status();
    if (*sub && std::find(to.begin(), to.end(), **sub) == to.end()) {
      to.push_back(**sub);
      on_behalf.push_back(a.Hex());
    }
    return absl::OkStatus();
  };
  auto staff = [&]() -> absl::Status {
    for (const auto& h : HelpdeskStaff(c.intake)) {
      absl::Status s = add(h);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  };
  absl::Status s = absl::OkStatus();
  v1::Alert::Kind kind = v1::Alert::KIND_INTAKE_ESCALATED;
  switch (step) {
    case LadderStep::kAssignee:
      kind = v1::Alert::KIND_INTAKE_REMINDER;
      if (c.intake.state() == v1::INTAKE_STATE_CASE_MANAGEMENT) {
        // The evaluation is the assessor's to hold, with the case manager.
        s = add(Id(c.intake.assignee_account_id()));
        auto assessors = Assessors(c.intake);
        if (!assessors.ok()) return assessors.status();
        for (const auto& a : *assessors) {
          if (s.ok()) s = add(a);
        }
      } else if (!c.intake.assignee_account_id().empty()) {
        s = add(Id(c.intake.assignee_account_id()));
      } else if (c.intake.pool_account_ids_size() > 0) {
        for (const auto& p : c.intake.pool_account_ids()) {
          if (s.ok()) s = add(Id(p));
        }
      } else {
        s = staff();  // NEW: the helpdesk has not routed it yet
      }
      break;
    case LadderStep::kCoordinatorOrPool: {
      bool told = false;
      if (!c.intake.team_id().empty()) {
        auto team_id = store::TeamId::FromHex(c.intake.team_id());
        if (!team_id.ok()) return team_id.status();
        auto team = teams_->Get(*team_id);
        if (!team.ok() && !absl::IsNotFound(team.status())) return team.status();
        if (team.ok()) {
          if (auto coordinator = CoordinatorOf(*team)) {
            s = add(*coordinator);
            told = true;
          }
        }
      }
      if (!told && !c.intake.pool_region().empty()) {
        auto pool = directory_->Pool(c.intake.pool_region());
        if (!pool.ok()) return pool.status();
        for (const auto& p : *pool) {
          if (s.ok()) s = add(p);
        }
        told = !pool->empty();
      }
      if (!told && s.ok()) s = staff();  // nobody to climb to but the helpdesk
      break;
    }
    case LadderStep::kSupervisor: {
      // Those named by --helpdesk-supervisor and those the administrator
      // gave the function.
      std::vector<store::AccountId> supervisors;
      for (const auto& hex : policy_.supervisors) AddOnce(&supervisors, Id(hex));
      auto holders = accounts_->AccountsWith(v1::FUNCTION_HELPDESK_SUPERVISOR);
      if (!holders.ok()) return holders.status();
      for (const auto& id : *holders) AddOnce(&supervisors, id);
      for (const auto& id : supervisors) {
        if (s.ok()) s = add(id);
      }
      if (supervisors.empty() && s.ok()) s = staff();
      break;
    }
  }
  if (!s.ok()) return s;

  c.intake.set_overdue(true);
  c.intake.set_escalation_step(index + 1);
  v1::IntakeTransition& t = c.Transition(v1::IntakeTransition::KIND_ESCALATED);
  t.set_state(c.intake.state());
  t.set_assignee_account_id(c.intake.assignee_account_id());
  t.set_ladder_step(index + 1);
  for (size_t i = 0; i < to.size(); ++i) {
    t.add_notified_account_ids(to[i].Hex());
    c.Tell(to[i], kind, on_behalf[i]);
    c.alerts.back().second.set_ladder_step(index + 1);
  }
  return Finish(txn, c, out);
}

absl::Status IntakeDesk::DeleteForErasure(store::Transaction& txn, const store::TeamId& team,
                                          v1::EraseTeamResponse* counts) {
  std::vector<std::string> named;
  absl::Status s = intakes_->ForEach([&](const v1::Intake& intake) {
    if (intake.team_id() == team.Hex()) named.push_back(intake.intake_id());
    return true;
  });
  if (!s.ok()) return s;
  for (const std::string& hex : named) {
    auto id = store::IntakeId::FromHex(hex);
    if (!id.ok()) return id.status();
    auto intake = intakes_->GetForUpdate(txn, *id);
    if (absl::IsNotFound(intake.status())) continue;
    if (!intake.ok()) return intake.status();
    intake->clear_team_id();
    s = intakes_->Put(txn, *id, *intake);
    if (!s.ok()) return s;
  }
  counts->set_intakes_unlinked(named.size());
  return absl::OkStatus();
}

}  // namespace carerelay::core
