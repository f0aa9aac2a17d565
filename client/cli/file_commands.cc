#include "client/cli/file_commands.h"

#include <unistd.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
  send_->add_option("--team", team_, Tr("help.file.send.team"))->required();
  send_->add_option("--channel", channel_, Tr("help.file.send.channel"))->required();
  send_->add_option("file", path_, Tr("help.file.send.file"))->required();
  send_->add_option("--caption", caption_, Tr("help.file.send.caption"));
  send_->add_option("--type", type_, Tr("help.file.send.type"));
  send_->footer(HelpExamples(
      "  carerelay file send --team 5f0c1a2b --channel clinical discharge-letter.pdf \\\n"
      "      --caption \"Discharge letter, cardiology\"",
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
  auto channel = ParseTypedChannel(channel_);
  if (!channel.ok()) return UsageError(std::string(channel.status().message()), g);
  auto team = ResolveTeam(p.relay(), team_);
  if (!team.ok()) return Fail(team.status(), g);
  client::AttachmentTransfer transfer(&p.relay(), &p.messenger(), &p.keys(), p.dir());
  ProgressBar bar(client::SafeFileName(path_), !g.json && isatty(STDERR_FILENO));
  client::TransferOptions options;
  options.progress = [&](uint64_t done, uint64_t total) { bar.Update(done, total); };
  auto sent = transfer.SendFile({*team, *channel, path_, caption_, type_}, options);
  if (!sent.ok()) return Fail(sent.status(), g);
  const v1::AttachmentPointer& a = sent->pointer;
  Print(g,
        {{"attachment_id", a.attachment_id()},
         {"message_id", sent->message_id},
         {"team", *team},
         {"channel", client::ChannelName(*channel)},
         {"file_name", a.file_name()},
         {"size", a.plaintext_size()},
         {"media_type", a.media_type()},
         {"resumed_from", sent->resumed_from}},
        absl::StrCat(Tr(sent->resumed_from > 0 ? "file.shared_resumed" : "file.shared",
                        {{"file", a.file_name()},
                         {"size", client::HumanSize(a.plaintext_size())},
                         {"channel", ChannelLabel(*channel)},
                         {"team", Short(*team)}}),
                     "\n", Tr("file.document_id", {{"id", a.attachment_id()}})));
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
  for (const auto& a : *files) {
    Print(g,
          {{"attachment_id", a.attachment_id()},
           {"team", a.team_id()},
           {"channel", client::ChannelName(static_cast<v1::Channel>(a.channel()))},
           {"file_name", a.file_name()},
           {"size", a.plaintext_size()},
           {"media_type", a.media_type()},
           {"caption", a.caption()}},
          Tr(a.caption().empty() ? "file.list_row" : "file.list_row_caption",
             {{"id", a.attachment_id()},
              {"file", a.file_name()},
              {"size", client::HumanSize(a.plaintext_size())},
              {"team", Short(a.team_id())},
              {"channel", ChannelLabel(static_cast<v1::Channel>(a.channel()))},
              {"caption", a.caption()}}));
  }
  if (files->empty() && !g.json) std::cout << Tr("file.none") << "\n";
  return kExitOk;
}

}  // namespace carerelay::cli
