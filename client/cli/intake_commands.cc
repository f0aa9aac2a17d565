#include "client/cli/intake_commands.h"

#include <algorithm>
#include <iostream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "client/cli/catalog.h"
#include "client/cli/directory_commands.h"
#include "client/cli/help_text.h"
#include "client/cli/team_commands.h"
#include "text/latin_folding.h"

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

// The words a person reads for the small fixed sets, in the current language
// (--json keeps the English words above). A value this version does not know
// shows as its English word.
std::string StateText(v1::IntakeState s) {
  switch (s) {
    case v1::INTAKE_STATE_NEW:
      return Tr("intake.state_new");
    case v1::INTAKE_STATE_ROUTED:
      return Tr("intake.state_routed");
    case v1::INTAKE_STATE_ACCEPTED:
      return Tr("intake.state_accepted");
    case v1::INTAKE_STATE_RESOLVED:
      return Tr("intake.state_resolved");
    case v1::INTAKE_STATE_CANCELLED:
      return Tr("intake.state_cancelled");
    case v1::INTAKE_STATE_CASE_MANAGEMENT:
      return Tr("intake.state_case_management");
    default:
      return StateWord(s);
  }
}

std::string UrgencyText(v1::IntakeUrgency u) {
  switch (u) {
    case v1::INTAKE_URGENCY_LOW:
      return Tr("intake.urgency_low");
    case v1::INTAKE_URGENCY_NORMAL:
      return Tr("intake.urgency_normal");
    case v1::INTAKE_URGENCY_HIGH:
      return Tr("intake.urgency_high");
    default:
      return Word(v1::IntakeUrgency_Name(u), "INTAKE_URGENCY_");
  }
}

std::string CategoryText(v1::IntakeCategory c) {
  switch (c) {
    case v1::INTAKE_CATEGORY_ACCESS_TO_CARE:
      return Tr("intake.category_access_to_care");
    case v1::INTAKE_CATEGORY_ADMINISTRATIVE:
      return Tr("intake.category_administrative");
    case v1::INTAKE_CATEGORY_HOSPITAL_DISCHARGE:
      return Tr("intake.category_hospital_discharge");
    case v1::INTAKE_CATEGORY_COORDINATION_REQUEST:
      return Tr("intake.category_coordination_request");
    case v1::INTAKE_CATEGORY_ALERT:
      return Tr("intake.category_alert");
    default:
      return Word(v1::IntakeCategory_Name(c), "INTAKE_CATEGORY_");
  }
}

std::string CallerText(v1::CallerKind k) {
  switch (k) {
    case v1::CALLER_KIND_PATIENT:
      return Tr("intake.caller_patient");
    case v1::CALLER_KIND_CAREGIVER:
      return Tr("intake.caller_caregiver");
    case v1::CALLER_KIND_PROFESSIONAL:
      return Tr("intake.caller_professional");
    case v1::CALLER_KIND_OTHER:
      return Tr("intake.caller_other");
    default:
      return Word(v1::CallerKind_Name(k), "CALLER_KIND_");
  }
}

std::string SourceText(v1::IntakeSource s) {
  switch (s) {
    case v1::INTAKE_SOURCE_LIVE:
      return Tr("intake.source_live");
    case v1::INTAKE_SOURCE_VOICEMAIL:
      return Tr("intake.source_voicemail");
    default:
      return Word(v1::IntakeSource_Name(s), "INTAKE_SOURCE_");
  }
}

// What happened in one history entry: "opened", "routed", ...
std::string TransitionText(v1::IntakeTransition::Kind k) {
  using T = v1::IntakeTransition;
  switch (k) {
    case T::KIND_OPENED:
      return Tr("intake.history_opened");
    case T::KIND_ROUTED:
      return Tr("intake.history_routed");
    case T::KIND_REASSIGNED:
      return Tr("intake.history_reassigned");
    case T::KIND_ACCEPTED:
      return Tr("intake.history_accepted");
    case T::KIND_RESOLVED:
      return Tr("intake.history_resolved");
    case T::KIND_CANCELLED:
      return Tr("intake.history_cancelled");
    case T::KIND_ESCALATED:
      return Tr("intake.history_escalated");
    case T::KIND_NOT_FITTING:
      return Tr("intake.history_not_fitting");
    case T::KIND_NOMINATED:
      return Tr("intake.history_nominated");
    case T::KIND_URGENT_START:
      return Tr("intake.history_urgent_start");
    case T::KIND_EVALUATION_REMINDER:
      return Tr("intake.history_evaluation_reminder");
    case T::KIND_EXTENDED:
      return Tr("intake.history_extended");
    case T::KIND_ENDED:
      return Tr("intake.history_ended");
    case T::KIND_ANSWERED:
      return Tr("intake.history_answered");
    case T::KIND_ORIENTED:
      return Tr("intake.history_oriented");
    case T::KIND_CALLBACK_PROMISED:
      return Tr("intake.history_callback_promised");
    default:
      return Word(T::Kind_Name(k), "KIND_");
  }
}

