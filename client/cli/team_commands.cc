#include "client/cli/team_commands.h"

#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "client/audit_chain.h"
#include "client/blind_index.h"
#include "client/cli/catalog.h"
#include "client/cli/help_text.h"
#include "client/cli/history_commands.h"
#include "client/team_view.h"

namespace carerelay::cli {
namespace {

using client::ChannelName;
using client::FindMember;
using client::RoleName;

constexpr size_t kIdSize = 32;
constexpr size_t kMinPrefix = 8;
constexpr v1::Channel kChannels[] = {v1::CHANNEL_TEAM, v1::CHANNEL_CARE, v1::CHANNEL_CLINICAL,
                                     v1::CHANNEL_INTAKE};

std::string YesNo(bool b) { return Tr(b ? "team.yes" : "team.no"); }

void StripPrefix(std::string* s, absl::string_view prefix) {
  if (absl::StartsWith(*s, prefix)) s->erase(0, prefix.size());
}

absl::StatusOr<bool> ParseYesNo(const std::string& flag, const std::string& value) {
  const std::string v = absl::AsciiStrToLower(value);
  if (v == "yes" || v == "y" || v == "true") return true;
  if (v == "no" || v == "n" || v == "false") return false;
  return absl::InvalidArgumentError(Tr("team.usage_yes_no", {{"flag", flag}, {"value", value}}));
}

// For --json: the same in every language.
std::string TeamStatusName(v1::TeamStatus s) {
  return s == v1::TEAM_STATUS_OPEN ? "open" : s == v1::TEAM_STATUS_CLOSED ? "closed" : "?";
}

// For people.
std::string TeamStatusLabel(v1::TeamStatus s) {
  return s == v1::TEAM_STATUS_OPEN     ? Tr("team.status_open")
         : s == v1::TEAM_STATUS_CLOSED ? Tr("team.status_closed")
                                       : "?";
}

// "Anne Dupont", or the short id of someone the team does not list.
std::string NameIn(const v1::Team& team, const std::string& account_id,
                   client::Messenger& messenger) {
  if (account_id.empty()) return "";
  if (const v1::Member* m = FindMember(team, account_id)) return m->display_name();
  std::string name = messenger.DisplayName(account_id);
  return name.empty() ? Short(account_id) : name;
}

// ACCOUNT as typed, resolved among the members of `team_id` (a full id needs
// no call to the server).
absl::StatusOr<std::string> ResolveMember(client::Messenger& m, const std::string& team_id,
                                          const std::string& given) {
  const std::string trimmed(absl::StripAsciiWhitespace(given));
  if (trimmed.size() == kIdSize) return client::ResolveAccount(trimmed, nullptr);
  auto team = m.FetchTeam(team_id);
  if (!team.ok()) return team.status();
  return client::ResolveAccount(trimmed, &*team);
}

// An agreement recorded for a patient without an account (consent to the
// team, or agreement to a coordinator), from --by, --method and --at.
struct RecordedAgreement {
  v1::ConsentGiver by = v1::CONSENT_GIVER_UNSPECIFIED;
  v1::ConsentMethod method = v1::CONSENT_METHOD_UNSPECIFIED;
  int64_t at_ms = 0;  // 0: now
};

// The usage error, if the flags do not make one.
std::optional<std::string> ParseRecordedAgreement(const std::string& by_flag,
                                                  const std::string& method_flag,
                                                  const std::string& at_flag,
                                                  RecordedAgreement* out) {
  const std::string by = absl::AsciiStrToLower(by_flag);
  if (by == "patient") {
    out->by = v1::CONSENT_GIVER_PATIENT;
  } else if (by == "representative") {
    out->by = v1::CONSENT_GIVER_REPRESENTATIVE;
  } else {
    return Tr("team.usage_consent_by");
  }
  const std::string method = absl::AsciiStrToLower(method_flag);
  if (method == "oral") {
    out->method = v1::CONSENT_METHOD_ORAL;
  } else if (method == "written") {
    out->method = v1::CONSENT_METHOD_WRITTEN;
  } else if (method == "electronic") {
    out->method = v1::CONSENT_METHOD_ELECTRONIC;
  } else {
    return Tr("team.usage_consent_method");
  }
  if (!at_flag.empty()) {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime("%Y-%m-%d", at_flag, absl::LocalTimeZone(), &t, &err)) {
      return Tr("team.usage_consent_at");
    }
    if (t > absl::Now()) return Tr("team.usage_consent_future");
    out->at_ms = absl::ToUnixMillis(t);
  }
  return std::nullopt;
}

std::string ConsentSummary(const v1::ConsentRecord& c) {
  const std::string by = c.given_by() == v1::CONSENT_GIVER_PATIENT ? Tr("team.consent_by_patient")
                         : c.given_by() == v1::CONSENT_GIVER_REPRESENTATIVE
                             ? Tr("team.consent_by_representative")
                             : "?";
  std::string method;
  switch (c.method()) {
    case v1::CONSENT_METHOD_ORAL:
      method = Tr("team.consent_method_oral");
      break;
    case v1::CONSENT_METHOD_WRITTEN:
      method = Tr("team.consent_method_written");
      break;
    case v1::CONSENT_METHOD_ELECTRONIC:
      method = Tr("team.consent_method_electronic");
      break;
    default:
      method = absl::AsciiStrToLower(v1::ConsentMethod_Name(c.method()));
      StripPrefix(&method, "consent_method_");
  }
  std::string s =
      Tr("team.consent_given",
         {{"by", by}, {"method", method}, {"date", FormatTime(c.given_at_ms()).substr(0, 10)}});
  if (!c.reference().empty()) {
    s = Tr("team.consent_reference", {{"consent", s}, {"reference", c.reference()}});
  }
  if (c.withdrawn()) {
    s = Tr("team.consent_withdrawn_on",
           {{"consent", s}, {"withdrawn", FormatTime(c.withdrawn_at_ms())}});
  }
  return s;
}

// An event's detail as people read it: enum-like words ("AWAITING_CONSENT")
// in lower case with spaces; anything else (a close reason) as written.
std::string Humanize(std::string detail) {
  for (char c : detail) {
    if (!absl::ascii_isupper(static_cast<unsigned char>(c)) && c != '_') return detail;
  }
  StripPrefix(&detail, "MEMBER_STATUS_");
  v1::MemberStatus status;
  if (v1::MemberStatus_Parse("MEMBER_STATUS_" + detail, &status)) {
    const std::string label = MemberStatusLabel(status);
    if (label != "?") return label;
  }
  for (char& c : detail) c = c == '_' ? ' ' : absl::ascii_tolower(static_cast<unsigned char>(c));
  return detail;
}

}  // namespace

std::string MemberStatusLabel(v1::MemberStatus s) {
  switch (s) {
    case v1::MEMBER_STATUS_AWAITING_CONSENT:
      return Tr("team.member_awaiting_consent");
    case v1::MEMBER_STATUS_INVITED:
      return Tr("team.member_invited");
    case v1::MEMBER_STATUS_ACTIVE:
      return Tr("team.member_active");
    default:
      return "?";
  }
}

nlohmann::json ChannelList(const google::protobuf::RepeatedField<int>& channels) {
  nlohmann::json list = nlohmann::json::array();
  for (int c : channels) list.push_back(ChannelName(static_cast<v1::Channel>(c)));
  return list;
}

