#include "client/cli/intake_commands.h"

#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "client/cli/team_commands.h"

namespace carerelay::cli {
namespace {

// "INTAKE_STATE_ACCEPTED" -> "accepted"; "INTAKE_CATEGORY_HOSPITAL_DISCHARGE"
// -> "hospital-discharge".
std::string Word(const std::string& enum_name, absl::string_view prefix) {
  return absl::StrReplaceAll(absl::AsciiStrToLower(absl::StripPrefix(enum_name, prefix)),
                             {{"_", "-"}});
}

template <typename E>
bool ParseWord(const std::string& word, absl::string_view prefix,
               bool (*parse)(const std::string&, E*), E* out) {
  std::string name =
      absl::StrCat(prefix, absl::StrReplaceAll(absl::AsciiStrToUpper(word), {{"-", "_"}}));
  return !word.empty() && parse(name, out) && static_cast<int>(*out) != 0;
}

std::string StateWord(v1::IntakeState s) { return Word(v1::IntakeState_Name(s), "INTAKE_STATE_"); }

}  // namespace

std::string AlertKindName(v1::Alert::Kind kind) {
  return absl::AsciiStrToLower(absl::StripPrefix(v1::Alert::Kind_Name(kind), "KIND_"));
}

std::string DescribeAlert(const v1::Alert& a) {
  const std::string behalf = a.on_behalf_of_account_id().empty()
                                 ? ""
                                 : " (you stand in for " + Short(a.on_behalf_of_account_id()) + ")";
  switch (a.kind()) {
    case v1::Alert::KIND_URGENT_REMINDER:
      return absl::StrCat("URGENT reminder #", a.reminder(), ": message ", a.message_id(), " from ",
                          Short(a.message_sender().account_id()), " is not acknowledged", behalf,
                          " (carerelay ack ", a.message_id(), ")");
    case v1::Alert::KIND_URGENT_ESCALATED: {
      std::vector<std::string> who;
      for (const auto& id : a.unacknowledged_account_ids()) who.push_back(Short(id));
      return absl::StrCat("URGENT message ", a.message_id(), " from ",
                          Short(a.message_sender().account_id()),
                          " escalated: never acknowledged by ", absl::StrJoin(who, ", "));
    }
    case v1::Alert::KIND_URGENT_ACKNOWLEDGED:
      return absl::StrCat("urgent message ", a.message_id(), " acknowledged by ",
                          Short(a.subject_account_id()));
    case v1::Alert::KIND_INTAKE_ASSIGNED:
      return absl::StrCat("intake ", Short(a.intake_id()), " (",
                          Word(v1::IntakeUrgency_Name(a.intake_urgency()), "INTAKE_URGENCY_"),
                          " urgency) is routed to you", behalf, ": carerelay intake accept ",
                          a.intake_id());
    case v1::Alert::KIND_INTAKE_REMINDER:
      return absl::StrCat("intake ", Short(a.intake_id()), " is overdue (",
                          StateWord(a.intake_state()), ")", behalf, ": carerelay intake show ",
                          a.intake_id());
    case v1::Alert::KIND_INTAKE_ESCALATED:
      return absl::StrCat("intake ", Short(a.intake_id()), " escalated to you (step ",
                          a.ladder_step(), ", still ", StateWord(a.intake_state()), ")", behalf);
    case v1::Alert::KIND_INTAKE_TAKEN:
      return absl::StrCat("intake ", Short(a.intake_id()), " was accepted by a colleague ",
                          Short(a.subject_account_id()), ": nothing more to do");
    case v1::Alert::KIND_INTAKE_UPDATED:
      return absl::StrCat("intake ", Short(a.intake_id()), " is now ", StateWord(a.intake_state()),
                          " (by ", Short(a.subject_account_id()), ")");
    case v1::Alert::KIND_INTAKE_WITHDRAWN:
      return absl::StrCat("intake ", Short(a.intake_id()), " is no longer yours (",
                          StateWord(a.intake_state()), ")");
    default:
      return "an alert this version does not know";
  }
}

nlohmann::json IntakeJson(const v1::Intake& i) {
  nlohmann::json history = nlohmann::json::array();
  for (const auto& t : i.history()) {
    history.push_back({{"kind", Word(v1::IntakeTransition::Kind_Name(t.kind()), "KIND_")},
                       {"state", StateWord(t.state())},
                       {"actor", t.actor_account_id()},
                       {"assignee", t.assignee_account_id()},
                       {"ladder_step", t.ladder_step()},
                       {"time", FormatTime(t.at_ms())}});
  }
  return {{"intake_id", i.intake_id()},
          {"state", StateWord(i.state())},
          {"caller", Word(v1::CallerKind_Name(i.caller_kind()), "CALLER_KIND_")},
          {"urgency", Word(v1::IntakeUrgency_Name(i.urgency()), "INTAKE_URGENCY_")},
          {"category", Word(v1::IntakeCategory_Name(i.category()), "INTAKE_CATEGORY_")},
          {"source", Word(v1::IntakeSource_Name(i.source()), "INTAKE_SOURCE_")},
          {"team", i.team_id()},
          {"assignee", i.assignee_account_id()},
          {"assignee_name", i.assignee_name()},
          {"routed_for", i.routed_for_account_id()},
          {"pool_region", i.pool_region()},
          {"pool", i.pool_account_ids()},
          {"deadline", i.deadline_ms() ? FormatTime(i.deadline_ms()) : ""},
          {"overdue", i.overdue()},
          {"escalation_step", i.escalation_step()},
          {"history", history}};
}

std::string IntakeLine(const v1::Intake& i) {
  std::string who =
      i.assignee_account_id().empty()
          ? (i.pool_region().empty() ? "" : " offered to the pool of " + i.pool_region())
          : " with " +
                (i.assignee_name().empty() ? Short(i.assignee_account_id()) : i.assignee_name());
  if (!i.routed_for_account_id().empty()) {
    absl::StrAppend(&who, " (standing in for ", Short(i.routed_for_account_id()), ")");
  }
  return absl::StrCat(i.intake_id(), "  ", StateWord(i.state()), "  ",
                      Word(v1::IntakeUrgency_Name(i.urgency()), "INTAKE_URGENCY_"), "  ",
                      Word(v1::IntakeCategory_Name(i.category()), "INTAKE_CATEGORY_"), "  from ",
                      Word(v1::CallerKind_Name(i.caller_kind()), "CALLER_KIND_"), " (",
                      Word(v1::IntakeSource_Name(i.source()), "INTAKE_SOURCE_"), ")", who,
                      i.deadline_ms() ? "  due " + FormatTime(i.deadline_ms()) : "",
                      i.overdue() ? "  OVERDUE" : "");
}

IntakeCommands::IntakeCommands(CLI::App* app, CLI::App* message) {
  intake_ = app->add_subcommand("intake", "Helpdesk intakes: log a call, route it, follow it");
  intake_->require_subcommand(1);
  intake_->footer(
      "Example:\n  carerelay intake open --caller patient --urgency normal --category "
      "access-to-care\n  carerelay intake list --overdue");
  open_ = intake_->add_subcommand("open", "Log a call (helpdesk accounts)");
  open_->add_option("--caller", o_.caller, "patient, caregiver, professional or other")->required();
  open_->add_option("--urgency", o_.urgency, "low, normal or high")->required();
  open_
      ->add_option("--category", o_.category,
                   "access-to-care, administrative, hospital-discharge, coordination-request or "
                   "alert")
      ->required();
  open_->add_flag("--voicemail", o_.voicemail, "The call came from the voicemail (default: live)");
  open_->add_option("--team", o_.team, "The patient's team, if found (carerelay team find)");
  open_->add_option("--notes", o_.notes,
                    "What the caller said: end-to-end encrypted to the helpdesk staff");
  open_->footer(
      "Example:\n  carerelay intake open --caller caregiver --urgency high --category "
      "hospital-discharge \\\n      --voicemail --team 5f0c1a2b --notes \"Mother discharged "
      "today, no nurse visit planned\"");

  route_ = intake_->add_subcommand("route", "Route (or reassign) an intake (helpdesk accounts)");
  route_->add_option("id", o_.id, "Intake id")->required();
  route_->add_flag("--coordinator", o_.coordinator, "To the coordinator of the intake's team");
  route_->add_option("--to", o_.to, "To this professional's account");
  route_->add_option("--pool", o_.pool, "To the case-manager pool of this region");
  route_->add_option("--team", o_.team, "With --coordinator: the team, if the intake has none");
  route_->add_option("--notes", o_.notes,
                     "Notes for the assignee, end-to-end encrypted to them and the helpdesk");
  route_->footer(
      "Examples:\n  carerelay intake route 9c1d... --coordinator\n"
      "  carerelay intake route 9c1d... --pool Bruxelles --notes \"Needs a case manager\"");
  accept_ = intake_->add_subcommand("accept", "Take an intake routed to you (or your pool)");
  accept_->add_option("id", o_.id, "Intake id")->required();
  accept_->footer("Example:\n  carerelay intake accept 9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f");
  resolve_ = intake_->add_subcommand("resolve", "Close an accepted intake as resolved");
  resolve_->add_option("id", o_.id, "Intake id")->required();
  resolve_->footer("Example:\n  carerelay intake resolve 9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f");
  cancel_ = intake_->add_subcommand("cancel", "Close an open intake unresolved (helpdesk)");
  cancel_->add_option("id", o_.id, "Intake id")->required();
  cancel_->footer("Example:\n  carerelay intake cancel 9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f");
  show_ = intake_->add_subcommand("show", "Show an intake and its history");
  show_->add_option("id", o_.id, "Intake id")->required();
  show_->footer("Example:\n  carerelay intake show 9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f");
  list_ = intake_->add_subcommand("list", "List open intakes");
  list_->add_flag("--mine", o_.mine, "Only those routed or offered to me");
  list_->add_flag("--overdue", o_.overdue, "Only those past their deadline");
  list_->add_flag("--all", o_.all, "Closed ones too");
  list_->footer("Examples:\n  carerelay intake list\n  carerelay intake list --overdue");

  ack_ = message->add_subcommand("ack", "Acknowledge an urgent message");
  ack_->add_option("id", o_.id, "The urgent message id, or the envelope id it came in")->required();
  ack_->footer("Example:\n  carerelay message ack 00000000000000a3   (shortcut: carerelay ack)");
  acks_ = message->add_subcommand("acks", "Who has acknowledged an urgent message you sent");
  acks_->add_option("message", o_.id, "The urgent message id (printed by send --urgent)")
      ->required();
  acks_->footer("Example:\n  carerelay message acks 00000000000000a3   (shortcut: carerelay acks)");
}

bool IntakeCommands::parsed() const {
  return intake_->parsed() || ack_->parsed() || acks_->parsed();
}

int IntakeCommands::Run(Profile& p, const Globals& g) {
  if (ack_->parsed()) return Ack(p, g);
  if (acks_->parsed()) return Acks(p, g);
  if (open_->parsed()) return Open(p, g);
  if (route_->parsed()) return Route(p, g);
  if (list_->parsed()) return List(p, g);
  absl::StatusOr<v1::Intake> r;
  std::string done;
  if (accept_->parsed()) {
    r = p.relay().AcceptIntake(o_.id);
    done = "accepted: it is yours now";
  } else if (resolve_->parsed()) {
    r = p.relay().ResolveIntake(o_.id);
    done = "resolved";
  } else if (cancel_->parsed()) {
    r = p.relay().CancelIntake(o_.id);
    done = "cancelled";
  } else if (show_->parsed()) {
    r = p.relay().GetIntake(o_.id);
  } else {
    return kExitUsage;
  }
  if (!r.ok()) return Fail(r.status(), g);
  if (show_->parsed() && !g.json) {
    std::cout << IntakeLine(*r) << "\n";
    for (const auto& t : r->history()) {
      std::cout << "  " << FormatTime(t.at_ms()) << "  "
                << Word(v1::IntakeTransition::Kind_Name(t.kind()), "KIND_")
                << (t.ladder_step() ? " step " + std::to_string(t.ladder_step()) : "")
                << (t.actor_account_id().empty() ? " (deadline)"
                                                 : " by " + Short(t.actor_account_id()))
                << (t.assignee_account_id().empty() ? "" : " -> " + Short(t.assignee_account_id()))
                << "\n";
    }
    return kExitOk;
  }
  Print(g, IntakeJson(*r), done.empty() ? IntakeLine(*r) : "intake " + Short(o_.id) + " " + done);
  return kExitOk;
}

int IntakeCommands::Open(Profile& p, const Globals& g) {
  v1::OpenIntakeRequest r;
  v1::CallerKind caller;
  v1::IntakeUrgency urgency;
  v1::IntakeCategory category;
  if (!ParseWord(o_.caller, "CALLER_KIND_", &v1::CallerKind_Parse, &caller)) {
    return UsageError("--caller takes patient, caregiver, professional or other", g);
  }
  if (!ParseWord(o_.urgency, "INTAKE_URGENCY_", &v1::IntakeUrgency_Parse, &urgency)) {
    return UsageError("--urgency takes low, normal or high", g);
  }
  if (!ParseWord(o_.category, "INTAKE_CATEGORY_", &v1::IntakeCategory_Parse, &category)) {
    return UsageError(
        "--category takes access-to-care, administrative, hospital-discharge, "
        "coordination-request or alert",
        g);
  }
  r.set_caller_kind(caller);
  r.set_urgency(urgency);
  r.set_category(category);
  r.set_source(o_.voicemail ? v1::INTAKE_SOURCE_VOICEMAIL : v1::INTAKE_SOURCE_LIVE);
  r.set_team_id(o_.team);
  auto intake = p.relay().OpenIntake(r);
  if (!intake.ok()) return Fail(intake.status(), g);
  nlohmann::json j = IntakeJson(*intake);
  std::string human = "intake " + intake->intake_id() + " opened (new)";
  if (!o_.notes.empty()) {
    auto notes = p.messenger().SendIntakeNotes(*intake, o_.notes);
    if (!notes.ok()) return Fail(notes.status(), g);
    j["notes_message_id"] = *notes;
    absl::StrAppend(&human, "; notes sent end-to-end encrypted to the helpdesk staff");
  }
  Print(g, j, human);
  return kExitOk;
}

int IntakeCommands::Route(Profile& p, const Globals& g) {
  v1::RouteIntakeRequest r;
  r.set_intake_id(o_.id);
  int targets = o_.coordinator + !o_.to.empty() + !o_.pool.empty();
  if (targets != 1) {
    return UsageError("route to one of: --coordinator, --to ACCOUNT or --pool REGION", g);
  }
  if (o_.coordinator) {
    r.set_route_kind(v1::ROUTE_KIND_TEAM_COORDINATOR);
    r.set_team_id(o_.team);
  } else if (!o_.to.empty()) {
    r.set_route_kind(v1::ROUTE_KIND_PROFESSIONAL);
    r.set_account_id(o_.to);
  } else {
    r.set_route_kind(v1::ROUTE_KIND_CASE_MANAGER_POOL);
    r.set_region(o_.pool);
  }
  auto intake = p.relay().RouteIntake(r);
  if (!intake.ok()) return Fail(intake.status(), g);
  nlohmann::json j = IntakeJson(*intake);
  std::string human = "intake " + Short(intake->intake_id()) +
                      " routed:" + IntakeLine(*intake).substr(intake->intake_id().size());
  if (!o_.notes.empty()) {
    auto notes = p.messenger().SendIntakeNotes(*intake, o_.notes);
    if (!notes.ok()) return Fail(notes.status(), g);
    j["notes_message_id"] = *notes;
    absl::StrAppend(&human, "\nnotes sent end-to-end encrypted");
  }
  Print(g, j, human);
  return kExitOk;
}

int IntakeCommands::List(Profile& p, const Globals& g) {
  if (o_.mine + o_.overdue + o_.all > 1) {
    return UsageError("choose one of --mine, --overdue and --all", g);
  }
  auto filter = o_.mine      ? v1::ListIntakesRequest::FILTER_MINE
                : o_.overdue ? v1::ListIntakesRequest::FILTER_OVERDUE
                : o_.all     ? v1::ListIntakesRequest::FILTER_ALL
                             : v1::ListIntakesRequest::FILTER_OPEN;
  auto list = p.relay().ListIntakes(filter);
  if (!list.ok()) return Fail(list.status(), g);
  for (const auto& i : *list) {
    if (g.json) {
      std::cout << IntakeJson(i).dump() << "\n";
    } else {
      std::cout << IntakeLine(i) << "\n";
    }
  }
  if (list->empty() && !g.json) std::cout << "no intakes\n";
  return kExitOk;
}

nlohmann::json UrgentStatusJson(const v1::UrgentMessageStatus& status) {
  nlohmann::json recipients = nlohmann::json::array();
  for (const auto& a : status.recipients()) {
    recipients.push_back({{"account_id", a.account_id()},
                          {"name", a.name()},
                          {"acknowledged", a.acknowledged()},
                          {"at", a.acknowledged() ? FormatTime(a.acknowledged_at_ms()) : ""},
                          {"substitute", a.substitute_account_id()},
                          {"reminders", a.reminders()}});
  }
  return {{"message_id", status.message_id()},
          {"team", status.team_id()},
          {"escalated", status.escalated()},
          {"recipients", recipients}};
}

int IntakeCommands::Ack(Profile& p, const Globals& g) {
  auto r = p.relay().AcknowledgeUrgent(o_.id);
  if (!r.ok()) return Fail(r.status(), g);
  Print(g,
        {{"message_id", r->message_id()},
         {"acknowledged", FormatTime(r->acknowledged_at_ms())},
         {"already", r->already_acknowledged()}},
        r->already_acknowledged()
            ? "urgent message " + r->message_id() + " was already acknowledged"
            : "urgent message " + r->message_id() + " acknowledged; the sender is told");
  return kExitOk;
}

int IntakeCommands::Acks(Profile& p, const Globals& g) {
  auto r = p.relay().ListAcknowledgements(o_.id);
  if (!r.ok()) return Fail(r.status(), g);
  if (g.json) {
    std::cout << UrgentStatusJson(*r).dump() << "\n";
    return kExitOk;
  }
  int done = 0;
  for (const auto& a : r->recipients()) done += a.acknowledged();
  std::cout << "urgent message " << r->message_id() << ": " << done << " of "
            << r->recipients_size() << " acknowledged"
            << (r->escalated() ? ", ESCALATED " + FormatTime(r->escalated_at_ms()) : "") << "\n";
  for (const auto& a : r->recipients()) {
    std::cout << "  " << (a.acknowledged() ? "[x] " : "[ ] ")
              << (a.name().empty() ? Short(a.account_id()) : a.name()) << " ("
              << Short(a.account_id()) << ")"
              << (a.acknowledged() ? " at " + FormatTime(a.acknowledged_at_ms()) : "")
              << (a.substitute_name().empty() ? "" : "  absent, substitute " + a.substitute_name())
              << (a.reminders() ? "  reminded " + std::to_string(a.reminders()) + "x" : "") << "\n";
  }
  return kExitOk;
}

}  // namespace carerelay::cli