// A person's name when the server gave one, else the short id.
std::string NameOr(const std::string& name, const std::string& account_id) {
  return name.empty() ? Short(account_id) : name;
}

// One line of `intake show`'s history:
// "  2026-03-14 09:30  accepted by Anne Peeters -> Anne Peeters".
std::string HistoryLine(const v1::IntakeTransition& t) {
  std::string line = absl::StrCat("  ", FormatTime(t.at_ms()), "  ", TransitionText(t.kind()));
  if (t.ladder_step()) {
    absl::StrAppend(&line, " ",
                    Tr("intake.history_step", {{"step", std::to_string(t.ladder_step())}}));
  }
  absl::StrAppend(
      &line, " ",
      t.actor_account_id().empty()
          ? Tr("intake.history_deadline")
          : Tr("intake.history_by", {{"name", NameOr(t.actor_name(), t.actor_account_id())}}));
  if (!t.assignee_account_id().empty()) {
    absl::StrAppend(&line, " -> ", NameOr(t.assignee_name(), t.assignee_account_id()));
  }
  if (t.evaluation_due_ms()) {
    absl::StrAppend(&line, "  ",
                    Tr("intake.history_evaluation", {{"time", FormatTime(t.evaluation_due_ms())}}));
  }
  if (t.callback_at_ms()) {
    absl::StrAppend(&line, "  ",
                    Tr("intake.history_callback", {{"time", FormatTime(t.callback_at_ms())}}));
  }
  if (!t.resources().empty()) {
    absl::StrAppend(
        &line, "  ",
        Tr("intake.history_resources", {{"resources", absl::StrJoin(t.resources(), ", ")}}));
  }
  if (!t.reason().empty()) absl::StrAppend(&line, "  \"", t.reason(), "\"");
  return line;
}

}  // namespace

std::string AlertKindName(v1::Alert::Kind kind) {
  return absl::AsciiStrToLower(absl::StripPrefix(v1::Alert::Kind_Name(kind), "KIND_"));
}

std::string DescribeAlert(const v1::Alert& a, const std::string& self_account,
                          const std::string& name) {
  // Filled into the texts below right after "...to you" or "...acknowledged".
  const std::string behalf =
      a.on_behalf_of_account_id().empty()
          ? ""
          : " " + Tr("alert.behalf", {{"name", Short(a.on_behalf_of_account_id())}});
  const std::string sender = Short(a.message_sender().account_id());
  const std::string intake = Short(a.intake_id());
  switch (a.kind()) {
    case v1::Alert::KIND_URGENT_REMINDER:
      return Tr("alert.urgent_reminder", {{"reminder", std::to_string(a.reminder())},
                                          {"message", a.message_id()},
                                          {"sender", sender},
                                          {"behalf", behalf}});
    case v1::Alert::KIND_URGENT_ESCALATED: {
      std::vector<std::string> who;
      for (const auto& id : a.unacknowledged_account_ids()) who.push_back(Short(id));
      return Tr(
          "alert.urgent_escalated",
          {{"message", a.message_id()}, {"sender", sender}, {"who", absl::StrJoin(who, ", ")}});
    }
    case v1::Alert::KIND_URGENT_ACKNOWLEDGED:
      return Tr("alert.urgent_acknowledged",
                {{"message", a.message_id()}, {"who", Short(a.subject_account_id())}});
    case v1::Alert::KIND_INTAKE_ASSIGNED:
      return Tr("alert.intake_assigned", {{"intake", intake},
                                          {"urgency", UrgencyText(a.intake_urgency())},
                                          {"behalf", behalf},
                                          {"id", a.intake_id()}});
    case v1::Alert::KIND_INTAKE_REMINDER:
      return Tr("alert.intake_reminder", {{"intake", intake},
                                          {"state", StateText(a.intake_state())},
                                          {"behalf", behalf},
                                          {"id", a.intake_id()}});
    case v1::Alert::KIND_INTAKE_ESCALATED:
      return Tr("alert.intake_escalated", {{"intake", intake},
                                           {"step", std::to_string(a.ladder_step())},
                                           {"state", StateText(a.intake_state())},
                                           {"behalf", behalf}});
    case v1::Alert::KIND_INTAKE_TAKEN:
      return Tr("alert.intake_taken", {{"intake", intake}, {"who", Short(a.subject_account_id())}});
    case v1::Alert::KIND_INTAKE_UPDATED:
      return Tr("alert.intake_updated", {{"intake", intake},
                                         {"state", StateText(a.intake_state())},
                                         {"who", Short(a.subject_account_id())}});
    case v1::Alert::KIND_INTAKE_WITHDRAWN:
      return Tr("alert.intake_withdrawn",
                {{"intake", intake}, {"state", StateText(a.intake_state())}});
    case v1::Alert::KIND_CASE_MANAGER_NAMED:
      return Tr(a.assignee_account_id() == self_account ? "alert.case_manager_named"
                                                        : "alert.case_management_started",
                {{"intake", intake},
                 {"id", a.intake_id()},
                 {"who", Short(a.assignee_account_id())},
                 {"time", FormatTime(a.evaluation_due_ms())}});
    case v1::Alert::KIND_EVALUATION_DUE:
      return Tr(
          "alert.evaluation_due",
          {{"intake", intake}, {"id", a.intake_id()}, {"time", FormatTime(a.evaluation_due_ms())}});
    case v1::Alert::KIND_DEVICE_ADDED: {
      const std::string device = std::to_string(a.new_device().device_id());
      if (!self_account.empty() && a.subject_account_id() == self_account) {
        return Tr("account.device_added_own", {{"device", device}, {"name", a.device_name()}});
      }
      return Tr("account.device_added",
                {{"who", name.empty() ? Short(a.subject_account_id()) : name},
                 {"device", device},
                 {"account", a.subject_account_id()}});
    }
    default:
      return Tr("alert.unknown");
  }
}

