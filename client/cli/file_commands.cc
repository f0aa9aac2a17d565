#include "client/cli/file_commands.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/attachment_pointer.h"
#include "client/attachment_transfer.h"
#include "client/cli/catalog.h"
#include "client/cli/help_text.h"
#include "client/cli/progress_bar.h"
#include "client/cli/team_commands.h"
#include "client/team_view.h"

namespace carerelay::cli {
FileCommands::FileCommands(CLI::App* file) {
  send_ = file->add_subcommand("send", Tr("help.file.send"));
  send_->add_option("--team", team_, Tr("help.file.send.team"));
  send_->add_option("--channel", channel_, Tr("help.file.send.channel"));
  send_->add_option("--new-version-of", new_version_of_, Tr("help.file.send.new_version_of"));
  send_->add_option("file", path_, Tr("help.file.send.file"))->required();
  send_->add_option("--caption", caption_, Tr("help.file.send.caption"));
  send_->add_option("--type", type_, Tr("help.file.send.type"));
  send_->footer(HelpExamples(
      "  carerelay file send --team 5f0c1a2b --channel clinical discharge-letter.pdf \\\n"
      "      --caption \"Discharge letter, cardiology\"\n"
      "  carerelay file send --new-version-of 9d41c07a2be34f5e8a1b6c3d2e0f4a57 "
      "medication-schema-v2.pdf",
      Tr("help.file.send.note")));

  get_ = file->add_subcommand("get", Tr("help.file.get"));
  get_->add_option("attachment", attachment_, Tr("help.file.get.attachment"))->required();
  get_->add_option("--out", out_, Tr("help.file.get.out"));
  get_->add_flag("--force", force_, Tr("help.file.get.force"));
  get_->footer(
      HelpExamples("  carerelay file get 9d41c07a2be34f5e8a1b6c3d2e0f4a57 --out ~/Documents",
                   Tr("help.file.get.note")));

  list_ = file->add_subcommand("list", Tr("help.file.list"));
  list_->add_option("--team", team_, Tr("help.file.list.team"));
  list_->footer(HelpExamples("  carerelay file list --team 5f0c1a2b"));
}

bool FileCommands::parsed() const { return send_->parsed() || get_->parsed() || list_->parsed(); }

int FileCommands::Run(Profile& p, const Globals& g) {
  if (send_->parsed()) return SendFile(p, g);
  if (get_->parsed()) return GetFile(p, g);
  return List(p, g);
}

int FileCommands::SendFile(Profile& p, const Globals& g) {
  // A new version goes where its document is: --team and --channel may then
  // be left out.
  if (new_version_of_.empty() && (team_.empty() || channel_.empty())) {
    return UsageError(Tr("file.usage_send"), g);
  }
  client::SendFileRequest request{"",    v1::CHANNEL_UNSPECIFIED, path_, caption_,
                                  type_, new_version_of_};
  if (!channel_.empty()) {
    auto channel = ParseTypedChannel(channel_);
    if (!channel.ok()) return UsageError(std::string(channel.status().message()), g);
    request.channel = *channel;
  }
  if (!team_.empty()) {
    auto team = ResolveTeam(p.relay(), team_);
    if (!team.ok()) return Fail(team.status(), g);
    request.team_id = *team;
  }
  client::AttachmentTransfer transfer(&p.relay(), &p.messenger(), &p.keys(), p.dir());
  ProgressBar bar(client::SafeFileName(path_), !g.json && isatty(STDERR_FILENO));
  client::TransferOptions options;
  options.progress = [&](uint64_t done, uint64_t total) { bar.Update(done, total); };
  auto sent = transfer.SendFile(request, options);
  if (!sent.ok()) return Fail(sent.status(), g);
  const v1::AttachmentPointer& a = sent->pointer;
  const auto channel = static_cast<v1::Channel>(a.channel());
  const std::string* team = &a.team_id();
  Print(g,
        {{"attachment_id", a.attachment_id()},
         {"message_id", sent->message_id},
         {"team", *team},
         {"channel", client::ChannelName(channel)},
         {"file_name", a.file_name()},
         {"size", a.plaintext_size()},
         {"media_type", a.media_type()},
         {"document_id", client::DocumentIdOf(a)},
         {"version", client::VersionOf(a)},
         {"resumed_from", sent->resumed_from}},
        absl::StrCat(Tr(sent->resumed_from > 0 ? "file.shared_resumed" : "file.shared",
                        {{"file", a.file_name()},
                         {"size", client::HumanSize(a.plaintext_size())},
                         {"channel", ChannelLabel(channel)},
                         {"team", Short(*team)}}),
                     "\n", Tr("file.document_id", {{"id", a.attachment_id()}}),
                     a.document_id().empty()
                         ? ""
                         : "\n" + Tr("file.new_version", {{"version", std::to_string(a.version())},
                                                          {"document", a.document_id()}})));
  return kExitOk;
}

int FileCommands::GetFile(Profile& p, const Globals& g) {
  client::AttachmentTransfer transfer(&p.relay(), &p.messenger(), &p.keys(), p.dir());
  auto held = p.messenger().GetAttachment(attachment_);
  const std::string label =
      held.ok() && held->has_value() ? (*held)->file_name() : Short(attachment_);
  ProgressBar bar(label, !g.json && isatty(STDERR_FILENO));
  client::TransferOptions options;
  options.progress = [&](uint64_t done, uint64_t total) { bar.Update(done, total); };
  auto got = transfer.GetFile(attachment_, out_, force_, options);
  if (!got.ok()) return Fail(got.status(), g);
  const v1::AttachmentPointer& a = got->pointer;
  Print(g,
        {{"attachment_id", a.attachment_id()},
         {"path", got->path},
         {"size", a.plaintext_size()},
         {"media_type", a.media_type()},
         {"resumed_from", got->resumed_from}},
        Tr(got->resumed_from > 0 ? "file.saved_resumed" : "file.saved",
           {{"path", got->path},
            {"size", client::HumanSize(a.plaintext_size())},
            {"type", a.media_type()}}));
  return kExitOk;
}

int FileCommands::List(Profile& p, const Globals& g) {
  std::string team;
  if (!team_.empty()) {
    auto resolved = ResolveTeam(p.relay(), team_);
    if (!resolved.ok()) return Fail(resolved.status(), g);
    team = *resolved;
  }
  auto files = p.messenger().ListAttachments(team);
  if (!files.ok()) return Fail(files.status(), g);
  // One row per document, its latest version, naming the earlier ones.
  std::map<std::string, std::vector<const v1::AttachmentPointer*>> versions;
  for (const auto& a : *files) versions[client::DocumentIdOf(a)].push_back(&a);
  for (auto& [document, list] : versions) {
    std::sort(list.begin(), list.end(), [](const auto* x, const auto* y) {
      return client::VersionOf(*x) < client::VersionOf(*y);
    });
  }
  for (const auto& a : *files) {
    const auto& list = versions[client::DocumentIdOf(a)];
    if (list.back() != &a) continue;  // an earlier version, named on its latest's row
    std::vector<std::string> earlier;
    nlohmann::json earlier_ids = nlohmann::json::array();
    for (size_t i = 0; i + 1 < list.size(); ++i) {
      earlier.push_back(
          Tr("file.version_of", {{"version", std::to_string(client::VersionOf(*list[i]))},
                                 {"id", list[i]->attachment_id()}}));
      earlier_ids.push_back(list[i]->attachment_id());
    }
    Print(g,
          {{"attachment_id", a.attachment_id()},
           {"team", a.team_id()},
           {"channel", client::ChannelName(static_cast<v1::Channel>(a.channel()))},
           {"file_name", a.file_name()},
           {"size", a.plaintext_size()},
           {"media_type", a.media_type()},
           {"caption", a.caption()},
           {"document_id", client::DocumentIdOf(a)},
           {"version", client::VersionOf(a)},
           {"earlier_versions", earlier_ids}},
          Tr(a.caption().empty() ? "file.list_row" : "file.list_row_caption",
             {{"id", a.attachment_id()},
              {"file", a.file_name()},
              {"size", client::HumanSize(a.plaintext_size())},
              {"team", Short(a.team_id())},
              {"channel", ChannelLabel(static_cast<v1::Channel>(a.channel()))},
              {"caption", a.caption()}}) +
              (earlier.empty()
                   ? ""
                   : Tr("file.versions", {{"version", std::to_string(client::VersionOf(a))},
                                          {"earlier", absl::StrJoin(earlier, ", ")}})));
  }
  if (files->empty() && !g.json) std::cout << Tr("file.none") << "\n";
  return kExitOk;
}

}  // namespace carerelay::cli