// The characters of UTF-8 text as a terminal shows them (one per code point).
size_t Width(absl::string_view text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// `text` followed by spaces up to `width` characters (at least one space).
std::string Padded(const std::string& text, size_t width) {
  const size_t w = Width(text);
  return text + std::string(w < width ? width - w : 1, ' ');
}

std::string HashChannels(const google::protobuf::RepeatedField<int>& channels) {
  std::vector<std::string> names;
  for (int c : channels) names.push_back("#" + ChannelLabel(static_cast<v1::Channel>(c)));
  return names.empty() ? "-" : absl::StrJoin(names, " ");
}

absl::StatusOr<std::string> ResolveTeam(client::RelayClient& relay, const std::string& given) {
  const std::string id = absl::AsciiStrToLower(absl::StripAsciiWhitespace(given));
  if (id.size() >= kIdSize) return id;
  if (id.size() < kMinPrefix) {
    return absl::InvalidArgumentError(Tr("team.id_too_short", {{"given", given}}));
  }
  auto teams = relay.ListTeams();
  if (!teams.ok()) return teams.status();
  std::vector<std::string> matches;
  for (const v1::Team& t : *teams) {
    if (absl::StartsWith(t.team_id(), id)) matches.push_back(t.team_id());
  }
  if (matches.size() == 1) return matches[0];
  if (matches.empty()) {
    return absl::NotFoundError(Tr("team.id_no_match", {{"prefix", id}}));
  }
  return absl::InvalidArgumentError(
      Tr("team.id_ambiguous", {{"prefix", id}, {"teams", absl::StrJoin(matches, ", ")}}));
}

std::string PersonLabel(const std::string& name, v1::Role role, const std::string& account_id) {
  std::string label = name.empty() ? Short(account_id) : name;
  if (label.empty()) label = Tr("team.someone");
  if (role != v1::ROLE_UNSPECIFIED) absl::StrAppend(&label, " (", RoleLabel(role), ")");
  return label;
}

std::string EventKindName(v1::TeamEvent::Kind kind) {
  std::string name = absl::AsciiStrToLower(v1::TeamEvent::Kind_Name(kind));
  StripPrefix(&name, "kind_");
  return name;
}

// A blind-index event, its detail "<key version>[ name-and-birth-date]"
// (server/core/care_teams.cc): the sentence without a key (older entries),
// with the key, or with the key for the name-and-birth-date index.
std::string IndexEvent(absl::string_view detail, const std::string& actor, const char* bare,
                       const char* with_key, const char* by_name) {
  const bool name = absl::ConsumeSuffix(&detail, " name-and-birth-date");
  const std::string key(detail);
  if (key.empty()) return Tr(bare, {{"actor", actor}});
  return Tr(name ? by_name : with_key, {{"actor", actor}, {"key", key}});
}

std::string DescribeTeamEvent(const v1::TeamEvent& e, const std::string& actor,
                              const std::string& subject) {
  using K = v1::TeamEvent;
  // The detail (a status, a close reason) follows the sentence in brackets.
  const std::string detail = e.detail().empty() ? "" : " (" + Humanize(e.detail()) + ")";
  const std::string role = RoleLabel(e.role());
  switch (e.kind()) {
    case K::KIND_CREATED:
      return Tr(
          e.detail() == "coordinates" ? "team.event_created_coordinates" : "team.event_created",
          {{"actor", actor}});
    case K::KIND_INVITED:
      return Tr("team.event_invited", {{"actor", actor}, {"subject", subject}, {"role", role}}) +
             detail;
    case K::KIND_JOINED:
      return e.role() != v1::ROLE_UNSPECIFIED
                 ? Tr("team.event_joined_as", {{"subject", subject}, {"role", role}})
                 : Tr("team.event_joined", {{"subject", subject}});
    case K::KIND_DECLINED:
      return Tr("team.event_declined", {{"subject", subject}});
    case K::KIND_REMOVED:
      return Tr("team.event_removed", {{"actor", actor}, {"subject", subject}});
    case K::KIND_LEFT:
      return Tr("team.event_left", {{"subject", subject}});
    case K::KIND_ROLE_CHANGED:
      return Tr("team.event_role_changed", {{"actor", actor},
                                            {"subject", subject},
                                            {"previous", RoleLabel(e.previous_role())},
                                            {"role", role}});
    case K::KIND_COORDINATOR_REQUESTED:
      return Tr("team.event_coordinator_requested", {{"actor", actor}, {"subject", subject}});
    case K::KIND_COORDINATOR_DESIGNATED:
      return Tr("team.event_coordinator_designated", {{"actor", actor}, {"subject", subject}});
    case K::KIND_COORDINATOR_AGREEMENT_RECORDED:
      return Tr("team.event_coordinator_agreement", {{"actor", actor}, {"subject", subject}}) +
             detail;
    case K::KIND_CONSENT_GIVEN:
      return Tr("team.event_consent_given", {{"actor", actor}, {"subject", subject}});
    case K::KIND_CONSENT_REFUSED:
      return Tr("team.event_consent_refused", {{"actor", actor}, {"subject", subject}});
    case K::KIND_CONSENT_RECORDED:
      return Tr("team.event_consent_recorded", {{"actor", actor}}) + detail;
    case K::KIND_CONSENT_WITHDRAWN:
      return Tr("team.event_consent_withdrawn", {{"actor", actor}});
    case K::KIND_ACCESS_NARROWED:
      // A change of several cells is one event naming them all in its detail.
      if (e.role() == v1::ROLE_UNSPECIFIED && !e.detail().empty()) {
        return Tr("team.event_access_cells", {{"actor", actor}, {"cells", e.detail()}});
      }
      return Tr("team.event_access_narrowed", {{"actor", actor},
                                               {"channel", ChannelLabel(e.channel())},
                                               {"role", role},
                                               {"read", YesNo(e.read())},
                                               {"post", YesNo(e.post())}});
    case K::KIND_CLOSED:
      return Tr("team.event_closed", {{"actor", actor}}) + detail;
    case K::KIND_ERASED:
      return Tr("team.event_erased", {{"actor", actor}});
    case K::KIND_CASE_MANAGER_SET:
      return Tr("team.event_case_manager_set", {{"actor", actor}, {"subject", subject}});
    case K::KIND_BLIND_INDEX_SET:
      return IndexEvent(e.detail(), actor, "team.event_index_set", "team.event_index_set_key",
                        "team.event_index_set_name_key");
    case K::KIND_FOUND_BY_INDEX:
      return IndexEvent(e.detail(), actor, "team.event_found_by_index",
                        "team.event_found_by_index_key", "team.event_found_by_name_key");
    case K::KIND_ATTACHMENT_DOWNLOADED:
      // Staff on duty download for their organisation, the subject.
      return Tr(e.subject_account_id().empty() ? "team.event_document_downloaded"
                                               : "team.event_document_downloaded_for",
                {{"actor", actor}, {"channel", ChannelLabel(e.channel())}, {"subject", subject}}) +
             detail;
    case K::KIND_ROSTER_CHANGED: {
      // detail: "<staff account id> added|removed|on duty|off duty".
      absl::string_view change = e.detail();
      const std::string staff_id(change.substr(0, change.find(' ')));
      change.remove_prefix(std::min(change.size(), staff_id.size() + 1));
      const std::string staff = staff_id == e.actor_account_id() ? actor : Short(staff_id);
      const char* key = change == "added"     ? "team.event_roster_added"
                        : change == "removed" ? "team.event_roster_removed"
                        : change == "on duty" ? "team.event_roster_on_duty"
                                              : "team.event_roster_off_duty";
      return Tr(key, {{"actor", actor}, {"staff", staff}, {"subject", subject}});
    }
    case K::KIND_HISTORY_VISIBILITY_SET:
      return Tr("team.event_history_visibility",
                {{"actor", actor}, {"setting", HistoryVisibilityLabel(e.detail())}});
    case K::KIND_HISTORY_SHARED:
      // detail: "N entries[ since DATE] on #team #care".
      return Tr("team.event_history_shared",
                {{"actor", actor}, {"subject", subject}, {"what", e.detail()}});
    case K::KIND_URGENT_ACKNOWLEDGED_FOR:
      return Tr("team.event_urgent_acknowledged_for",
                {{"actor", actor}, {"subject", subject}, {"message", e.detail()}});
    case K::KIND_INTAKE: {
      // detail: "<intake id> <transition>[ step N]"; no actor for a deadline.
      const std::string intake = e.detail().substr(0, 8);
      const std::string transition = e.detail().size() > 32 ? e.detail().substr(32) : "";
      std::string text =
          e.actor_account_id().empty()
              ? Tr("team.event_intake_deadline", {{"intake", intake}, {"transition", transition}})
              : Tr("team.event_intake_by",
                   {{"intake", intake}, {"transition", transition}, {"actor", actor}});
      if (!e.subject_account_id().empty()) {
        text = Tr("team.event_intake_assignee", {{"event", text}, {"assignee", subject}});
      }
      return text;
    }
    default:
      return absl::StrCat(actor, ": ", EventKindName(e.kind()), detail);
  }
}

TeamCommands::TeamCommands(CLI::App* app) {
  team_ = app->add_subcommand("team", Tr("help.team"));
  team_->require_subcommand(1);
  team_->footer(HelpExamples(
      "  carerelay team create\n"
      "  carerelay team invite 5f0c1a2b 3f2ab0c1d2e3f4a5b6c7d8e9f0a1b2c3 --role caregiver\n"
      "  carerelay team members 5f0c1a2b",
      Tr("help.team.ids")));

  create_ = team_->add_subcommand("create", Tr("help.team.create"));
  create_->add_option("--as", o_.as, Tr("help.team.create.as"))->capture_default_str();
  create_->footer(
      HelpExamples("  carerelay team create\n"
                   "  carerelay team create --as case-manager",
                   Tr("help.team.create.note")));

  list_ = team_->add_subcommand("list", Tr("help.team.list"));
  list_->footer(HelpExamples("  carerelay team list"));

  members_ = team_->add_subcommand("members", Tr("help.team.members"));
  members_->add_option("team", o_.team, Tr("help.team.members.team"))->required();
  members_->footer(HelpExamples("  carerelay team members 5f0c1a2b"));

  invite_ = team_->add_subcommand("invite", Tr("help.team.invite"));
  invite_->add_option("team", o_.team, Tr("help.team.invite.team"))->required();
  invite_->add_option("account", o_.account, Tr("help.team.invite.account"))->required();
  invite_->add_option("--role", o_.role, Tr("help.team.invite.role"))->required();
  invite_->add_flag("--acts-for-patient", o_.acts_for_patient,
                    Tr("help.team.invite.acts_for_patient"));
  invite_->footer(HelpExamples(
      "  carerelay team invite 5f0c1a2b 3f2ab0c1d2e3f4a5b6c7d8e9f0a1b2c3 --role professional\n"
      "  carerelay team invite 5f0c1a2b 9b1e22d07c0a4f1e8d5b6a7c3e2f1d07 --role caregiver "
      "--acts-for-patient"));

  accept_ = team_->add_subcommand("accept", Tr("help.team.accept"));
  accept_->add_option("team", o_.team, Tr("help.team.accept.team"))->required();
  accept_->footer(HelpExamples("  carerelay team accept 5f0c1a2b"));
  decline_ = team_->add_subcommand("decline", Tr("help.team.decline"));
  decline_->add_option("team", o_.team, Tr("help.team.decline.team"))->required();
  decline_->footer(HelpExamples("  carerelay team decline 5f0c1a2b"));

  remove_ = team_->add_subcommand("remove", Tr("help.team.remove"));
  remove_->add_option("team", o_.team, Tr("help.team.remove.team"))->required();
  remove_->add_option("account", o_.account, Tr("help.team.remove.account"))->required();
  remove_->footer(HelpExamples("  carerelay team remove 5f0c1a2b 3f2ab0c1"));
  leave_ = team_->add_subcommand("leave", Tr("help.team.leave"));
  leave_->add_option("team", o_.team, Tr("help.team.leave.team"))->required();
  leave_->footer(HelpExamples("  carerelay team leave 5f0c1a2b"));

  role_ = team_->add_subcommand("role", Tr("help.team.role"));
  role_->add_option("team", o_.team, Tr("help.team.role.team"))->required();
  role_->add_option("account", o_.account, Tr("help.team.role.account"))->required();
  role_->add_option("role", o_.role, Tr("help.team.role.role"))->required();
  role_->footer(HelpExamples("  carerelay team role 5f0c1a2b 3f2ab0c1 social"));

  coordinator_ = team_->add_subcommand("coordinator", Tr("help.team.coordinator"));
  coordinator_->add_option("team", o_.team, Tr("help.team.coordinator.team"))->required();
  coordinator_->add_option("account", o_.account, Tr("help.team.coordinator.account"))->required();
  coordinator_->add_option("--by", o_.by, Tr("help.team.coordinator.by"));
  coordinator_->add_option("--method", o_.method, Tr("help.team.coordinator.method"));
  coordinator_->add_option("--at", o_.at, Tr("help.team.coordinator.at"));
  coordinator_->add_option("--reference", o_.reference, Tr("help.team.coordinator.reference"));
  coordinator_->footer(HelpExamples(
      "  carerelay team coordinator 5f0c1a2b 3f2ab0c1\n"
      "  carerelay team coordinator 5f0c1a2b 3f2ab0c1 --by representative --method oral"));

  consent_ = team_->add_subcommand("consent", Tr("help.team.consent"));
  consent_->add_option("team", o_.team, Tr("help.team.consent.team"))->required();
  consent_->add_flag("--record", o_.record, Tr("help.team.consent.record"));
  consent_->add_flag("--withdraw", o_.withdraw, Tr("help.team.consent.withdraw"));
  consent_->add_option("--by", o_.by, Tr("help.team.consent.by"));
  consent_->add_option("--method", o_.method, Tr("help.team.consent.method"));
  consent_->add_option("--at", o_.at, Tr("help.team.consent.at"));
  consent_->add_option("--reference", o_.reference, Tr("help.team.consent.reference"));
  consent_->add_option("--agree", o_.agree, Tr("help.team.consent.agree"));
  consent_->add_option("--refuse", o_.refuse, Tr("help.team.consent.refuse"));
  consent_->footer(HelpExamples(
      "  carerelay team consent 5f0c1a2b --record --by patient --method written --reference "
      "DOSSIER-2291\n"
      "  carerelay team consent 5f0c1a2b --withdraw --by representative --method oral\n"
      "  carerelay team consent 5f0c1a2b --agree 3f2ab0c1"));

  access_ = team_->add_subcommand("access", Tr("help.team.access"));
  access_->add_option("team", o_.team, Tr("help.team.access.team"))->required();
  access_->add_option("--role", o_.role, Tr("help.team.access.role"));
  access_->add_option("--channel", o_.channel, Tr("help.team.access.channel"));
  access_->add_option("--read", o_.read, Tr("help.team.access.read"));
  access_->add_option("--post", o_.post, Tr("help.team.access.post"));
  access_->footer(HelpExamples(
      "  carerelay team access 5f0c1a2b\n"
      "  carerelay team access 5f0c1a2b --role social --channel care --read yes --post no"));

  profile_ = team_->add_subcommand("profile", Tr("help.team.profile"));
  profile_->add_option("team", o_.team, Tr("help.team.profile.team"))->required();
  profile_->add_flag("--set", o_.set, Tr("help.team.profile.set"));
  profile_->add_flag("--share", o_.share, Tr("help.team.profile.share"));
  profile_->add_option("--name", o_.name, Tr("help.team.profile.name"));
  profile_->add_option("--birth-date", o_.birth_date, Tr("help.team.profile.birth_date"));
  profile_->add_option("--national-number", o_.national_number,
                       Tr("help.team.profile.national_number"));
  profile_->add_option("--gp", o_.gp, Tr("help.team.profile.gp"));
  profile_->add_option("--address", o_.address, Tr("help.team.profile.address"));
  profile_->add_option("--notes", o_.notes, Tr("help.team.profile.notes"));
  profile_->footer(
      HelpExamples("  carerelay team profile 5f0c1a2b\n"
                   "  carerelay team profile 5f0c1a2b --set --name \"Jeanne Dubois\" --birth-date "
                   "1941-03-02 \\\n"
                   "      --national-number 41.03.02-123.20 --gp \"Dr Luc Martin\""));

  index_ = team_->add_subcommand("index", Tr("help.team.index"));
  index_->add_option("team", o_.team, Tr("help.team.index.team"))->required();
  index_->add_option("--national-number", o_.national_number,
                     Tr("help.team.index.national_number"));
  index_->add_option("--name", o_.name, Tr("help.team.index.name"));
  index_->add_option("--birth-date", o_.birth_date, Tr("help.team.index.birth_date"));
  index_->add_option("--org-key", o_.org_key, Tr("help.team.index.org_key"));
  index_->footer(HelpExamples(
      "  carerelay team index 5f0c1a2b\n"
      "  carerelay team index 5f0c1a2b --national-number 85.07.30-033.28\n"
      "  carerelay team index 5f0c1a2b --name \"Amina El Idrissi\" --birth-date 1952-11-04"));

  find_ = team_->add_subcommand("find", Tr("help.team.find"));
  find_->add_option("--national-number", o_.national_number, Tr("help.team.find.national_number"));
  find_->add_option("--name", o_.name, Tr("help.team.find.name"));
  find_->add_option("--birth-date", o_.birth_date, Tr("help.team.find.birth_date"));
  find_->add_option("--org-key", o_.org_key, Tr("help.team.find.org_key"));
  find_->footer(
      HelpExamples("  carerelay team find --national-number \"1 85 07 2A 123 456 65\"\n"
                   "  carerelay team find --name \"El Idrissi Amina\" --birth-date 04/11/1952"));

  close_ = team_->add_subcommand("close", Tr("help.team.close"));
  close_->add_option("team", o_.team, Tr("help.team.close.team"))->required();
  close_->add_option("--reason", o_.reason, Tr("help.team.close.reason"));
  close_->footer(HelpExamples("  carerelay team close 5f0c1a2b --reason \"end of pathway\""));

  erase_ = team_->add_subcommand("erase", Tr("help.team.erase"));
  erase_->add_option("team", o_.team, Tr("help.team.erase.team"))->required();
  erase_->add_flag("--yes", o_.yes, Tr("help.team.erase.yes"));
  erase_->footer(HelpExamples("  carerelay team erase 5f0c1a2b --yes"));

  audit_ = team_->add_subcommand("audit", Tr("help.team.audit"));
  audit_->add_option("team", o_.team, Tr("help.team.audit.team"))->required();
  audit_->add_flag("--verify", o_.verify, Tr("help.team.audit.verify"));
  audit_->footer(
      HelpExamples("  carerelay team audit 5f0c1a2b\n"
                   "  carerelay team audit 5f0c1a2b --verify"));
}

bool TeamCommands::parsed() const { return team_->parsed(); }

int TeamCommands::Run(Profile& p, const Globals& g) {
  if (list_->parsed()) return List(p, g);
  if (create_->parsed()) return Create(p, g);
  if (find_->parsed()) return Find(p, g);
  // Every other command names a team.
  auto team = ResolveTeam(p.relay(), o_.team);
  if (!team.ok()) return Fail(team.status(), g);
  o_.team = *team;
  if (members_->parsed()) return Members(p, g);
  if (invite_->parsed()) return Invite(p, g);
  if (accept_->parsed()) return Respond(p, g, true);
  if (decline_->parsed()) return Respond(p, g, false);
  if (remove_->parsed()) return Remove(p, g, false);
  if (leave_->parsed()) return Remove(p, g, true);
  if (role_->parsed()) return ChangeRole(p, g);
  if (coordinator_->parsed()) return Coordinator(p, g);
  if (consent_->parsed()) return Consent(p, g);
  if (access_->parsed()) return Access(p, g);
  if (profile_->parsed()) return ShowOrSetProfile(p, g);
  if (index_->parsed()) return Index(p, g);
  if (close_->parsed()) return Close(p, g);
  if (erase_->parsed()) return Erase(p, g);
  if (audit_->parsed()) return Audit(p, g);
  return kExitUsage;
}

int TeamCommands::Create(Profile& p, const Globals& g) {
  auto role = client::ParseRole(o_.as);
  if (!role.ok() || (*role != v1::ROLE_COORDINATOR && *role != v1::ROLE_CASE_MANAGER)) {
    return UsageError(Tr("team.usage_create_as"), g);
  }
  auto team = p.relay().CreateTeam(*role);
  if (!team.ok()) return Fail(team.status(), g);
  // A patient or caregiver who creates their own team coordinates it with
  // their own role: the JSON says which role, the sentence what they are.
  const v1::Member* me = FindMember(*team, p.config().account_id);
  Print(g,
        {{"team_id", team->team_id()},
         {"status", TeamStatusName(team->status())},
         {"role", RoleName(me != nullptr ? me->role() : *role)},
         {"coordinates", me != nullptr && me->coordinates()}},
        Tr("team.created", {{"team", team->team_id()}, {"role", RoleLabel(*role)}}));
  return kExitOk;
}

int TeamCommands::List(Profile& p, const Globals& g) {
  auto teams = p.relay().ListTeams();
  if (!teams.ok()) return Fail(teams.status(), g);
  client::Messenger& m = p.messenger();
  if (teams->empty() && !g.json) {
    std::cout << Tr("team.list_none") << "\n";
  }
  for (const v1::Team& t : *teams) {
    const v1::Member* me = FindMember(t, p.config().account_id);
    auto held = m.GetTeamProfile(t.team_id());
    const std::string patient =
        held.ok() && held->has_value() ? (*held)->patient_name() : std::string();
    const std::string coordinator = NameIn(t, t.coordinator_account_id(), m);
    int active = 0;
    for (const auto& member : t.members()) active += member.status() == v1::MEMBER_STATUS_ACTIVE;
    nlohmann::json j = {{"team_id", t.team_id()},
                        {"status", TeamStatusName(t.status())},
                        {"role", me ? RoleName(me->role()) : ""},
                        {"member_status", me ? client::MemberStatusName(me->status()) : ""},
                        {"coordinator", coordinator},
                        {"active_members", active}};
    if (!patient.empty()) j["patient"] = patient;
    std::string line = absl::StrCat(t.team_id(), "  ", TeamStatusLabel(t.status()));
    if (me) {
      absl::StrAppend(&line, "  ", Tr("team.list_you", {{"role", RoleLabel(me->role())}}));
      if (me->status() != v1::MEMBER_STATUS_ACTIVE) {
        absl::StrAppend(&line, " (", MemberStatusLabel(me->status()), ")");
      }
    }
    if (!patient.empty()) {
      absl::StrAppend(&line, "  ", Tr("team.list_patient", {{"patient", patient}}));
    }
    if (!coordinator.empty()) {
      absl::StrAppend(&line, "  ", Tr("team.coordinator", {{"name", coordinator}}));
    }
    absl::StrAppend(&line, "  ", Tr("team.list_active", {{"count", std::to_string(active)}}));
    Print(g, j, line);
  }
  return kExitOk;
}

int TeamCommands::Members(Profile& p, const Globals& g) {
  auto team = p.messenger().FetchTeam(o_.team);
  if (!team.ok()) return Fail(team.status(), g);
  client::Messenger& m = p.messenger();
  if (!g.json) {
    std::cout << Tr("team.members_heading",
                    {{"team", team->team_id()}, {"status", TeamStatusLabel(team->status())}})
              << "\n";
    if (!team->coordinator_account_id().empty()) {
      std::cout << Tr("team.coordinator",
                      {{"name", NameIn(*team, team->coordinator_account_id(), m)}})
                << "\n";
    }
    if (!team->case_manager_account_id().empty()) {
      std::cout << Tr("team.case_manager",
                      {{"name", NameIn(*team, team->case_manager_account_id(), m)}})
                << "\n";
    }
    if (!team->pending_coordinator_account_id().empty()) {
      std::cout << Tr("team.proposed_coordinator",
                      {{"name", NameIn(*team, team->pending_coordinator_account_id(), m)}})
                << "\n";
    }
    if (team->has_consent()) std::cout << ConsentSummary(team->consent()) << "\n";
    if (team->has_coordinator_agreement()) {
      std::cout << Tr("team.coordinator_agreement",
                      {{"agreement", ConsentSummary(team->coordinator_agreement())}})
                << "\n";
    }
    if (team->status() == v1::TEAM_STATUS_CLOSED) {
      std::cout << Tr(team->close_reason().empty() ? "team.members_closed"
                                                   : "team.members_closed_reason",
                      {{"closed", FormatTime(team->closed_at_ms())},
                       {"reason", team->close_reason()},
                       {"erased", FormatTime(team->erase_after_ms())}})
                << "\n";
    }
  }
  for (const v1::Member& member : team->members()) {
    const bool you = member.account_id() == p.config().account_id;
    nlohmann::json devices = nlohmann::json::array();
    for (const auto& d : member.devices()) devices.push_back(d.device_id());
    nlohmann::json j = {{"account_id", member.account_id()},
                        {"display_name", member.display_name()},
                        {"role", RoleName(member.role())},
                        {"status", client::MemberStatusName(member.status())},
                        {"acts_for_patient", member.acts_for_patient()},
                        {"coordinates", member.coordinates()},
                        {"devices", devices},
                        {"can_read", ChannelList(member.can_read())},
                        {"can_post", ChannelList(member.can_post())},
                        {"since", FormatTime(member.since_ms())},
                        {"you", you}};
    // An organisation: its staff on duty, who read and post as it.
    nlohmann::json on_duty = nlohmann::json::array();
    std::vector<std::string> on_duty_names;
    for (const v1::StaffOnDuty& s : member.on_duty()) {
      on_duty.push_back({{"account_id", s.account_id()},
                         {"display_name", s.display_name()},
                         {"devices", s.devices_size()}});
      on_duty_names.push_back(absl::StrCat(s.display_name(), " (", Short(s.account_id()), ")"));
    }
    if (member.kind() == v1::ACCOUNT_KIND_ORGANISATION) j["on_duty"] = on_duty;
    std::string line =
        absl::StrCat("  ",
                     Tr(member.acts_for_patient() ? "team.member_acts_for_patient" : "team.member",
                        {{"name", member.display_name()}, {"role", RoleLabel(member.role())}}),
                     // The patient or a caregiver who coordinates keeps their role.
                     member.coordinates() && member.role() != v1::ROLE_COORDINATOR
                         ? ", " + Tr("team.member_coordinates")
                         : "",
                     you ? "  " + Tr("team.member_you") : "", "\n    ",
                     Tr("team.member_since", {{"status", MemberStatusLabel(member.status())},
                                              {"since", FormatTime(member.since_ms())},
                                              {"account", member.account_id()},
                                              {"devices", std::to_string(member.devices_size())}}),
                     "\n    ",
                     Tr("team.member_channels", {{"reads", HashChannels(member.can_read())},
                                                 {"posts", HashChannels(member.can_post())}}));
    if (member.kind() == v1::ACCOUNT_KIND_ORGANISATION) {
      absl::StrAppend(&line, "\n    ",
                      on_duty_names.empty() ? Tr("team.member_nobody_on_duty")
                                            : Tr("team.member_on_duty",
                                                 {{"staff", absl::StrJoin(on_duty_names, ", ")}}));
    }
    Print(g, j, line);
  }
  return kExitOk;
}

int TeamCommands::Invite(Profile& p, const Globals& g) {
  auto role = client::ParseRole(o_.role);
  if (!role.ok()) return UsageError(std::string(role.status().message()), g);
  if (*role == v1::ROLE_COORDINATOR) {
    return UsageError(Tr("team.usage_invite_coordinator", {{"team", o_.team}}), g);
  }
  if (o_.acts_for_patient && *role != v1::ROLE_CAREGIVER) {
    return UsageError(Tr("team.usage_acts_for_patient"), g);
  }
  auto account = ResolveMember(p.messenger(), o_.team, o_.account);
  if (!account.ok()) return Fail(account.status(), g);
  auto team = p.relay().Invite(o_.team, *account, *role, o_.acts_for_patient);
  if (!team.ok()) return Fail(team.status(), g);
  const v1::Member* invited = FindMember(*team, *account);
  const std::string name = invited ? invited->display_name() : Short(*account);
  const v1::MemberStatus status = invited ? invited->status() : v1::MEMBER_STATUS_UNSPECIFIED;
  std::string next;
  if (status == v1::MEMBER_STATUS_AWAITING_CONSENT) {
    next = Tr("team.invited_awaiting_consent", {{"team", o_.team}});
  } else if (status == v1::MEMBER_STATUS_INVITED) {
    next = Tr("team.invited_awaiting_accept", {{"team", o_.team}});
  } else if (status == v1::MEMBER_STATUS_ACTIVE) {
    next = MemberStatusLabel(status);
  }
  Print(g,
        {{"team_id", o_.team},
         {"account_id", *account},
         {"role", RoleName(*role)},
         {"status", client::MemberStatusName(status)}},
        next.empty() ? Tr("team.invited", {{"name", name}, {"role", RoleLabel(*role)}})
                     : Tr("team.invited_next",
                          {{"name", name}, {"role", RoleLabel(*role)}, {"next", next}}));
  return kExitOk;
}

int TeamCommands::Respond(Profile& p, const Globals& g, bool accept) {
  auto team = p.relay().RespondToInvitation(o_.team, accept);
  if (!team.ok()) return Fail(team.status(), g);
  if (!accept) {
    p.messenger().ForgetTeam(o_.team).IgnoreError();
    Print(g, {{"team_id", o_.team}, {"declined", true}}, Tr("team.declined", {{"team", o_.team}}));
    return kExitOk;
  }
  const v1::Member* me = FindMember(*team, p.config().account_id);
  Print(g, {{"team_id", o_.team}, {"joined", true}, {"role", me ? RoleName(me->role()) : "?"}},
        Tr("team.joined", {{"team", o_.team}, {"role", me ? RoleLabel(me->role()) : "?"}}));
  return kExitOk;
}

int TeamCommands::Remove(Profile& p, const Globals& g, bool leave) {
  client::Messenger& m = p.messenger();
  std::string account = p.config().account_id;
  std::string name;
  if (!leave) {
    auto resolved = ResolveMember(m, o_.team, o_.account);
    if (!resolved.ok()) return Fail(resolved.status(), g);
    account = *resolved;
    leave = account == p.config().account_id;
    name = m.DisplayName(account);
    if (name.empty()) name = Short(account);
  }
  auto team = p.relay().RemoveMember(o_.team, account);
  if (!team.ok()) return Fail(team.status(), g);
  if (leave) {
    absl::Status s = m.ForgetTeam(o_.team);
    if (!s.ok()) return Fail(s, g);
    Print(g, {{"team_id", o_.team}, {"left", true}}, Tr("team.left", {{"team", o_.team}}));
    return kExitOk;
  }
  // The server cut them off; new keys make sure they could not read what
  // is sent next even if they got it (the other members rotate on the event).
  absl::Status s = m.RotateTeamKeys(o_.team);
  if (!s.ok()) return Fail(s, g);
  Print(g, {{"team_id", o_.team}, {"removed", account}},
        Tr("team.removed", {{"name", name}, {"team", o_.team}}));
  return kExitOk;
}

int TeamCommands::ChangeRole(Profile& p, const Globals& g) {
  auto role = client::ParseRole(o_.role);
  if (!role.ok()) return UsageError(std::string(role.status().message()), g);
  if (*role == v1::ROLE_COORDINATOR) {
    return UsageError(Tr("team.usage_role_coordinator", {{"team", o_.team}}), g);
  }
  auto account = ResolveMember(p.messenger(), o_.team, o_.account);
  if (!account.ok()) return Fail(account.status(), g);
  auto team = p.relay().ChangeRole(o_.team, *account, *role);
  if (!team.ok()) return Fail(team.status(), g);
  absl::Status s = p.messenger().RotateTeamKeys(o_.team);
  if (!s.ok()) return Fail(s, g);
  Print(g, {{"team_id", o_.team}, {"account_id", *account}, {"role", RoleName(*role)}},
        Tr("team.role_changed", {{"name", NameIn(*team, *account, p.messenger())},
                                 {"role", RoleLabel(*role)},
                                 {"team", o_.team}}));
  return kExitOk;
}

int TeamCommands::Coordinator(Profile& p, const Globals& g) {
  auto account = ResolveMember(p.messenger(), o_.team, o_.account);
  if (!account.ok()) return Fail(account.status(), g);
  v1::DesignateCoordinatorRequest request;
  request.set_team_id(o_.team);
  request.set_account_id(*account);
  // The agreement of a patient without an account, recorded by the caller.
  if (!o_.by.empty() || !o_.method.empty() || !o_.at.empty() || !o_.reference.empty()) {
    RecordedAgreement agreement;
    if (auto error = ParseRecordedAgreement(o_.by, o_.method, o_.at, &agreement)) {
      return UsageError(*error, g);
    }
    request.set_agreed_by(agreement.by);
    request.set_agreement_method(agreement.method);
    request.set_agreed_at_ms(agreement.at_ms);
    request.set_agreement_reference(o_.reference);
  }
  auto team = p.relay().DesignateCoordinator(request);
  if (!team.ok()) return Fail(team.status(), g);
  const std::string name = NameIn(*team, *account, p.messenger());
  const bool pending = team->pending_coordinator_account_id() == *account;
  Print(g, {{"team_id", o_.team}, {"coordinator", *account}, {"pending_consent", pending}},
        Tr(pending ? "team.coordinator_proposed" : "team.coordinator_designated",
           {{"name", name}, {"team", o_.team}}));
  return kExitOk;
}

int TeamCommands::Consent(Profile& p, const Globals& g) {
  const int modes =
      int{o_.record} + int{o_.withdraw} + int{!o_.agree.empty()} + int{!o_.refuse.empty()};
  if (modes != 1) {
    return UsageError(Tr("team.usage_consent_mode"), g);
  }
  if (!o_.agree.empty() || !o_.refuse.empty()) {
    const bool agree = !o_.agree.empty();
    auto account = ResolveMember(p.messenger(), o_.team, agree ? o_.agree : o_.refuse);
    if (!account.ok()) return Fail(account.status(), g);
    auto team = p.relay().AnswerConsent(o_.team, *account, agree);
    if (!team.ok()) return Fail(team.status(), g);
    Print(g, {{"team_id", o_.team}, {"account_id", *account}, {"agree", agree}},
          Tr(agree ? "team.consent_agreed" : "team.consent_refused",
             {{"name", NameIn(*team, *account, p.messenger())}, {"team", o_.team}}));
    return kExitOk;
  }
  v1::RecordConsentRequest request;
  request.set_team_id(o_.team);
  request.set_withdraw(o_.withdraw);
  RecordedAgreement agreement;
  if (auto error = ParseRecordedAgreement(o_.by, o_.method, o_.at, &agreement)) {
    return UsageError(*error, g);
  }
  request.set_given_by(agreement.by);
  request.set_method(agreement.method);
  request.set_given_at_ms(agreement.at_ms);
  request.set_reference(o_.reference);
  auto team = p.relay().RecordConsent(request);
  if (!team.ok()) return Fail(team.status(), g);
  Print(g, {{"team_id", o_.team}, {"withdrawn", o_.withdraw}},
        o_.withdraw ? Tr("team.consent_withdrawn", {{"team", o_.team}})
                    : Tr("team.consent_recorded", {{"consent", ConsentSummary(team->consent())}}));
  return kExitOk;
}

int TeamCommands::Access(Profile& p, const Globals& g) {
  const int given = int{!o_.role.empty()} + int{!o_.channel.empty()} + int{!o_.read.empty()} +
                    int{!o_.post.empty()};
  if (given != 0 && given != 4) {
    return UsageError(Tr("team.usage_access"), g);
  }
  if (given == 4) {
    auto role = client::ParseRole(o_.role);
    if (!role.ok()) return UsageError(std::string(role.status().message()), g);
    auto channel = ParseTypedChannel(o_.channel);
    if (!channel.ok()) return UsageError(std::string(channel.status().message()), g);
    auto read = ParseYesNo("--read", o_.read);
    if (!read.ok()) return UsageError(std::string(read.status().message()), g);
    auto post = ParseYesNo("--post", o_.post);
    if (!post.ok()) return UsageError(std::string(post.status().message()), g);
    v1::AccessRule rule;
    rule.set_role(*role);
    rule.set_channel(*channel);
    rule.set_read(*read);
    rule.set_post(*post);
    auto team = p.relay().SetTeamAccess(o_.team, {rule});
    if (!team.ok()) return Fail(team.status(), g);
    // A role that lost read access must not hold keys for what comes next.
    absl::Status s = p.messenger().RotateTeamKeys(o_.team);
    if (!s.ok()) return Fail(s, g);
    Print(g,
          {{"team_id", o_.team},
           {"role", RoleName(*role)},
           {"channel", ChannelName(*channel)},
           {"read", *read},
           {"post", *post}},
          Tr("team.access_set", {{"team", o_.team},
                                 {"role", RoleLabel(*role)},
                                 {"channel", ChannelLabel(*channel)},
                                 {"read", YesNo(*read)},
                                 {"post", YesNo(*post)}}));
    return kExitOk;
  }
  auto team = p.messenger().FetchTeam(o_.team);
  if (!team.ok()) return Fail(team.status(), g);
  // The effective matrix, as the server reports it for each member (roles
  // without a member are not listed).
  std::map<int, const v1::Member*> by_role;
  for (const v1::Member& member : team->members()) by_role.emplace(member.role(), &member);
  // Columns as wide as their names in the person's language.
  size_t role_width = Width(Tr("team.access_role_column"));
  for (const auto& [role, member] : by_role) {
    role_width = std::max(role_width, Width(RoleLabel(static_cast<v1::Role>(role))));
  }
  role_width += 2;
  std::map<v1::Channel, size_t> width;
  std::string heading = "  " + Padded(Tr("team.access_role_column"), role_width);
  for (v1::Channel c : kChannels) {
    width[c] = Width(ChannelLabel(c)) + 3;  // '#' and two spaces
    heading += Padded("#" + ChannelLabel(c), width[c]);
  }
  if (!g.json) {
    std::cout << Tr("team.access_heading", {{"team", team->team_id()}}) << "\n";
    std::cout << absl::StripTrailingAsciiWhitespace(heading) << "\n";
  }
  for (const auto& [role, member] : by_role) {
    nlohmann::json channels = nlohmann::json::object();
    std::string line = "  " + Padded(RoleLabel(static_cast<v1::Role>(role)), role_width);
    for (v1::Channel c : kChannels) {
      const bool r = client::CanRead(*member, c), w = client::CanPost(*member, c);
      channels[ChannelName(c)] = {{"read", r}, {"post", w}};
      line += Padded(std::string(r ? "r" : "-") + (w ? "p" : "-"), width[c]);
    }
    Print(g, {{"role", RoleName(static_cast<v1::Role>(role))}, {"channels", channels}},
          std::string(absl::StripTrailingAsciiWhitespace(line)));
  }
  if (!g.json && team->narrowed_size() > 0) {
    std::cout << Tr("team.access_narrowed_heading") << "\n";
    for (const v1::AccessRule& r : team->narrowed()) {
      std::cout << "  "
                << Tr("team.access_narrowed_rule", {{"role", RoleLabel(r.role())},
                                                    {"channel", ChannelLabel(r.channel())},
                                                    {"read", YesNo(r.read())},
                                                    {"post", YesNo(r.post())}})
                << "\n";
    }
  }
  return kExitOk;
}

int TeamCommands::ShowOrSetProfile(Profile& p, const Globals& g) {
  client::Messenger& m = p.messenger();
  if (o_.set && o_.share) return UsageError(Tr("team.usage_profile_set_share"), g);
  if (!o_.set && (!o_.name.empty() || !o_.birth_date.empty() || !o_.national_number.empty() ||
                  !o_.gp.empty() || !o_.address.empty() || !o_.notes.empty())) {
    return UsageError(Tr("team.usage_profile_set"), g);
  }
  if (o_.share) {
    auto sent = m.ShareTeamProfile(o_.team);
    if (!sent.ok()) return Fail(sent.status(), g);
    Print(g, {{"team_id", o_.team}, {"sent_to", *sent}},
          Tr("team.profile_shared", {{"count", std::to_string(*sent)}}));
    return kExitOk;
  }
  auto held = m.GetTeamProfile(o_.team);
  if (!held.ok()) return Fail(held.status(), g);
  if (o_.set) {
    v1::TeamProfile profile = held->value_or(v1::TeamProfile());
    profile.set_team_id(o_.team);
    if (!o_.name.empty()) profile.set_patient_name(o_.name);
    if (!o_.birth_date.empty()) {
      absl::Time t;
      std::string err;
      if (!absl::ParseTime("%Y-%m-%d", o_.birth_date, absl::UTCTimeZone(), &t, &err)) {
        return UsageError(Tr("team.usage_birth_date"), g);
      }
      profile.set_birth_date(o_.birth_date);
    }
    if (!o_.national_number.empty()) {
      auto normalised = client::NormaliseNationalNumber(o_.national_number);
      if (!normalised.ok()) return UsageError(std::string(normalised.status().message()), g);
      profile.set_national_number(std::string(absl::StripAsciiWhitespace(o_.national_number)));
    }
    if (!o_.gp.empty()) profile.set_general_practitioner(o_.gp);
    if (!o_.address.empty()) profile.set_address(o_.address);
    if (!o_.notes.empty()) profile.set_notes(o_.notes);
    if (profile.patient_name().empty() || profile.birth_date().empty()) {
      return UsageError(Tr("team.usage_profile_needs"), g);
    }
    auto sent = m.SetTeamProfile(profile);
    if (!sent.ok()) return Fail(sent.status(), g);
    Print(g, {{"team_id", o_.team}, {"sent_to", *sent}},
          Tr("team.profile_saved", {{"count", std::to_string(*sent)}, {"team", o_.team}}));
    return kExitOk;
  }
  if (!held->has_value()) {
    return Fail(absl::NotFoundError(Tr("team.profile_none", {{"team", o_.team}})), g);
  }
  const v1::TeamProfile& t = **held;
  std::string by = m.DisplayName(t.updated_by_account_id());
  if (by.empty()) by = Short(t.updated_by_account_id());
  nlohmann::json j = {{"team_id", t.team_id()},
                      {"patient_name", t.patient_name()},
                      {"birth_date", t.birth_date()},
                      {"national_number", t.national_number()},
                      {"general_practitioner", t.general_practitioner()},
                      {"address", t.address()},
                      {"notes", t.notes()},
                      {"updated", FormatTime(t.updated_at_ms())},
                      {"updated_by", t.updated_by_account_id()}};
  // One field a line, the values aligned (the catalogs pad the labels).
  std::string human =
      absl::StrCat(Tr("team.profile_heading", {{"team", t.team_id()}}), "\n  ",
                   Tr("team.profile_patient", {{"value", t.patient_name()}}), "\n  ",
                   Tr("team.profile_birth_date", {{"value", t.birth_date()}}), "\n  ",
                   Tr("team.profile_national_number", {{"value", t.national_number()}}), "\n");
  if (!t.general_practitioner().empty()) {
    absl::StrAppend(&human, "  ", Tr("team.profile_gp", {{"value", t.general_practitioner()}}),
                    "\n");
  }
  if (!t.address().empty()) {
    absl::StrAppend(&human, "  ", Tr("team.profile_address", {{"value", t.address()}}), "\n");
  }
  if (!t.notes().empty()) {
    absl::StrAppend(&human, "  ", Tr("team.profile_notes", {{"value", t.notes()}}), "\n");
  }
  absl::StrAppend(
      &human, "  ",
      Tr("team.profile_updated", {{"updated", FormatTime(t.updated_at_ms())}, {"by", by}}));
  Print(g, j, human);
  return kExitOk;
}

namespace {

absl::StatusOr<client::OrganisationKeyring> LoadKeys(const std::string& flag, const Globals& g) {
  return client::LoadOrganisationKeys(flag.empty() ? OrganisationKeyPath(ProfilesHome(g.home))
                                                   : flag);
}

}  // namespace

namespace {

// What a team is indexed or looked up by (client/blind_index.h).
struct Identity {
  v1::BlindIndexKind kind;
  std::string normalised;
};

absl::StatusOr<std::string> IndexOf(const client::OrganisationKey& key, const Identity& who) {
  return who.kind == v1::BLIND_INDEX_KIND_NAME_AND_BIRTH_DATE
             ? client::NameBlindIndex(key.key, who.normalised)
             : client::BlindIndex(key.key, who.normalised);
}

const char* KindName(v1::BlindIndexKind kind) {
  return kind == v1::BLIND_INDEX_KIND_NAME_AND_BIRTH_DATE ? "name_and_birth_date"
                                                          : "national_number";
}

}  // namespace

int TeamCommands::Index(Profile& p, const Globals& g) {
  std::string number = o_.national_number, name = o_.name, birth_date = o_.birth_date;
  if (number.empty() && name.empty() && birth_date.empty()) {
    auto held = p.messenger().GetTeamProfile(o_.team);
    if (!held.ok()) return Fail(held.status(), g);
    if (held->has_value()) {
      number = (*held)->national_number();
      name = (*held)->patient_name();
      birth_date = (*held)->birth_date();
    }
  }
  if (name.empty() != birth_date.empty()) return UsageError(Tr("team.usage_name_and_birth"), g);
  // Every identity the team has: the national number, and the name and
  // birth date (a caller may know only those).
  std::vector<Identity> identities;
  if (!number.empty()) {
    auto normalised = client::NormaliseNationalNumber(number);
    if (!normalised.ok()) return UsageError(std::string(normalised.status().message()), g);
    identities.push_back({v1::BLIND_INDEX_KIND_NATIONAL_NUMBER, *std::move(normalised)});
  }
  if (!name.empty()) {
    auto normalised = client::NormaliseNameAndBirthDate(name, birth_date);
    if (!normalised.ok()) return UsageError(std::string(normalised.status().message()), g);
    identities.push_back({v1::BLIND_INDEX_KIND_NAME_AND_BIRTH_DATE, *std::move(normalised)});
  }
  if (identities.empty()) {
    return UsageError(Tr("team.usage_index_number", {{"team", o_.team}}), g);
  }
  auto keys = LoadKeys(o_.org_key, g);
  if (!keys.ok()) return Fail(keys.status(), g);
  const client::OrganisationKey& key = keys->current();
  for (const Identity& who : identities) {
    auto index = IndexOf(key, who);
    if (!index.ok()) return Fail(index.status(), g);
    absl::Status s = p.relay().SetBlindIndex(o_.team, *index, key.version, who.kind);
    if (!s.ok()) return Fail(s, g);
    Print(g, {{"team_id", o_.team}, {"key_version", key.version}, {"kind", KindName(who.kind)}},
          Tr(who.kind == v1::BLIND_INDEX_KIND_NAME_AND_BIRTH_DATE ? "team.indexed_name"
                                                                  : "team.indexed",
             {{"team", o_.team}, {"key", key.version}}));
  }
  return kExitOk;
}

int TeamCommands::Find(Profile& p, const Globals& g) {
  const bool by_number = !o_.national_number.empty();
  const bool by_name = !o_.name.empty() || !o_.birth_date.empty();
  if (by_number == by_name) return UsageError(Tr("team.usage_find"), g);
  if (by_name && (o_.name.empty() || o_.birth_date.empty())) {
    return UsageError(Tr("team.usage_name_and_birth"), g);
  }
  Identity who{
      by_number ? v1::BLIND_INDEX_KIND_NATIONAL_NUMBER : v1::BLIND_INDEX_KIND_NAME_AND_BIRTH_DATE,
      ""};
  auto normalised = by_number ? client::NormaliseNationalNumber(o_.national_number)
                              : client::NormaliseNameAndBirthDate(o_.name, o_.birth_date);
  if (!normalised.ok()) return UsageError(std::string(normalised.status().message()), g);
  who.normalised = *std::move(normalised);
  auto keys = LoadKeys(o_.org_key, g);
  if (!keys.ok()) return Fail(keys.status(), g);
  // Every key: a team indexed before a rotation is found under its old key.
  std::map<std::string, v1::TeamSummary> found;
  for (const client::OrganisationKey& key : keys->keys) {
    auto index = IndexOf(key, who);
    if (!index.ok()) return Fail(index.status(), g);
    auto teams = p.relay().FindTeams(*index);
    if (!teams.ok()) return Fail(teams.status(), g);
    for (const v1::TeamSummary& t : *teams) {
      auto it = found.find(t.team_id());
      // Prefer the entry under the current key.
      if (it == found.end() || t.key_version() == keys->current().version) {
        found[t.team_id()] = t;
      }
    }
  }
  if (found.empty() && !g.json) {
    std::cout << Tr(by_number ? "team.find_none" : "team.find_none_name") << "\n";
  }
  for (const auto& [id, t] : found) {
    const bool old_key = !t.key_version().empty() && t.key_version() != keys->current().version;
    std::string line = Tr("team.found", {{"team", id},
                                         {"status", TeamStatusLabel(t.status())},
                                         {"since", FormatTime(t.created_at_ms())}});
    if (!t.coordinator_account_id().empty()) {
      absl::StrAppend(
          &line, "\n  ",
          Tr("team.coordinator", {{"name", absl::StrCat(t.coordinator_name(), " (",
                                                        t.coordinator_account_id(), ")")}}));
    }
    if (!t.case_manager_account_id().empty()) {
      absl::StrAppend(
          &line, "\n  ",
          Tr("team.case_manager", {{"name", absl::StrCat(t.case_manager_name(), " (",
                                                         t.case_manager_account_id(), ")")}}));
    }
    if (old_key) {
      absl::StrAppend(&line, "\n  ",
                      Tr("team.found_old_key", {{"key", t.key_version()}, {"team", id}}));
    }
    // Two people may share a name and a birth date.
    if (by_name) absl::StrAppend(&line, "\n  ", Tr("team.found_by_name_check"));
    Print(g,
          {{"team_id", id},
           {"status", TeamStatusName(t.status())},
           {"coordinator_account_id", t.coordinator_account_id()},
           {"coordinator_name", t.coordinator_name()},
           {"case_manager_account_id", t.case_manager_account_id()},
           {"case_manager_name", t.case_manager_name()},
           {"created", FormatTime(t.created_at_ms())},
           {"key_version", t.key_version()},
           {"found_by", KindName(who.kind)}},
          line);
  }
  return kExitOk;
}

int TeamCommands::Close(Profile& p, const Globals& g) {
  auto team = p.relay().CloseTeam(o_.team, o_.reason);
  if (!team.ok()) return Fail(team.status(), g);
  Print(g, {{"team_id", o_.team}, {"status", TeamStatusName(team->status())}},
        team->erase_after_ms() > 0
            ? Tr("team.closed_kept_until",
                 {{"team", o_.team}, {"until", FormatTime(team->erase_after_ms())}})
            : Tr("team.closed", {{"team", o_.team}}));
  return kExitOk;
}

int TeamCommands::Erase(Profile& p, const Globals& g) {
  if (!o_.yes) {
    return UsageError(Tr("team.usage_erase_confirm", {{"team", o_.team}}), g);
  }
  auto erased = p.relay().EraseTeam(o_.team);
  if (!erased.ok()) return Fail(erased.status(), g);
  p.messenger().ForgetTeam(o_.team).IgnoreError();
  Print(g,
        {{"team_id", o_.team},
         {"envelopes_deleted", erased->envelopes_deleted()},
         {"attachments_deleted", erased->attachments_deleted()},
         {"intakes_unlinked", erased->intakes_unlinked()},
         {"audit_entries_kept", erased->audit_entries_kept()},
         {"audit_kept_until", FormatTime(erased->audit_kept_until_ms())}},
        Tr("team.erased", {{"team", o_.team},
                           {"messages", std::to_string(erased->envelopes_deleted())},
                           {"documents", std::to_string(erased->attachments_deleted())},
                           {"entries", std::to_string(erased->audit_entries_kept())},
                           {"until", FormatTime(erased->audit_kept_until_ms())},
                           {"intakes", std::to_string(erased->intakes_unlinked())}}));
  return kExitOk;
}

int TeamCommands::Audit(Profile& p, const Globals& g) {
  client::Messenger& m = p.messenger();
  std::vector<v1::AuditEntry> entries;
  uint64_t after = 0;
  for (;;) {
    auto page = p.relay().ReadAudit(o_.team, after);
    if (!page.ok()) return Fail(page.status(), g);
    for (const auto& e : page->entries()) entries.push_back(e);
    if (!page->more() || page->entries_size() == 0) break;
    after = page->entries(page->entries_size() - 1).sequence();
  }
  if (o_.verify) {
    auto server = p.relay().VerifyAudit(o_.team);
    if (!server.ok()) return Fail(server.status(), g);
    auto seen = p.state().LastAuditHead(o_.team);
    if (!seen.ok()) return Fail(seen.status(), g);
    // The server's word, then this device's own check of the chain and of
    // the head it was shown on team events.
    client::AuditCheck check;
    std::string by = "server";
    if (!server->intact()) {
      check.intact = false;
      check.broken_at = server->broken_at_sequence();
      check.problem = server->problem();
      check.entries = server->entries();
    } else {
      check = client::CheckAuditChain(entries, *seen);
      by = "device";
      if (check.intact && check.entries != server->entries()) {
        check.intact = false;
        check.broken_at = std::min(check.entries, server->entries()) + 1;
        check.problem =
            Tr("team.audit_count_mismatch", {{"counted", std::to_string(server->entries())},
                                             {"returned", std::to_string(check.entries)}});
      }
    }
    Print(g,
          {{"team_id", o_.team},
           {"intact", check.intact},
           {"entries", check.intact ? check.entries : server->entries()},
           {"broken_at", check.broken_at},
           {"problem", check.problem},
           {"found_by", check.intact ? "" : by}},
          check.intact
              ? Tr("team.audit_intact", {{"entries", std::to_string(check.entries)}})
              : Tr(by == "device" ? "team.audit_broken_device" : "team.audit_broken",
                   {{"entry", std::to_string(check.broken_at)}, {"problem", check.problem}}));
    return check.intact ? kExitOk : kExitFailed;
  }
  auto team = m.FetchTeam(o_.team);  // names; the log also names former members
  for (const v1::AuditEntry& entry : entries) {
    const v1::TeamEvent& e = entry.event();
    auto label = [&](const std::string& account, bool with_role) {
      std::string name;
      v1::Role role = v1::ROLE_UNSPECIFIED;
      if (team.ok()) {
        if (const v1::Member* member = FindMember(*team, account)) {
          name = member->display_name();
          role = member->role();
        }
      }
      if (name.empty()) name = m.DisplayName(account);
      return PersonLabel(name, with_role ? role : v1::ROLE_UNSPECIFIED, account);
    };
    const std::string actor = label(e.actor_account_id(), false);
    const std::string text = DescribeTeamEvent(e, actor, label(e.subject_account_id(), false));
    Print(g,
          {{"sequence", entry.sequence()},
           {"time", FormatTime(e.at_ms())},
           {"event", EventKindName(e.kind())},
           {"actor", e.actor_account_id()},
           {"subject", e.subject_account_id()},
           {"text", text}},
          absl::StrCat(entry.sequence(), "  ", FormatTime(e.at_ms()), "  ", text));
  }
  if (entries.empty() && !g.json) {
    std::cout << Tr("team.audit_empty", {{"team", o_.team}}) << "\n";
  }
  return kExitOk;
}

}  // namespace carerelay::cli