nlohmann::json IntakeJson(const v1::Intake& i) {
  nlohmann::json history = nlohmann::json::array();
  for (const auto& t : i.history()) {
    history.push_back(
        {{"kind", Word(v1::IntakeTransition::Kind_Name(t.kind()), "KIND_")},
         {"state", StateWord(t.state())},
         {"actor", t.actor_account_id()},
         {"actor_name", t.actor_name()},
         {"assignee", t.assignee_account_id()},
         {"assignee_name", t.assignee_name()},
         {"ladder_step", t.ladder_step()},
         {"reason", t.reason()},
         {"resources", t.resources()},
         {"callback_at", t.callback_at_ms() ? FormatTime(t.callback_at_ms()) : ""},
         {"evaluation_due", t.evaluation_due_ms() ? FormatTime(t.evaluation_due_ms()) : ""},
         {"time", FormatTime(t.at_ms())}});
  }
  nlohmann::json case_management = nullptr;
  if (i.has_case_management()) {
    const v1::CaseManagement& cm = i.case_management();
    case_management = {{"assessor", cm.assessor_account_id()},
                       {"urgent_start", cm.urgent_start()},
                       {"started", FormatTime(cm.started_at_ms())},
                       {"period_started", FormatTime(cm.period_started_at_ms())},
                       {"evaluation_due", FormatTime(cm.evaluation_due_ms())},
                       {"periods", cm.periods()},
                       {"ended", cm.ended_at_ms() ? FormatTime(cm.ended_at_ms()) : ""}};
  }
  return {
      {"intake_id", i.intake_id()},
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
      {"case_management", case_management},
      {"outcome", i.outcome() ? Word(v1::IntakeOutcome_Name(i.outcome()), "INTAKE_OUTCOME_") : ""},
      {"orientation", i.orientation()},
      {"callback_at", i.callback_at_ms() ? FormatTime(i.callback_at_ms()) : ""},
      {"history", history}};
}

std::string IntakeLine(const v1::Intake& i) {
  std::string line = absl::StrCat(
      i.intake_id(), "  ", StateText(i.state()), "  ",
      Tr("intake.line_urgency", {{"urgency", UrgencyText(i.urgency())}}), "  ",
      CategoryText(i.category()), "  ",
      Tr("intake.line_from",
         {{"caller", CallerText(i.caller_kind())}, {"source", SourceText(i.source())}}));
  if (!i.assignee_account_id().empty()) {
    absl::StrAppend(
        &line, " ",
        Tr("intake.line_with", {{"name", NameOr(i.assignee_name(), i.assignee_account_id())}}));
  } else if (!i.pool_region().empty()) {
    absl::StrAppend(&line, " ", Tr("intake.line_pool", {{"region", i.pool_region()}}));
  }
  if (!i.routed_for_account_id().empty()) {
    absl::StrAppend(&line, " ",
                    Tr("intake.line_standing_in", {{"name", Short(i.routed_for_account_id())}}));
  }
  if (i.state() == v1::INTAKE_STATE_CASE_MANAGEMENT) {
    absl::StrAppend(
        &line, "  ",
        Tr("intake.line_evaluation", {{"time", FormatTime(i.case_management().evaluation_due_ms())},
                                      {"period", std::to_string(i.case_management().periods())}}));
    if (i.case_management().assessor_account_id().empty()) {
      absl::StrAppend(&line, "  ", Tr("intake.line_urgent_start"));
    }
  } else if (i.state() == v1::INTAKE_STATE_NEW && i.callback_at_ms()) {
    absl::StrAppend(&line, "  ",
                    Tr("intake.line_callback", {{"time", FormatTime(i.callback_at_ms())}}));
  } else if (i.deadline_ms()) {
    absl::StrAppend(&line, "  ", Tr("intake.line_due", {{"time", FormatTime(i.deadline_ms())}}));
  }
  if (i.outcome() == v1::INTAKE_OUTCOME_ANSWERED || i.outcome() == v1::INTAKE_OUTCOME_ORIENTED) {
    absl::StrAppend(&line, "  ",
                    Tr(i.outcome() == v1::INTAKE_OUTCOME_ANSWERED ? "intake.line_answered"
                                                                  : "intake.line_oriented"));
    if (!i.orientation().empty()) {
      absl::StrAppend(&line, " (", absl::StrJoin(i.orientation(), ", "), ")");
    }
  }
  if (i.overdue()) absl::StrAppend(&line, "  ", Tr("intake.line_overdue"));
  return line;
}

