#include "client/cli/file_commands.h"

#include <unistd.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/attachment_pointer.h"
#include "client/attachment_transfer.h"
#include "client/cli/catalog.h"
#include "client/cli/progress_bar.h"
#include "client/cli/team_commands.h"
#include "client/team_view.h"

namespace carerelay::cli {
namespace {

std::string Example(const std::string& lines) { return "Example:\n" + lines; }

}  // namespace

FileCommands::FileCommands(CLI::App* file) {
  send_ = file->add_subcommand("send", "Share a document on a team channel (encrypted)");
  send_->add_option("--team", team_, "Team id (or its first 8 characters)")->required();
  send_->add_option("--channel", channel_, "team, care, clinical or intake")->required();
  send_->add_option("file", path_, "The document")->required();
  send_->add_option("--caption", caption_, "A line shown with the document");
  send_->add_option("--type", type_, "Media type (default: from the file name)");
  send_->footer(
      Example("  carerelay file send --team 5f0c1a2b --channel clinical discharge-letter.pdf \\\n"
              "      --caption \"Discharge letter, cardiology\"\n"
              "If the connection drops, run the same command again: the upload resumes."));

  get_ = file->add_subcommand("get", "Fetch, check and decrypt a document you received");
  get_->add_option("attachment", attachment_, "The document's id (shown by receive and files)")
      ->required();
  get_->add_option("--out", out_, "A folder, or the file to write (default: here, its own name)");
  get_->add_flag("--force", force_, "Replace a file of the same name");
  get_->footer(
      Example("  carerelay file get 9d41c07a2be34f5e8a1b6c3d2e0f4a57 --out ~/Documents\n"
              "The file appears only once every part has been checked; run it again to resume."));

  list_ = file->add_subcommand("list", "Documents this profile has received or sent");
  list_->add_option("--team", team_, "Only this team's");
  list_->footer(Example("  carerelay file list --team 5f0c1a2b"));
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
