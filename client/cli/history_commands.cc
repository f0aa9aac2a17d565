#include "client/cli/history_commands.h"

#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/attachment_pointer.h"
#include "client/cli/catalog.h"
#include "client/cli/help_text.h"
#include "client/cli/notebook_commands.h"
#include "client/cli/team_commands.h"
#include "client/history.h"
#include "client/team_view.h"

namespace carerelay::cli {

HistoryCommands::HistoryCommands(CLI::App* team, CLI::App* message) {
  team_history_ = team->add_subcommand("history", Tr("help.team.history"));
  team_history_->add_option("team", team_, Tr("help.team.history.team"))->required();
  team_history_->add_option("--channel", channel_, Tr("help.team.history.channel"));
  team_history_->footer(HelpExamples(
      "  carerelay team history 5f0c1a2b\n"
      "  carerelay team history 5f0c1a2b --channel clinical --search \"lettre de sortie\"",
      Tr("help.history.note")));
  message_history_ = message->add_subcommand("history", Tr("help.message.history"));
  message_history_->add_option("account", account_, Tr("help.message.history.account"))->required();
  message_history_->footer(
      HelpExamples("  carerelay message history 3f2ab0c1d2e3f4a5b6c7d8e9f0a1b2c3 --search INR",
                   Tr("help.history.note")));
  visibility_ = team->add_subcommand("history-visibility", Tr("help.team.history_visibility"));
  visibility_->add_option("team", team_, Tr("help.team.history.team"))->required();
  visibility_->add_option("setting", setting_, Tr("help.team.history_visibility.setting"));
  visibility_->add_option("days", days_, Tr("help.team.history_visibility.days"));
  visibility_->footer(
      HelpExamples("  carerelay team history-visibility 5f0c1a2b\n"
                   "  carerelay team history-visibility 5f0c1a2b last-days 30\n"
                   "  carerelay team history-visibility 5f0c1a2b from-joining",
                   Tr("help.team.history_visibility.note")));
  handover_ = team->add_subcommand("history-handover", Tr("help.team.history_handover"));
  handover_->add_option("team", team_, Tr("help.team.history.team"))->required();
  handover_->add_option("account", account_, Tr("help.team.history_handover.account"))->required();
  handover_->footer(
      HelpExamples("  carerelay team history-handover 5f0c1a2b 3f2ab0c1d2e3f4a5b6c7d8e9f0a1b2c3",
                   Tr("help.team.history_handover.note")));
  for (CLI::App* cmd : {team_history_, message_history_}) {
    cmd->add_option("--search", search_, Tr("help.history.search"));
    cmd->add_option("--last", last_, Tr("help.history.last"));
  }
}

bool HistoryCommands::parsed() const {
  return team_history_->parsed() || message_history_->parsed() || visibility_->parsed() ||
         handover_->parsed();
}

int HistoryCommands::Run(Profile& p, const Globals& g) {
  if (visibility_->parsed()) return Visibility(p, g);
  if (handover_->parsed()) return Handover(p, g);
  return team_history_->parsed() ? TeamHistory(p, g) : Conversation(p, g);
}

std::string HistoryVisibilityLabel(const std::string& detail) {
  if (detail == "from_joining") return Tr("history.visibility.from_joining");
  if (absl::StartsWith(detail, "last_days ")) {
    return Tr("history.visibility.last_days", {{"days", detail.substr(10)}});
  }
  return Tr("history.visibility.whole_pathway");
}

int HistoryCommands::Handover(Profile& p, const Globals& g) {
  auto team_id = ResolveTeam(p.relay(), team_);
  if (!team_id.ok()) return Fail(team_id.status(), g);
  auto handed = p.handover().OfferTo(*team_id, account_, /*again=*/true);
  if (!handed.ok()) return Fail(handed.status(), g);
  Print(g, {{"team", *team_id}, {"account", account_}, {"entries", *handed}},
        *handed > 0 ? Tr("history.handed_over",
                         {{"count", std::to_string(*handed)}, {"account", Short(account_)}})
                    : Tr("history.nothing_handed_over"));
  return kExitOk;
}

int HistoryCommands::Visibility(Profile& p, const Globals& g) {
  using V = v1::HistoryVisibility;
  auto team_id = ResolveTeam(p.relay(), team_);
  if (!team_id.ok()) return Fail(team_id.status(), g);
  absl::StatusOr<v1::Team> team = absl::UnknownError("unset");
  if (setting_.empty()) {
    if (days_ != 0) return UsageError(Tr("history.usage_visibility"), g);
    team = p.relay().GetTeam(*team_id);
  } else {
    v1::SetHistoryVisibilityRequest request;
    request.set_team_id(*team_id);
    if (setting_ == "whole-pathway" && days_ == 0) {
      request.set_scope(V::SCOPE_WHOLE_PATHWAY);
    } else if (setting_ == "from-joining" && days_ == 0) {
      request.set_scope(V::SCOPE_FROM_JOINING);
    } else if (setting_ == "last-days" && days_ > 0) {
      request.set_scope(V::SCOPE_LAST_DAYS);
      request.set_days(days_);
    } else {
      return UsageError(Tr("history.usage_visibility"), g);
    }
    team = p.relay().SetHistoryVisibility(request);
  }
  if (!team.ok()) return Fail(team.status(), g);
  const V& v = team->history_visibility();
  const std::string token = v.scope() == V::SCOPE_FROM_JOINING ? "from_joining"
                            : v.scope() == V::SCOPE_LAST_DAYS ? absl::StrCat("last_days ", v.days())
                                                              : "whole_pathway";
  nlohmann::json j = {{"team", *team_id},
                      {"scope", token.substr(0, token.find(' '))},
                      {"set_by_patient_side", v.set_by_patient_side()}};
  if (v.scope() == V::SCOPE_LAST_DAYS) j["days"] = v.days();
  Print(g, j,
        Tr("history.visibility",
           {{"team", Short(*team_id)},
            {"setting", HistoryVisibilityLabel(token)},
            {"by", Tr(v.set_by_patient_side() ? "history.by_patient_side" : "history.by_team")}}));
  return kExitOk;
}

namespace {

int PrintEntries(const Globals& g, const std::vector<v1::HistoryEntry>& entries,
                 const std::string& self, const std::string& empty) {
  nlohmann::json all = nlohmann::json::array();
  std::string human;
  for (const v1::HistoryEntry& e : entries) {
    all.push_back(HistoryJson(e));
    absl::StrAppend(&human, human.empty() ? "" : "\n", HistoryLine(e, self));
  }
  Print(g, {{"entries", all}}, entries.empty() ? empty : human);
  return kExitOk;
}

}  // namespace

int HistoryCommands::TeamHistory(Profile& p, const Globals& g) {
  client::HistoryQuery query;
  auto team_id = ResolveTeam(p.relay(), team_);
  if (!team_id.ok()) return Fail(team_id.status(), g);
  query.team_id = *team_id;
  if (!channel_.empty()) {
    auto channel = ParseTypedChannel(channel_);
    if (!channel.ok()) return UsageError(std::string(channel.status().message()), g);
    query.channels.push_back(*channel);
  }
  query.search = search_;
  query.limit = last_;
  auto entries = p.messenger().history().List(query);
  if (!entries.ok()) return Fail(entries.status(), g);
  return PrintEntries(g, *entries, p.config().account_id,
                      Tr(search_.empty() ? "history.empty_team" : "history.no_match",
                         {{"team", Short(*team_id)}, {"search", search_}}));
}

int HistoryCommands::Conversation(Profile& p, const Globals& g) {
  client::HistoryQuery query;
  query.peer_account_id = account_;
  query.search = search_;
  query.limit = last_;
  auto entries = p.messenger().history().List(query);
  if (!entries.ok()) return Fail(entries.status(), g);
  return PrintEntries(g, *entries, p.config().account_id,
                      Tr(search_.empty() ? "history.empty_conversation" : "history.no_match",
                         {{"account", Short(account_)}, {"search", search_}}));
}

std::string HistoryLine(const v1::HistoryEntry& entry, const std::string& self) {
  const v1::Content& c = entry.content();
  const std::string sender =
      entry.sender_account_id() == self
          ? Tr("history.you")
          : PersonLabel(entry.sender_name(), static_cast<v1::Role>(entry.sender_role()),
                        entry.sender_account_id());
  const std::string where =
      entry.team_id().empty() ? "" : "#" + ChannelLabel(static_cast<v1::Channel>(entry.channel()));
  std::string what;
  if (c.has_attachment()) {
    const v1::AttachmentPointer& a = c.attachment();
    what = Tr("history.document", {{"file", a.file_name()},
                                   {"size", client::HumanSize(a.plaintext_size())},
                                   {"attachment", a.attachment_id()},
                                   {"caption", a.caption()}});
  } else if (c.has_notebook_entry()) {
    const v1::NotebookEntry& n = c.notebook_entry();
    what = Tr(n.revision() > 1 ? "history.note_edit" : "history.note",
              {{"kind", NotebookKindLabel(n.kind())},
               {"date", FormatDate(n.dated_ms())},
               {"text", n.body()}});
  } else {
    what = c.text().body();
  }
  std::string line = Tr(
      entry.urgent() ? "history.line_urgent" : "history.line",
      {{"time", FormatTime(c.sent_at_ms())}, {"where", where}, {"sender", sender}, {"what", what}});
  if (!entry.shared_by_account_id().empty()) {
    // Handed over when this account joined: only as true as who handed it.
    line += Tr("history.shared_by",
               {{"name", entry.shared_by_name().empty() ? Short(entry.shared_by_account_id())
                                                        : entry.shared_by_name()}});
  }
  return line;
}

nlohmann::json HistoryJson(const v1::HistoryEntry& entry) {
  const v1::Content& c = entry.content();
  nlohmann::json j = {{"message_id", c.message_id()},       {"time", FormatTime(c.sent_at_ms())},
                      {"sent_at_ms", c.sent_at_ms()},       {"from", entry.sender_account_id()},
                      {"sender_name", entry.sender_name()}, {"urgent", entry.urgent()}};
  if (!entry.shared_by_account_id().empty()) {
    j["shared_by"] = entry.shared_by_account_id();
    j["shared_by_name"] = entry.shared_by_name();
  }
  if (entry.sender_role() != 0) {
    j["sender_role"] = client::RoleName(static_cast<v1::Role>(entry.sender_role()));
  }
  if (!entry.team_id().empty()) {
    j["team"] = entry.team_id();
    j["channel"] = client::ChannelName(static_cast<v1::Channel>(entry.channel()));
  } else {
    j["with"] = entry.peer_account_id();
  }
  if (c.has_attachment()) {
    const v1::AttachmentPointer& a = c.attachment();
    j["type"] = "document";
    AddDocumentJson(a, &j);
  } else if (c.has_notebook_entry()) {
    const v1::NotebookEntry& n = c.notebook_entry();
    j["type"] = "note";
    AddNoteJson(n, &j);
  } else {
    j["type"] = "text";
    j["text"] = c.text().body();
  }
  return j;
}

}  // namespace carerelay::cli