IntakeCommands::IntakeCommands(CLI::App* app, CLI::App* message) {
  intake_ = app->add_subcommand("intake", Tr("help.intake"));
  intake_->require_subcommand(1);
  intake_->footer(HelpExamples(
      "  carerelay intake open --caller patient --urgency normal --category access-to-care\n"
      "  carerelay intake list --overdue"));
  open_ = intake_->add_subcommand("open", Tr("help.intake.open"));
  open_->add_option("--caller", o_.caller, Tr("help.intake.open.caller"))->required();
  open_->add_option("--urgency", o_.urgency, Tr("help.intake.open.urgency"))->required();
  open_->add_option("--category", o_.category, Tr("help.intake.open.category"))->required();
  open_->add_flag("--voicemail", o_.voicemail, Tr("help.intake.open.voicemail"));
  open_->add_option("--team", o_.team, Tr("help.intake.open.team"));
  open_->add_option("--notes", o_.notes, Tr("help.intake.open.notes"));
  open_->footer(HelpExamples(
      "  carerelay intake open --caller caregiver --urgency high --category hospital-discharge \\\n"
      "      --voicemail --team 5f0c1a2b --notes \"Mother discharged today, no nurse visit "
      "planned\""));

  route_ = intake_->add_subcommand("route", Tr("help.intake.route"));
  route_->add_option("id", o_.id, Tr("help.intake.route.id"))->required();
  route_->add_flag("--coordinator", o_.coordinator, Tr("help.intake.route.coordinator"));
  route_->add_option("--to", o_.to, Tr("help.intake.route.to"));
  route_->add_option("--pool", o_.pool, Tr("help.intake.route.pool"));
  route_->add_option("--assessor", o_.assessor, Tr("help.intake.route.assessor"));
  route_->add_option("--team", o_.team, Tr("help.intake.route.team"));
  route_->add_option("--notes", o_.notes, Tr("help.intake.route.notes"));
  route_->footer(HelpExamples(
      "  carerelay intake route 9c1d... --coordinator\n"
      "  carerelay intake route 9c1d... --assessor 5b7e... --notes \"Lives alone, three admissions "
      "since May\"\n"
      "  carerelay intake route 9c1d... --pool Bruxelles --notes \"Needs a case manager today\""));
  accept_ = intake_->add_subcommand("accept", Tr("help.intake.accept"));
  accept_->add_option("id", o_.id, Tr("help.intake.accept.id"))->required();
  accept_->footer(HelpExamples("  carerelay intake accept 9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"));
  resolve_ = intake_->add_subcommand("resolve", Tr("help.intake.resolve"));
  resolve_->add_option("id", o_.id, Tr("help.intake.resolve.id"))->required();
  resolve_->footer(HelpExamples("  carerelay intake resolve 9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"));
  cancel_ = intake_->add_subcommand("cancel", Tr("help.intake.cancel"));
  cancel_->add_option("id", o_.id, Tr("help.intake.cancel.id"))->required();
  cancel_->footer(HelpExamples("  carerelay intake cancel 9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"));
  answer_ = intake_->add_subcommand("answer", Tr("help.intake.answer"));
  answer_->add_option("id", o_.id, Tr("help.intake.answer.id"))->required();
  answer_->add_flag("--oriented", o_.oriented, Tr("help.intake.answer.oriented"));
  answer_->add_option("--resource", o_.resources, Tr("help.intake.answer.resource"));
  answer_->footer(
      HelpExamples("  carerelay intake answer 9c1d... --resource \"home-care Ixelles\"\n"
                   "  carerelay intake answer 9c1d... --oriented --resource \"CPAS Ixelles\" "
                   "--resource \"day centre Le Relais\""));
  callback_ = intake_->add_subcommand("callback", Tr("help.intake.callback"));
  callback_->add_option("id", o_.id, Tr("help.intake.callback.id"))->required();
  callback_->add_option("--at", o_.at, Tr("help.intake.callback.at"))->required();
  callback_->footer(HelpExamples("  carerelay intake callback 9c1d... --at \"2026-03-16 10:00\""));
  report_ = intake_->add_subcommand("report", Tr("help.intake.report"));
  report_->add_option("--from", o_.from, Tr("help.intake.report.from"))->required();
  report_->add_option("--to", o_.to_time, Tr("help.intake.report.to"))->required();
  report_->add_flag("--csv", o_.csv, Tr("help.intake.report.csv"));
  report_->footer(
      HelpExamples("  carerelay intake report --from 2026-01-01 --to 2027-01-01 --csv"));
  assess_ = intake_->add_subcommand("assess", Tr("help.intake.assess"));
  assess_->add_option("id", o_.id, Tr("help.intake.assess.id"))->required();
  assess_->add_option("--nominate", o_.to, Tr("help.intake.assess.nominate"));
  assess_->add_flag("--not-fitting", o_.not_fitting, Tr("help.intake.assess.not_fitting"));
  assess_->add_option("--period-days", o_.period_days, Tr("help.intake.assess.period_days"));
  assess_->add_option("--reason", o_.reason, Tr("help.intake.assess.reason"))->required();
  assess_->add_option("--notes", o_.notes, Tr("help.intake.assess.notes"));
  assess_->footer(
      HelpExamples("  carerelay intake assess 9c1d... --nominate 7a3f... --period-days 60 --reason "
                   "\"Unstable situation, no coordination yet\"\n"
                   "  carerelay intake assess 9c1d... --not-fitting --reason \"The GP coordinates; "
                   "information given\""));
  evaluate_ = intake_->add_subcommand("evaluate", Tr("help.intake.evaluate"));
  evaluate_->add_option("id", o_.id, Tr("help.intake.evaluate.id"))->required();
  evaluate_->add_flag("--extend", o_.extend, Tr("help.intake.evaluate.extend"));
  evaluate_->add_flag("--end", o_.end, Tr("help.intake.evaluate.end"));
  evaluate_->add_option("--period-days", o_.period_days, Tr("help.intake.evaluate.period_days"));
  evaluate_->add_option("--reason", o_.reason, Tr("help.intake.evaluate.reason"))->required();
  evaluate_->footer(
      HelpExamples("  carerelay intake evaluate 9c1d... --extend --period-days 60 --reason "
                   "\"Coordination not yet in place\"\n"
                   "  carerelay intake evaluate 9c1d... --end --reason \"Situation stable; the GP "
                   "coordinates\""));
  show_ = intake_->add_subcommand("show", Tr("help.intake.show"));
  show_->add_option("id", o_.id, Tr("help.intake.show.id"))->required();
  show_->footer(HelpExamples("  carerelay intake show 9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"));
  list_ = intake_->add_subcommand("list", Tr("help.intake.list"));
  list_->add_flag("--mine", o_.mine, Tr("help.intake.list.mine"));
  list_->add_flag("--overdue", o_.overdue, Tr("help.intake.list.overdue"));
  list_->add_flag("--all", o_.all, Tr("help.intake.list.all"));
  list_->add_flag("--case-management", o_.case_management, Tr("help.intake.list.case_management"));
  list_->add_flag("--callbacks", o_.callbacks, Tr("help.intake.list.callbacks"));
  list_->footer(
      HelpExamples("  carerelay intake list\n"
                   "  carerelay intake list --overdue\n"
                   "  carerelay intake list --case-management\n"
                   "  carerelay intake list --callbacks"));

  ack_ = message->add_subcommand("ack", Tr("help.message.ack"));
  ack_->add_option("id", o_.id, Tr("help.message.ack.id"))->required();
  ack_->footer(HelpExamples("  carerelay message ack 00000000000000a3",
                            Tr("help.shortcut", {{"shortcut", "carerelay ack"}})));
  acks_ = message->add_subcommand("acks", Tr("help.message.acks"));
  acks_->add_option("message", o_.id, Tr("help.message.acks.message"))->required();
  acks_->footer(HelpExamples("  carerelay message acks 00000000000000a3",
                             Tr("help.shortcut", {{"shortcut", "carerelay acks"}})));
}

