#include "client/cli/notebook_commands.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/cli/catalog.h"
#include "client/cli/help_text.h"
#include "client/cli/history_commands.h"
#include "client/cli/team_commands.h"
#include "client/notebook.h"
#include "client/team_view.h"

namespace carerelay::cli {
namespace {

using Kind = v1::NotebookEntry::Kind;

struct KindName {
  Kind kind;
  const char* token;  // what people type
  const char* label;  // catalog key
};
constexpr KindName kKinds[] = {
    {v1::NotebookEntry::KIND_VISIT_DONE, "visit", "notebook.kind.visit"},
    {v1::NotebookEntry::KIND_OBSERVATION, "observation", "notebook.kind.observation"},
    {v1::NotebookEntry::KIND_TREATMENT_CHANGE, "treatment", "notebook.kind.treatment"},
    {v1::NotebookEntry::KIND_INCIDENT, "incident", "notebook.kind.incident"},
    {v1::NotebookEntry::KIND_NOTE_TO_NEXT_VISITOR, "handover", "notebook.kind.handover"},
};

// A date typed as YYYY-MM-DD (local), or today when empty.
absl::StatusOr<absl::Time> ParseDay(const std::string& typed, absl::Time if_empty) {
  if (typed.empty()) return if_empty;
  absl::Time t;
  std::string err;
  if (!absl::ParseTime("%Y-%m-%d", typed, absl::LocalTimeZone(), &t, &err)) {
    return absl::InvalidArgumentError(Tr("notebook.usage_date", {{"value", typed}}));
  }
  return t;
}

}  // namespace

absl::StatusOr<Kind> ParseNotebookKind(const std::string& typed) {
  const std::string lower = absl::AsciiStrToLower(typed);
  for (const KindName& k : kKinds) {
    if (lower == k.token || lower == absl::AsciiStrToLower(v1::NotebookEntry::Kind_Name(k.kind)) ||
        lower == absl::AsciiStrToLower(v1::NotebookEntry::Kind_Name(k.kind)).substr(5)) {
      return k.kind;
    }
  }
  return absl::InvalidArgumentError(Tr("notebook.usage_kind", {{"value", typed}}));
}

std::string NotebookKindToken(Kind kind) {
  for (const KindName& k : kKinds) {
    if (k.kind == kind) return k.token;
  }
  return "unknown";
}

std::string NotebookKindLabel(Kind kind) {
  for (const KindName& k : kKinds) {
    if (k.kind == kind) return Tr(k.label);
  }
  return Tr("notebook.kind.unknown");
}

void AddNoteJson(const v1::NotebookEntry& entry, nlohmann::json* j) {
  (*j)["entry_id"] = entry.entry_id();
  (*j)["kind"] = NotebookKindToken(entry.kind());
  (*j)["date"] = FormatDate(entry.dated_ms());
  (*j)["revision"] = entry.revision();
  (*j)["text"] = entry.body();
}

absl::StatusOr<std::string> AddNote(client::Messenger& m, const std::string& team_id,
                                    v1::Channel channel, v1::NotebookEntry::Kind kind,
                                    const std::string& text, absl::Time dated) {
  auto content = client::NewNotebookEntry(kind, text, dated);
  if (!content.ok()) return content.status();
  auto sent = m.SendTeamContent(team_id, channel, *content);
  if (!sent.ok()) return sent.status();
  return content->notebook_entry().entry_id();
}

NotebookCommands::NotebookCommands(CLI::App* app) {
  notebook_ = app->add_subcommand("notebook", Tr("help.notebook"));
  notebook_->require_subcommand(1);
  notebook_->footer(
      HelpExamples("  carerelay notebook add 5f0c1a2b --kind visit \"Toilette, pansement refait, "
                   "plaie propre\"\n"
                   "  carerelay notebook list 5f0c1a2b",
                   Tr("help.notebook.note")));
  add_ = notebook_->add_subcommand("add", Tr("help.notebook.add"));
  add_->add_option("team", team_, Tr("help.notebook.team"))->required();
  add_->add_option("--kind", kind_, Tr("help.notebook.kind"))->required();
  add_->add_option("--channel", channel_, Tr("help.notebook.channel"));
  add_->add_option("--date", date_, Tr("help.notebook.date"));
  add_->add_option("text", words_, Tr("help.notebook.text"))->required();
  add_->footer(HelpExamples(
      "  carerelay notebook add 5f0c1a2b --kind handover \"Insuline 8 UI le soir, pas 10\"\n"
      "  carerelay notebook add 5f0c1a2b --kind incident --date 2026-03-14 \"Chute sans "
      "blessure\""));
  list_ = notebook_->add_subcommand("list", Tr("help.notebook.list"));
  list_->add_option("team", team_, Tr("help.notebook.team"))->required();
  list_->add_option("--channel", channel_, Tr("help.notebook.list.channel"));
  list_->add_flag("--revisions", revisions_, Tr("help.notebook.list.revisions"));
  list_->footer(HelpExamples("  carerelay notebook list 5f0c1a2b --revisions"));
  edit_ = notebook_->add_subcommand("edit", Tr("help.notebook.edit"));
  edit_->add_option("team", team_, Tr("help.notebook.team"))->required();
  edit_->add_option("entry", entry_, Tr("help.notebook.edit.entry"))->required();
  edit_->add_option("text", words_, Tr("help.notebook.text"))->required();
  edit_->add_option("--kind", kind_, Tr("help.notebook.edit.kind"));
  edit_->add_option("--date", date_, Tr("help.notebook.edit.date"));
  edit_->footer(HelpExamples(
      "  carerelay notebook edit 5f0c1a2b 9d41c0aa \"Insuline 6 UI le soir (Dr Martin)\""));
}

bool NotebookCommands::parsed() const { return notebook_->parsed(); }

int NotebookCommands::Run(Profile& p, const Globals& g) {
  auto team_id = ResolveTeam(p.relay(), team_);
  if (!team_id.ok()) return Fail(team_id.status(), g);
  if (add_->parsed()) return Add(p, g, *team_id);
  if (list_->parsed()) return List(p, g, *team_id);
  return Edit(p, g, *team_id);
}

int NotebookCommands::Add(Profile& p, const Globals& g, const std::string& team_id) {
  v1::Channel channel = v1::CHANNEL_CARE;
  if (!channel_.empty()) {
    auto typed = ParseTypedChannel(channel_);
    if (!typed.ok()) return UsageError(std::string(typed.status().message()), g);
    channel = *typed;
  }
  auto kind = ParseNotebookKind(kind_);
  if (!kind.ok()) return UsageError(std::string(kind.status().message()), g);
  auto dated = ParseDay(date_, absl::Now());
  if (!dated.ok()) return UsageError(std::string(dated.status().message()), g);
  auto entry_id =
      AddNote(p.messenger(), team_id, channel, *kind, absl::StrJoin(words_, " "), *dated);
  if (!entry_id.ok()) return Fail(entry_id.status(), g);
  Print(g, {{"entry_id", *entry_id}, {"team", team_id}, {"channel", client::ChannelName(channel)}},
        Tr("notebook.added", {{"entry", Short(*entry_id)},
                              {"kind", NotebookKindLabel(*kind)},
                              {"channel", ChannelLabel(channel)}}));
  return kExitOk;
}

int NotebookCommands::List(Profile& p, const Globals& g, const std::string& team_id) {
  std::vector<int> channels;
  if (!channel_.empty()) {
    auto typed = ParseTypedChannel(channel_);
    if (!typed.ok()) return UsageError(std::string(typed.status().message()), g);
    channels.push_back(*typed);
  }
  auto items = client::ListNotebook(p.messenger().history(), team_id, channels);
  if (!items.ok()) return Fail(items.status(), g);
  const std::string& self = p.config().account_id;
  nlohmann::json all = nlohmann::json::array();
  std::string human =
      Tr("notebook.heading", {{"team", Short(team_id)}, {"count", std::to_string(items->size())}});
  for (const client::NotebookItem& item : *items) {
    const v1::NotebookEntry& now = item.current();
    const v1::HistoryEntry& first = item.revisions.front();
    nlohmann::json revisions = nlohmann::json::array();
    for (const v1::HistoryEntry& r : item.revisions) revisions.push_back(HistoryJson(r));
    all.push_back({{"entry_id", item.entry_id},
                   {"kind", NotebookKindToken(now.kind())},
                   {"date", FormatDate(now.dated_ms())},
                   {"channel", client::ChannelName(static_cast<v1::Channel>(first.channel()))},
                   {"author", first.sender_account_id()},
                   {"author_name", first.sender_name()},
                   {"text", now.body()},
                   {"revisions", revisions}});
    const std::string author =
        first.sender_account_id() == self
            ? Tr("history.you")
            : PersonLabel(first.sender_name(), static_cast<v1::Role>(first.sender_role()),
                          first.sender_account_id());
    absl::StrAppend(&human, "\n",
                    Tr(item.revisions.size() > 1 ? "notebook.entry_edited" : "notebook.entry",
                       {{"entry", Short(item.entry_id)},
                        {"date", FormatDate(now.dated_ms())},
                        {"kind", NotebookKindLabel(now.kind())},
                        {"channel", ChannelLabel(static_cast<v1::Channel>(first.channel()))},
                        {"author", author},
                        {"text", now.body()},
                        {"edited", FormatTime(item.latest().content().sent_at_ms())},
                        {"count", std::to_string(item.revisions.size() - 1)}}));
    if (revisions_ && item.revisions.size() > 1) {
      for (size_t i = 0; i + 1 < item.revisions.size(); ++i) {
        const v1::Content& c = item.revisions[i].content();
        absl::StrAppend(&human, "\n",
                        Tr("notebook.revision", {{"revision", std::to_string(i + 1)},
                                                 {"time", FormatTime(c.sent_at_ms())},
                                                 {"text", c.notebook_entry().body()}}));
      }
    }
  }
  if (items->empty()) absl::StrAppend(&human, "\n", Tr("notebook.empty"));
  Print(g, {{"team", team_id}, {"entries", all}}, human);
  return kExitOk;
}

int NotebookCommands::Edit(Profile& p, const Globals& g, const std::string& team_id) {
  v1::NotebookEntry::Kind kind = v1::NotebookEntry::KIND_UNSPECIFIED;
  if (!kind_.empty()) {
    auto typed = ParseNotebookKind(kind_);
    if (!typed.ok()) return UsageError(std::string(typed.status().message()), g);
    kind = *typed;
  }
  auto dated = ParseDay(date_, absl::InfinitePast());
  if (!dated.ok()) return UsageError(std::string(dated.status().message()), g);
  // The entry by the start of its id, as `notebook list` shows it.
  auto items = client::ListNotebook(p.messenger().history(), team_id);
  if (!items.ok()) return Fail(items.status(), g);
  std::vector<std::string> matches;
  for (const client::NotebookItem& item : *items) {
    if (!entry_.empty() && item.entry_id.rfind(absl::AsciiStrToLower(entry_), 0) == 0) {
      matches.push_back(item.entry_id);
    }
  }
  if (matches.size() != 1) {
    return Fail(
        matches.empty()
            ? absl::NotFoundError(Tr("notebook.error.no_entry", {{"entry", entry_}}))
            : absl::InvalidArgumentError(Tr("notebook.error.ambiguous", {{"entry", entry_}})),
        g);
  }
  auto edit =
      client::EditNotebookEntry(p.messenger().history(), team_id, matches[0], p.config().account_id,
                                absl::StrJoin(words_, " "), kind, *dated);
  if (!edit.ok()) return Fail(edit.status(), g);
  auto sent = p.messenger().SendTeamContent(team_id, edit->channel, edit->content);
  if (!sent.ok()) return Fail(sent.status(), g);
  const uint32_t revision = edit->content.notebook_entry().revision();
  Print(g, {{"entry_id", matches[0]}, {"revision", revision}},
        Tr("notebook.edited",
           {{"entry", Short(matches[0])}, {"revision", std::to_string(revision)}}));
  return kExitOk;
}

}  // namespace carerelay::cli