bool IntakeCommands::parsed() const {
  return intake_->parsed() || ack_->parsed() || acks_->parsed();
}

namespace {

bool IsResourceId(const std::string& text) {
  return text.size() == 32 && std::all_of(text.begin(), text.end(), [](char c) {
           return absl::ascii_isxdigit(static_cast<unsigned char>(c)) && !absl::ascii_isupper(c);
         });
}

// What an answer records for a resource the helpdesk names: its id in the
// map of resources when it is one (an id, or exactly one entry's name,
// accents and case aside), else the text as written. NOT_FOUND for an id
// the map does not have.
absl::StatusOr<std::string> ResourceReference(client::RelayClient& relay,
                                              const std::string& written) {
  if (IsResourceId(written)) {
    auto r = relay.GetResource(written);
    if (!r.ok()) return r.status();
    return written;
  }
  v1::SearchResourcesRequest search;
  search.set_need(written);
  search.set_limit(20);
  auto found = relay.SearchResources(search);
  if (!found.ok()) return found.status();
  std::vector<std::string> named;
  for (const v1::Resource& r : found->resources()) {
    if (text::FoldForSearch(r.name()) == text::FoldForSearch(written)) {
      named.push_back(r.resource_id());
    }
  }
  return named.size() == 1 ? named.front() : written;
}

// The intake as a person reads it: resource ids replaced by the names the
// map gives them (an id the map no longer has stays an id).
v1::Intake WithResourceNames(client::RelayClient& relay, v1::Intake intake) {
  std::map<std::string, std::string> names;
  auto name = [&](std::string* ref) {
    if (!IsResourceId(*ref)) return;
    auto [it, fresh] = names.try_emplace(*ref, *ref);
    if (fresh) {
      auto r = relay.GetResource(*ref);
      if (r.ok()) it->second = r->name();
    }
    *ref = it->second;
  };
  for (std::string& ref : *intake.mutable_orientation()) name(&ref);
  for (auto& t : *intake.mutable_history()) {
    for (std::string& ref : *t.mutable_resources()) name(&ref);
  }
  return intake;
}

}  // namespace

int IntakeCommands::Run(Profile& p, const Globals& g) {
  if (ack_->parsed()) return Ack(p, g);
  if (acks_->parsed()) return Acks(p, g);
  if (open_->parsed()) return Open(p, g);
  if (route_->parsed()) return Route(p, g);
  if (assess_->parsed()) return Assess(p, g);
  if (answer_->parsed()) return Answer(p, g);
  if (report_->parsed()) return Report(p, g);
  if (callback_->parsed()) return Callback(p, g);
  if (evaluate_->parsed()) return Evaluate(p, g);
  if (list_->parsed()) return List(p, g);
  absl::StatusOr<v1::Intake> r;
  std::string_view done;  // the catalog key of the confirmation
  if (accept_->parsed()) {
    r = p.relay().AcceptIntake(o_.id);
    done = "intake.accepted";
  } else if (resolve_->parsed()) {
    r = p.relay().ResolveIntake(o_.id);
    done = "intake.resolved";
  } else if (cancel_->parsed()) {
    r = p.relay().CancelIntake(o_.id);
    done = "intake.cancelled";
  } else if (show_->parsed()) {
    r = p.relay().GetIntake(o_.id);
  } else {
    return kExitUsage;
  }
  if (!r.ok()) return Fail(r.status(), g);
  if (show_->parsed() && !g.json) {
    const v1::Intake shown = WithResourceNames(p.relay(), *std::move(r));
    std::cout << IntakeLine(shown) << "\n";
    for (const auto& t : shown.history()) std::cout << HistoryLine(t) << "\n";
    return kExitOk;
  }
  Print(g, IntakeJson(*r), done.empty() ? IntakeLine(*r) : Tr(done, {{"id", Short(o_.id)}}));
  return kExitOk;
}

int IntakeCommands::Open(Profile& p, const Globals& g) {
  v1::OpenIntakeRequest r;
  v1::CallerKind caller;
  v1::IntakeUrgency urgency;
  v1::IntakeCategory category;
  if (!ParseWord(o_.caller, "CALLER_KIND_", &v1::CallerKind_Parse, &caller)) {
    return UsageError(Tr("intake.usage_caller"), g);
  }
  if (!ParseWord(o_.urgency, "INTAKE_URGENCY_", &v1::IntakeUrgency_Parse, &urgency)) {
    return UsageError(Tr("intake.usage_urgency"), g);
  }
  if (!ParseWord(o_.category, "INTAKE_CATEGORY_", &v1::IntakeCategory_Parse, &category)) {
    return UsageError(Tr("intake.usage_category"), g);
  }
  r.set_caller_kind(caller);
  r.set_urgency(urgency);
  r.set_category(category);
  r.set_source(o_.voicemail ? v1::INTAKE_SOURCE_VOICEMAIL : v1::INTAKE_SOURCE_LIVE);
  r.set_team_id(o_.team);
  auto intake = p.relay().OpenIntake(r);
  if (!intake.ok()) return Fail(intake.status(), g);
  nlohmann::json j = IntakeJson(*intake);
  std::string human = Tr("intake.opened", {{"id", intake->intake_id()}});
  if (!o_.notes.empty()) {
    auto notes = p.messenger().SendIntakeNotes(*intake, o_.notes);
    if (!notes.ok()) return Fail(notes.status(), g);
    j["notes_message_id"] = *notes;
    human = Tr("intake.opened_with_notes", {{"id", intake->intake_id()}});
  }
  Print(g, j, human);
  return kExitOk;
}

int IntakeCommands::Route(Profile& p, const Globals& g) {
  v1::RouteIntakeRequest r;
  r.set_intake_id(o_.id);
  int targets = o_.coordinator + !o_.to.empty() + !o_.pool.empty() + !o_.assessor.empty();
  if (targets != 1) {
    return UsageError(Tr("intake.usage_route"), g);
  }
  if (o_.coordinator) {
    r.set_route_kind(v1::ROUTE_KIND_TEAM_COORDINATOR);
    r.set_team_id(o_.team);
  } else if (!o_.to.empty()) {
    r.set_route_kind(v1::ROUTE_KIND_PROFESSIONAL);
    r.set_account_id(o_.to);
  } else if (!o_.assessor.empty()) {
    r.set_route_kind(v1::ROUTE_KIND_ASSESSOR);
    r.set_account_id(o_.assessor);
  } else {
    r.set_route_kind(v1::ROUTE_KIND_CASE_MANAGER_POOL);
    r.set_region(o_.pool);
  }
  auto intake = p.relay().RouteIntake(r);
  if (!intake.ok()) return Fail(intake.status(), g);
  nlohmann::json j = IntakeJson(*intake);
  // The intake's line without its id, which the text names (short).
  std::string human =
      Tr("intake.routed", {{"id", Short(intake->intake_id())},
                           {"line", IntakeLine(*intake).substr(intake->intake_id().size())}});
  absl::Status sent = SendNotes(p, *intake, &j, &human);
  if (!sent.ok()) return Fail(sent, g);
  Print(g, j, human);
  return kExitOk;
}

absl::Status IntakeCommands::SendNotes(Profile& p, const v1::Intake& intake, nlohmann::json* j,
                                       std::string* human) {
  if (o_.notes.empty()) return absl::OkStatus();
  auto notes = p.messenger().SendIntakeNotes(intake, o_.notes);
  if (!notes.ok()) return notes.status();
  (*j)["notes_message_id"] = *notes;
  absl::StrAppend(human, "\n", Tr("intake.notes_sent"));
  return absl::OkStatus();
}

int IntakeCommands::Report(Profile& p, const Globals& g) {
  auto from = ParseLocalTime(o_.from);
  if (!from.ok()) return UsageError(std::string(from.status().message()), g);
  auto to = ParseLocalTime(o_.to_time);
  if (!to.ok()) return UsageError(std::string(to.status().message()), g);
  auto report = p.relay().ReportIntakes(*from, *to);
  if (!report.ok()) return Fail(report.status(), g);
  const int64_t minute = 60 * 1000;
  if (g.json) {
    nlohmann::json counts = nlohmann::json::array(), durations = nlohmann::json::array();
    for (const auto& c : report->counts()) {
      counts.push_back({{"dimension", c.dimension()}, {"value", c.value()}, {"count", c.count()}});
    }
    for (const auto& d : report->durations()) {
      durations.push_back({{"measure", d.measure()},
                           {"count", d.count()},
                           {"median_minutes", d.median_ms() / minute},
                           {"p90_minutes", d.p90_ms() / minute}});
    }
    std::cout << DumpJson({{"from", FormatTime(report->from_ms())},
                           {"to", FormatTime(report->to_ms())},
                           {"intakes", report->intakes()},
                           {"counts", counts},
                           {"durations", durations}})
              << "\n";
  } else if (o_.csv) {
    std::cout << "dimension,value,count\n";
    std::cout << "all,intakes," << report->intakes() << "\n";
    for (const auto& c : report->counts()) {
      std::cout << c.dimension() << "," << c.value() << "," << c.count() << "\n";
    }
    std::cout << "\nmeasure,count,median_minutes,p90_minutes\n";
    for (const auto& d : report->durations()) {
      std::cout << d.measure() << "," << d.count() << "," << d.median_ms() / minute << ","
                << d.p90_ms() / minute << "\n";
    }
  } else {
    std::cout << Tr("intake.report_total", {{"count", std::to_string(report->intakes())},
                                            {"from", FormatTime(report->from_ms())},
                                            {"to", FormatTime(report->to_ms())}})
              << "\n";
    std::string dimension, line;
    auto flush = [&] {
      if (!dimension.empty()) std::cout << "  " << dimension << ":" << line << "\n";
      line.clear();
    };
    for (const auto& c : report->counts()) {
      if (c.dimension() != dimension) {
        flush();
        dimension = c.dimension();
      }
      absl::StrAppend(&line, " ", c.value(), " ", c.count());
    }
    flush();
    for (const auto& d : report->durations()) {
      std::cout << "  "
                << Tr(d.measure() == "closure" ? "intake.report_closure"
                                               : "intake.report_first_answer",
                      {{"count", std::to_string(d.count())},
                       {"median", std::to_string(d.median_ms() / minute)},
                       {"p90", std::to_string(d.p90_ms() / minute)}})
                << "\n";
    }
  }
  return kExitOk;
}

int IntakeCommands::Answer(Profile& p, const Globals& g) {
  v1::AnswerIntakeRequest r;
  r.set_intake_id(o_.id);
  r.set_oriented(o_.oriented);
  for (const auto& resource : o_.resources) {
    auto reference = ResourceReference(p.relay(), resource);
    if (!reference.ok()) return Fail(reference.status(), g);
    r.add_resources(*reference);
  }
  auto intake = p.relay().AnswerIntake(r);
  if (!intake.ok()) return Fail(intake.status(), g);
  Print(g, IntakeJson(*intake),
        Tr(o_.oriented ? "intake.oriented" : "intake.answered", {{"id", Short(o_.id)}}));
  return kExitOk;
}

int IntakeCommands::Callback(Profile& p, const Globals& g) {
  auto at = ParseLocalTime(o_.at);
  if (!at.ok()) return UsageError(std::string(at.status().message()), g);
  auto intake = p.relay().PromiseCallback(o_.id, *at);
  if (!intake.ok()) return Fail(intake.status(), g);
  Print(g, IntakeJson(*intake),
        Tr("intake.callback_promised", {{"id", Short(o_.id)}, {"time", FormatTime(*at)}}));
  return kExitOk;
}

int IntakeCommands::Assess(Profile& p, const Globals& g) {
  if (o_.to.empty() == !o_.not_fitting) return UsageError(Tr("intake.usage_assess"), g);
  v1::AssessIntakeRequest r;
  r.set_intake_id(o_.id);
  r.set_case_manager_account_id(o_.to);
  r.set_period_days(o_.period_days);
  r.set_reason(o_.reason);
  auto intake = p.relay().AssessIntake(r);
  if (!intake.ok()) return Fail(intake.status(), g);
  nlohmann::json j = IntakeJson(*intake);
  std::string human =
      o_.not_fitting ? Tr("intake.not_fitting", {{"id", Short(intake->intake_id())}})
                     : Tr("intake.nominated",
                          {{"id", Short(intake->intake_id())},
                           {"name", NameOr(intake->assignee_name(), intake->assignee_account_id())},
                           {"time", FormatTime(intake->case_management().evaluation_due_ms())}});
  if (!o_.not_fitting) {
    absl::Status sent = SendNotes(p, *intake, &j, &human);
    if (!sent.ok()) return Fail(sent, g);
  }
  Print(g, j, human);
  return kExitOk;
}

int IntakeCommands::Evaluate(Profile& p, const Globals& g) {
  if (o_.extend == o_.end || (o_.end && o_.period_days != 0)) {
    return UsageError(Tr("intake.usage_evaluate"), g);
  }
  using E = v1::EvaluateCaseManagementRequest;
  E r;
  r.set_intake_id(o_.id);
  r.set_decision(o_.extend ? E::DECISION_EXTEND : E::DECISION_END);
  r.set_period_days(o_.period_days);
  r.set_reason(o_.reason);
  auto intake = p.relay().EvaluateCaseManagement(r);
  if (!intake.ok()) return Fail(intake.status(), g);
  Print(g, IntakeJson(*intake),
        o_.extend ? Tr("intake.extended",
                       {{"id", Short(intake->intake_id())},
                        {"time", FormatTime(intake->case_management().evaluation_due_ms())}})
                  : Tr("intake.ended", {{"id", Short(intake->intake_id())}}));
  return kExitOk;
}

int IntakeCommands::List(Profile& p, const Globals& g) {
  if (o_.mine + o_.overdue + o_.all + o_.case_management + o_.callbacks > 1) {
    return UsageError(Tr("intake.usage_list"), g);
  }
  auto filter = o_.mine              ? v1::ListIntakesRequest::FILTER_MINE
                : o_.overdue         ? v1::ListIntakesRequest::FILTER_OVERDUE
                : o_.all             ? v1::ListIntakesRequest::FILTER_ALL
                : o_.case_management ? v1::ListIntakesRequest::FILTER_CASE_MANAGEMENT
                : o_.callbacks       ? v1::ListIntakesRequest::FILTER_CALLBACKS
                                     : v1::ListIntakesRequest::FILTER_OPEN;
  auto list = p.relay().ListIntakes(filter);
  if (!list.ok()) return Fail(list.status(), g);
  for (const auto& i : *list) {
    if (g.json) {
      std::cout << DumpJson(IntakeJson(i)) << "\n";
    } else {
      std::cout << IntakeLine(i) << "\n";
    }
  }
  if (list->empty() && !g.json) std::cout << Tr("intake.none") << "\n";
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
        Tr(r->already_acknowledged() ? "ack.already" : "ack.done", {{"message", r->message_id()}}));
  return kExitOk;
}

int IntakeCommands::Acks(Profile& p, const Globals& g) {
  auto r = p.relay().ListAcknowledgements(o_.id);
  if (!r.ok()) return Fail(r.status(), g);
  if (g.json) {
    std::cout << DumpJson(UrgentStatusJson(*r)) << "\n";
    return kExitOk;
  }
  int done = 0;
  for (const auto& a : r->recipients()) done += a.acknowledged();
  std::cout << Tr(r->escalated() ? "ack.summary_escalated" : "ack.summary",
                  {{"message", r->message_id()},
                   {"done", std::to_string(done)},
                   {"total", std::to_string(r->recipients_size())},
                   {"time", FormatTime(r->escalated_at_ms())}})
            << "\n";
  for (const auto& a : r->recipients()) {
    std::cout << "  " << (a.acknowledged() ? "[x] " : "[ ] ") << NameOr(a.name(), a.account_id())
              << " (" << Short(a.account_id()) << ")"
              << (a.acknowledged()
                      ? " " + Tr("ack.at", {{"time", FormatTime(a.acknowledged_at_ms())}})
                      : "")
              << (a.substitute_name().empty()
                      ? ""
                      : "  " + Tr("ack.substitute", {{"name", a.substitute_name()}}))
              << (a.reminders()
                      ? "  " + Tr("ack.reminded", {{"count", std::to_string(a.reminders())}})
                      : "")
              << "\n";
  }
  return kExitOk;
}

}  // namespace carerelay::cli
