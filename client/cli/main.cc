// carerelay: the command-line client. Run `carerelay --help`.
//
// Exit codes: 0 success; 1 the operation failed (the message says why and
// what to do); 2 bad usage; 3 no such profile (register first); 4 a
// contact's identity key changed (check the safety number, then `trust`).
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/attachment_pointer.h"
#include "client/cli/catalog.h"
#include "client/cli/chat_command.h"
#include "client/cli/cli_common.h"
#include "client/cli/directory_commands.h"
#include "client/cli/file_commands.h"
#include "client/cli/help_text.h"
#include "client/cli/history_commands.h"
#include "client/cli/intake_commands.h"
#include "client/cli/notebook_commands.h"
#include "client/cli/profile.h"
#include "client/cli/resource_commands.h"
#include "client/cli/roster_commands.h"
#include "client/cli/shortcuts.h"
#include "client/cli/team_commands.h"
#include "client/team_view.h"

namespace carerelay::cli {
namespace {

// "team 5f0c1a2b (Jeanne Dubois)": the patient's name when this device holds
// the team profile.
std::string TeamLabel(client::Messenger& m, const std::string& team_id) {
  auto profile = m.GetTeamProfile(team_id);
  if (profile.ok() && profile->has_value() && !(*profile)->patient_name().empty()) {
    return Tr("message.team_label_patient",
              {{"team", Short(team_id)}, {"patient", (*profile)->patient_name()}});
  }
  return Tr("message.team_label", {{"team", Short(team_id)}});
}

// A delivery: one line for a person; with --json one object per device,
// as a script matches them with what it sent.
void PrintDelivery(const client::ReceivedMessage& m, client::Messenger& messenger, bool json) {
  const client::Delivery& d = m.delivery;
  const std::string now = FormatTime(absl::ToUnixMillis(absl::Now()));
  if (json) {
    for (const client::Delivery::To& t : d.to) {
      std::cout << DumpJson(DeliveryJson("type", now, d, t, m.team_id, m.channel)) << std::endl;
    }
    return;
  }
  const std::string sent = FormatTime(absl::ToUnixMillis(d.sent_at));
  const std::string line =
      m.team_id.empty() ? Tr("message.delivered", {{"to", DeliveredTo(d)}, {"sent", sent}})
                        : Tr("message.delivered_team", {{"to", DeliveredTo(d)},
                                                        {"sent", sent},
                                                        {"team", TeamLabel(messenger, m.team_id)},
                                                        {"channel", ChannelLabel(m.channel)}});
  std::cout << "[" << now << "] " << line << std::endl;
}

void PrintMessage(const client::ReceivedMessage& m, client::Messenger& messenger, bool json) {
  using Kind = client::ReceivedMessage::Kind;
  if (m.kind == Kind::kDelivered) return PrintDelivery(m, messenger, json);
  nlohmann::json j;
  j["envelope_id"] = m.envelope.id();
  j["from"] = m.sender.account_id.empty() ? "server" : m.sender.ToString();
  j["time"] = FormatTime(m.envelope.server_timestamp_ms());
  if (!m.team_id.empty()) j["team"] = m.team_id;
  std::string line;
  switch (m.kind) {
    case Kind::kDelivered:  // printed above
      return;
    case Kind::kProblem:
      j["type"] = "problem";
      j["problem"] = std::string(m.problem.message());
      // The problem itself is the library's own words.
      line = m.sender.account_id.empty()
                 ? "! " + std::string(m.problem.message())
                 : Tr("message.unreadable", {{"sender", Short(m.sender.account_id)},
                                             {"problem", std::string(m.problem.message())}});
      break;
    case Kind::kTeamEvent: {
      const v1::TeamEvent& e = m.event;
      const std::string text = DescribeTeamEvent(
          e, PersonLabel(m.sender_name, m.sender_role, e.actor_account_id()),
          PersonLabel(m.subject_name, v1::ROLE_UNSPECIFIED, e.subject_account_id()));
      j["type"] = "team_event";
      j["event"] = EventKindName(e.kind());
      j["actor"] = e.actor_account_id();
      j["actor_name"] = m.sender_name;
      j["subject"] = e.subject_account_id();
      j["subject_name"] = m.subject_name;
      if (e.role() != v1::ROLE_UNSPECIFIED) j["role"] = client::RoleName(e.role());
      j["text"] = text;
      line = Tr("message.team_event", {{"team", TeamLabel(messenger, m.team_id)}, {"event", text}});
      break;
    }
    case Kind::kAlert:
      j["type"] = "alert";
      j["alert"] = AlertKindName(m.alert.kind());
      if (!m.alert.message_id().empty()) j["message_id"] = m.alert.message_id();
      if (!m.alert.intake_id().empty()) j["intake_id"] = m.alert.intake_id();
      if (!m.alert.on_behalf_of_account_id().empty()) {
        j["on_behalf_of"] = m.alert.on_behalf_of_account_id();
      }
      if (m.alert.has_new_device()) {
        j["device"] =
            absl::StrCat(m.alert.new_device().account_id(), ".", m.alert.new_device().device_id());
      }
      j["text"] = DescribeAlert(m.alert, messenger.self().account_id, m.sender_name);
      line = "! " + j["text"].get<std::string>();
      break;
    case Kind::kContent:
      if (m.content.has_session_reset()) {
        j["type"] = "session_reset";
        line = Tr("message.session_reset", {{"sender", Short(m.sender.account_id)}});
      } else if (m.content.has_team_profile()) {
        const std::string by = PersonLabel(m.sender_name, m.sender_role, m.sender.account_id);
        j["type"] = "team_profile";
        j["updated_by"] = m.content.team_profile().updated_by_account_id();
        j["sender_name"] = m.sender_name;
        line = Tr("message.team_profile_updated",
                  {{"by", by}, {"team", TeamLabel(messenger, m.team_id)}, {"team_id", m.team_id}});
      } else if (m.content.has_history_share()) {
        j["type"] = "history_received";
        j["entries"] = m.history_entries;
        j["sender_name"] = m.sender_name;
        line = Tr(m.sender.account_id == messenger.self().account_id
                      ? "message.history_from_own_device"
                      : "message.history_received",
                  {{"sender", PersonLabel(m.sender_name, m.sender_role, m.sender.account_id)},
                   {"team", TeamLabel(messenger, m.team_id)},
                   {"count", std::to_string(m.history_entries)},
                   {"team_id", Short(m.team_id)}});
      } else if (m.content.has_notebook_entry()) {
        const v1::NotebookEntry& n = m.content.notebook_entry();
        j["type"] = "note";
        AddNoteJson(n, &j);
        j["channel"] = client::ChannelName(m.channel);
        j["sender_name"] = m.sender_name;
        j["message_id"] = m.content.message_id();
        line = Tr(n.revision() > 1 ? "message.note_edit" : "message.note",
                  {{"sender", PersonLabel(m.sender_name, m.sender_role, m.sender.account_id)},
                   {"team", TeamLabel(messenger, m.team_id)},
                   {"channel", ChannelLabel(m.channel)},
                   {"kind", NotebookKindLabel(n.kind())},
                   {"date", FormatDate(n.dated_ms())},
                   {"entry", Short(n.entry_id())},
                   {"text", n.body()}});
      } else if (m.content.has_attachment()) {
        const v1::AttachmentPointer& a = m.content.attachment();
        j["type"] = "document";
        AddDocumentJson(a, &j);
        j["channel"] = client::ChannelName(m.channel);
        j["sender_name"] = m.sender_name;
        j["message_id"] = m.content.message_id();
        line = Tr(a.caption().empty() ? "message.document" : "message.document_with_caption",
                  {{"sender", PersonLabel(m.sender_name, m.sender_role, m.sender.account_id)},
                   {"team", TeamLabel(messenger, m.team_id)},
                   {"channel", ChannelLabel(m.channel)},
                   {"file", a.file_name()},
                   {"size", client::HumanSize(a.plaintext_size())},
                   {"media_type", a.media_type()},
                   {"caption", a.caption()},
                   {"attachment", a.attachment_id()}});
      } else {
        j["type"] = "text";
        j["text"] = m.content.text().body();
        j["message_id"] = m.content.message_id();
        if (!m.content.group_id().empty()) j["group"] = m.content.group_id();
        if (!m.content.sync_for_account_id().empty())
          j["sent_to"] = m.content.sync_for_account_id();
        if (!m.team_id.empty()) {
          // A team channel: who, as the team knows them, and where.
          j["channel"] = client::ChannelName(m.channel);
          j["sender_name"] = m.sender_name;
          if (m.sender_role != v1::ROLE_UNSPECIFIED) {
            j["sender_role"] = client::RoleName(m.sender_role);
          }
          // Someone on several teams must see which patient it is about.
          line = Tr("message.team_text",
                    {{"sender", PersonLabel(m.sender_name, m.sender_role, m.sender.account_id)},
                     {"team", TeamLabel(messenger, m.team_id)},
                     {"channel", ChannelLabel(m.channel)},
                     {"text", m.content.text().body()}});
          break;
        }
        const bool sync = !m.content.sync_for_account_id().empty();
        const bool in_group = !m.content.group_id().empty();
        // A copy of what this account sent from another of its devices.
        std::string_view key = sync ? (in_group ? "message.sync_group_text" : "message.sync_text")
                                    : (in_group ? "message.group_text" : "message.direct_text");
        line = Tr(key, {{"sender", Short(m.sender.account_id)},
                        {"to", Short(m.content.sync_for_account_id())},
                        {"group", m.content.group_id()},
                        {"text", m.content.text().body()}});
      }
      break;
  }
  if (m.kind == Kind::kContent && m.envelope.ack_required() &&
      m.sender.account_id != messenger.self().account_id) {  // not our own team post
    // The urgent message id is the one the sender tracks; any envelope id of
    // it acknowledges it too.
    j["urgent"] = true;
    line = Tr("message.urgent", {{"message", line}, {"id", m.envelope.id()}});
  }
  if (json) {
    std::cout << DumpJson(j) << std::endl;
  } else {
    std::cout << "[" << j["time"].get<std::string>() << "] " << line << std::endl;
  }
}

// Ctrl-C and SIGTERM are taken by a thread (never in a signal handler, where
// locking and gRPC calls are unsafe): during `receive` they end the stream
// cleanly (exit 0), during `chat` the chat (a second one, at once);
// otherwise they end the process at once.
// The signal thread calls into them holding g_interruptible_mu, and main
// sets and clears them under it (InterruptibleWhile), so neither is
// destroyed while the signal thread is using it.
std::mutex g_interruptible_mu;
client::Messenger* g_receiving = nullptr;  // guarded by g_interruptible_mu
ChatCommand* g_chatting = nullptr;         // guarded by g_interruptible_mu

// Points `*slot` at `target` for this object's lifetime.
template <typename T>
class InterruptibleWhile {
 public:
  InterruptibleWhile(T** slot, T* target) : slot_(slot) {
    std::lock_guard<std::mutex> lock(g_interruptible_mu);
    *slot_ = target;
  }
  ~InterruptibleWhile() {
    std::lock_guard<std::mutex> lock(g_interruptible_mu);
    *slot_ = nullptr;
  }
  InterruptibleWhile(const InterruptibleWhile&) = delete;
  InterruptibleWhile& operator=(const InterruptibleWhile&) = delete;

 private:
  T** slot_;
};

void HandleSignalsOnAThread() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // inherited by every later thread
  std::thread([signals] {
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      std::lock_guard<std::mutex> lock(g_interruptible_mu);
      if (g_chatting != nullptr && g_chatting->Interrupt()) continue;
      if (g_receiving != nullptr) {
        g_receiving->StopReceiving();
      } else {
        _exit(128 + sig);
      }
    }
  }).detach();
}

}  // namespace
}  // namespace carerelay::cli

int main(int argc, char** argv) {
  using namespace carerelay;
  using namespace carerelay::cli;
  // gRPC's threads may still be finishing a TLS read when main returns;
  // OpenSSL's exit handler would then delete the per-thread error state's key
  // under them and leak it. The process is ending: skip that cleanup.
  OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);
  HandleSignalsOnAThread();
  std::vector<std::string> args = ExpandShortcut({argv + 1, argv + argc});
  // The help and the parse errors speak the person's language, so it is
  // chosen before the commands are built; a bad --lang is reported once the
  // command line has parsed.
  absl::StatusOr<Language> language = LanguageFromArguments(args);
  SetLanguage(language.ok() ? *language : Language::kEnglish);

  CLI::App app{Tr("help.carerelay")};
  app.require_subcommand(1);
  std::string shortcuts;
  for (const auto& [shortcut, command] : Shortcuts()) {
    absl::StrAppend(&shortcuts, "  ", shortcut, std::string(15 - shortcut.size(), ' '), command,
                    "\n");
  }
  app.footer(Tr("help.carerelay.nouns") + "\n" +
             HelpExamples("  carerelay account register --server localhost:7443 --ca-file "
                          "deploy/dev-tls/ca.crt \\\n"
                          "      --code 7KQ2M-X9TRD-4HB8N-CW3PZ --unencrypted\n"
                          "  carerelay message send --to 3f2a...e1 \"Discharge letter is on its "
                          "way\"\n"
                          "  carerelay message receive --follow\n"
                          "  carerelay chat --team 5f0c1a2b\n"
                          "  carerelay team create\n"
                          "  carerelay file send --team 5f0c1a2b --channel clinical letter.pdf",
                          Tr("help.carerelay.chat_and_team")) +
             "\n" + Tr("help.carerelay.shortcuts") + "\n" + shortcuts +
             Tr("help.carerelay.profiles_and_exit_codes"));
  Globals g;
  if (const char* p = getenv("CARERELAY_PROFILE"); p && *p) g.profile = p;
  app.add_option("--home", g.home, Tr("help.global.home"));
  app.add_option("--profile", g.profile, Tr("help.global.profile"))->capture_default_str();
  app.add_option("--passphrase-file", g.passphrase_file, Tr("help.global.passphrase_file"));
  app.add_flag("--json", g.json, Tr("help.global.json"));
  std::string lang;
  app.add_option("--lang", lang, Tr("help.global.lang"));

  // The nouns; each command is NOUN VERB (shortcuts.h lists the one-word
  // shortcuts of the everyday ones).
  CLI::App* account_cmd = app.add_subcommand("account", Tr("help.account"));
  account_cmd->require_subcommand(1);
  account_cmd->footer(
      HelpExamples("  carerelay account show\n"
                   "  carerelay account keys"));
  CLI::App* profile_cmd = app.add_subcommand("profile", Tr("help.profile"));
  profile_cmd->require_subcommand(1);
  profile_cmd->footer(HelpExamples("  carerelay profile list"));
  CLI::App* contact_cmd = app.add_subcommand("contact", Tr("help.contact"));
  contact_cmd->require_subcommand(1);
  contact_cmd->footer(
      HelpExamples("  carerelay contact safety-number 3f2ab0c1d2e3f4a5b6c7d8e9f0a1b2c3"));
  CLI::App* message_cmd = app.add_subcommand("message", Tr("help.message"));
  message_cmd->require_subcommand(1);
  message_cmd->footer(HelpExamples(
      "  carerelay message send --team 5f0c1a2b --channel care \"Home help starts Monday\"\n"
      "  carerelay message receive --follow"));
  CLI::App* file_cmd = app.add_subcommand("file", Tr("help.file"));
  file_cmd->require_subcommand(1);
  file_cmd->footer(
      HelpExamples("  carerelay file send --team 5f0c1a2b --channel clinical letter.pdf\n"
                   "  carerelay file list"));

  // register
  struct {
    std::string server = "localhost:7443", ca_file, code, device_name = "carerelay cli";
    bool unencrypted = false, plaintext = false;
  } reg;
  CLI::App* register_cmd = account_cmd->add_subcommand("register", Tr("help.account.register"));
  register_cmd->add_option("--server", reg.server, Tr("help.account.register.server"))
      ->capture_default_str();
  register_cmd->add_option("--ca-file", reg.ca_file, Tr("help.account.register.ca_file"));
  register_cmd->add_option("--code", reg.code, Tr("help.account.register.code"))->required();
  register_cmd
      ->add_option("--device-name", reg.device_name, Tr("help.account.register.device_name"))
      ->capture_default_str();
  register_cmd->add_flag("--unencrypted", reg.unencrypted, Tr("help.account.register.unencrypted"));
  register_cmd->add_flag("--dev-plaintext", reg.plaintext,
                         Tr("help.account.register.dev_plaintext"));
  register_cmd->footer(
      HelpExamples("  CARERELAY_PASSPHRASE=... carerelay --profile nurse register \\\n"
                   "      --server localhost:7443 --ca-file deploy/dev-tls/ca.crt --code "
                   "7KQ2M-X9TRD-4HB8N-CW3PZ"));

  // send / receive
  std::vector<std::string> to;
  std::string group, send_team, send_channel;
  std::vector<std::string> words;
  CLI::App* send_cmd = message_cmd->add_subcommand("send", Tr("help.message.send"));
  send_cmd->add_option("--to", to, Tr("help.message.send.to"));
  send_cmd->add_option("--group", group, Tr("help.message.send.group"));
  send_cmd->add_option("--team", send_team, Tr("help.message.send.team"));
  send_cmd->add_option("--channel", send_channel, Tr("help.message.send.channel"));
  bool urgent = false;
  send_cmd->add_flag("--urgent", urgent, Tr("help.message.send.urgent"));
  send_cmd->add_option("text", words, Tr("help.message.send.text"))->required();
  send_cmd->footer(HelpExamples(
      "  carerelay send --to 3f2ab0c1d2e3f4a5b6c7d8e9f0a1b2c3 \"BP 160/95 this morning\"\n"
      "  carerelay send --group dubois-care --to 3f2a...c3 --to 9b1e...07 \"Visit moved to "
      "14:00\"\n"
      "  carerelay send --team 5f0c1a2b --channel clinical \"Discharge letter received\"\n"
      "  carerelay send --urgent --to 3f2a...c3 \"INR 6.2 this morning, call me\""));
  bool follow = false;
  CLI::App* receive_cmd = message_cmd->add_subcommand("receive", Tr("help.message.receive"));
  receive_cmd->add_flag("--follow,-f", follow, Tr("help.message.receive.follow"));
  receive_cmd->footer(HelpExamples("  carerelay receive --follow"));

  // identity
  std::string contact;
  CLI::App* safety_cmd =
      contact_cmd->add_subcommand("safety-number", Tr("help.contact.safety_number"));
  safety_cmd->add_option("account", contact, Tr("help.contact.safety_number.account"))->required();
  safety_cmd->footer(HelpExamples("  carerelay safety-number 3f2ab0c1d2e3f4a5b6c7d8e9f0a1b2c3"));
  CLI::App* trust_cmd = contact_cmd->add_subcommand("trust", Tr("help.contact.trust"));
  trust_cmd->add_option("account", contact, Tr("help.contact.trust.account"))->required();
  trust_cmd->footer(HelpExamples("  carerelay trust 3f2ab0c1d2e3f4a5b6c7d8e9f0a1b2c3"));

  // account, devices, keys, profiles
  CLI::App* whoami_cmd = account_cmd->add_subcommand("show", Tr("help.account.show"));
  whoami_cmd->footer(HelpExamples("  carerelay --profile nurse account show",
                                  Tr("help.shortcut", {{"shortcut", "carerelay whoami"}})));
  CLI::App* device_cmd = app.add_subcommand("device", Tr("help.device"));
  device_cmd->require_subcommand(1);
  CLI::App* device_list = device_cmd->add_subcommand("list", Tr("help.device.list"));
  device_list->footer(HelpExamples("  carerelay device list"));
  CLI::App* device_link = device_cmd->add_subcommand("link", Tr("help.device.link"));
  device_link->footer(
      HelpExamples("  carerelay device link\n"
                   "  carerelay --profile phone register --code CODE --ca-file ...",
                   Tr("help.device.link.note")));
  uint32_t revoke_id = 0;
  CLI::App* device_revoke = device_cmd->add_subcommand("revoke", Tr("help.device.revoke"));
  device_revoke->add_option("device_id", revoke_id, Tr("help.device.revoke.device_id"))->required();
  device_revoke->footer(HelpExamples("  carerelay device revoke 2"));
  CLI::App* keys_cmd = account_cmd->add_subcommand("keys", Tr("help.account.keys"));
  keys_cmd->footer(HelpExamples("  carerelay account keys"));
  CLI::App* profiles_cmd = profile_cmd->add_subcommand("list", Tr("help.profile.list"));
  profiles_cmd->footer(HelpExamples("  carerelay profile list"));
  TeamCommands team_cmds(&app);
  FileCommands file_cmds(file_cmd);
  IntakeCommands intake_cmds(&app, message_cmd);
  DirectoryCommands directory_cmds(&app);
  ResourceCommands resource_cmds(&app);
  RosterCommands roster_cmds(&app);
  HistoryCommands history_cmds(app.get_subcommand("team"), message_cmd);
  NotebookCommands notebook_cmds(&app);
  ChatCommand chat_cmd(&app);

  LocalizeHelp(app);
  std::vector<char*> expanded_argv = {argv[0]};
  for (std::string& arg : args) expanded_argv.push_back(arg.data());
  try {
    app.parse(static_cast<int>(expanded_argv.size()), expanded_argv.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    g.json = absl::c_linear_search(args, "--json");
    return UsageError(ParseErrorText(e), g);
  }
  if (!language.ok()) return UsageError(std::string(language.status().message()), g);

  // Send: a direct or group message (--to), or a team channel (--team).
  if (send_cmd->parsed()) {
    if (send_team.empty() && to.empty()) {
      return UsageError(Tr("message.usage_no_recipient"), g);
    }
    if (!send_team.empty() && (!to.empty() || !group.empty())) {
      return UsageError(Tr("message.usage_team_alone"), g);
    }
    if (!send_team.empty() && send_channel.empty()) {
      return UsageError(Tr("message.usage_team_channel"), g);
    }
    if (send_team.empty() && !send_channel.empty()) {
      return UsageError(Tr("message.usage_channel_without_team"), g);
    }
    if (urgent && !group.empty()) {
      return UsageError(Tr("message.usage_urgent_group"), g);
    }
  }

  if (profiles_cmd->parsed()) {
    for (const auto& name : ListProfiles(ProfilesHome(g.home))) std::cout << name << "\n";
    return 0;
  }

  if (register_cmd->parsed()) {
    std::string passphrase = Passphrase(g);
    if (passphrase.empty() && !reg.unencrypted) {
      return Fail(absl::InvalidArgumentError(Tr("account.no_passphrase")), g);
    }
    ProfileConfig config;
    config.server = reg.server;
    config.ca_file = reg.ca_file;
    config.plaintext = reg.plaintext;
    config.encrypted = !reg.unencrypted;
    auto profile =
        Profile::Create(ProfilesHome(g.home), g.profile, config, reg.unencrypted ? "" : passphrase);
    if (!profile.ok()) return Fail(profile.status(), g);
    auto r = (*profile)->messenger().Register(reg.code, reg.device_name);
    if (!r.ok()) return Fail(r.status(), g);
    ProfileConfig& c = (*profile)->config();
    c.account_id = r->account_id();
    c.device_id = r->device_id();
    c.secret = r->device_secret();
    c.display_name = r->display_name();
    c.kind = v1::AccountKind_Name(r->kind());
    absl::Status s = (*profile)->Save();
    if (!s.ok()) return Fail(s, g);
    if (g.json) {
      std::cout << nlohmann::json{{"account_id", c.account_id},
                                  {"device_id", c.device_id},
                                  {"display_name", c.display_name},
                                  {"profile", g.profile}}
                       .dump()
                << "\n";
    } else {
      std::cout << Tr("account.registered", {{"name", c.display_name},
                                             {"account", c.account_id},
                                             {"device", std::to_string(c.device_id)},
                                             {"profile", g.profile}})
                << "\n";
    }
    return 0;
  }

  auto profile = OpenProfile(g);
  if (!profile.ok()) return Fail(profile.status(), g);
  Profile& p = **profile;
  client::Messenger& m = p.messenger();
  // Whatever the command, when it ends: a new device of someone this device
  // already wrote to, met while sending to them, is announced, as a changed
  // key is; and a device a send skipped is named. On stderr: stdout stays
  // the command's output (JSON).
  struct SendNotices {
    client::Messenger& m;
    ~SendNotices() {
      for (const crypto::Address& d : m.TakeNewDevices()) {
        std::string name = m.DisplayName(d.account_id);
        std::cerr << "! "
                  << Tr("account.device_added", {{"who", name.empty() ? Short(d.account_id) : name},
                                                 {"device", std::to_string(d.device_id)},
                                                 {"account", d.account_id}})
                  << "\n";
      }
      // Devices a send skipped (their queue was full): the others got it.
      for (const client::Messenger::NotQueued& n : m.TakeNotQueued()) {
        std::string name = m.DisplayName(n.device.account_id);
        std::cerr << "! "
                  << Tr(n.reason == v1::NOT_QUEUED_REASON_SENDER_SHARE_FULL
                            ? "message.not_queued_share"
                            : "message.not_queued_full",
                        {{"who", name.empty() ? Short(n.device.account_id) : name},
                         {"device", std::to_string(n.device.device_id)}})
                  << "\n";
      }
    }
  } send_notices{m};

  // Before `team`: `team history` is one of its subcommands.
  if (history_cmds.parsed()) return history_cmds.Run(p, g);
  if (notebook_cmds.parsed()) return notebook_cmds.Run(p, g);
  if (team_cmds.parsed()) return team_cmds.Run(p, g);
  if (file_cmds.parsed()) return file_cmds.Run(p, g);
  if (intake_cmds.parsed()) return intake_cmds.Run(p, g);
  if (directory_cmds.parsed()) return directory_cmds.Run(p, g);
  if (resource_cmds.parsed()) return resource_cmds.Run(p, g);
  if (roster_cmds.parsed()) return roster_cmds.Run(p, g);
  if (chat_cmd.parsed()) {
    InterruptibleWhile<ChatCommand> interruptible(&g_chatting, &chat_cmd);
    return chat_cmd.Run(p, g);
  }
  if (send_cmd->parsed() && urgent) {
    const std::string text = absl::StrJoin(words, " ");
    std::vector<std::pair<std::string, absl::StatusOr<std::string>>> sent;
    if (!send_team.empty()) {
      auto channel = ParseTypedChannel(send_channel);
      if (!channel.ok()) return UsageError(std::string(channel.status().message()), g);
      auto team = ResolveTeam(p.relay(), send_team);
      if (!team.ok()) return Fail(team.status(), g);
      sent.emplace_back(*team, m.SendUrgentTeamText(*team, *channel, text));
    } else {
      for (const auto& account : to) sent.emplace_back(account, m.SendUrgentText(account, text));
    }
    for (const auto& [where, id] : sent) {
      if (!id.ok()) return Fail(id.status(), g);
      // Senders see who stands in for an absent recipient.
      if (send_team.empty()) {
        auto entry = p.relay().GetDirectoryEntry(where);
        if (entry.ok() && entry->absent_now() && !g.json) {
          std::cout << Tr("message.recipient_absent",
                          {{"name", entry->name()},
                           {"until", FormatTime(entry->absence().to_ms())},
                           {"substitute", entry->absence().substitute_name()}})
                    << "\n";
        }
      }
      Print(g, {{"urgent_message_id", *id}, {"to", where}},
            Tr("message.sent_urgent", {{"to", Short(where)}, {"id", *id}}));
    }
    return 0;
  }
  if (send_cmd->parsed() && !send_team.empty()) {
    auto channel = ParseTypedChannel(send_channel);
    if (!channel.ok()) return UsageError(std::string(channel.status().message()), g);
    auto team = ResolveTeam(p.relay(), send_team);
    if (!team.ok()) return Fail(team.status(), g);
    auto id = m.SendTeamText(*team, *channel, absl::StrJoin(words, " "));
    if (!id.ok()) return Fail(id.status(), g);
    Print(g, {{"message_id", *id}, {"team", *team}, {"channel", client::ChannelName(*channel)}},
          Tr("message.sent_team", {{"channel", ChannelLabel(*channel)}, {"team", Short(*team)}}));
    return 0;
  }
  if (send_cmd->parsed()) {
    const std::string text = absl::StrJoin(words, " ");
    nlohmann::json sent = nlohmann::json::array();
    if (!group.empty()) {
      v1::Content content;
      content.mutable_text()->set_body(text);
      auto id = m.SendGroupContent(group, to, content);
      if (!id.ok()) return Fail(id.status(), g);
      sent.push_back({{"message_id", *id}, {"group", group}});
    } else {
      for (const auto& account : to) {
        auto id = m.SendText(account, text);
        if (!id.ok()) return Fail(id.status(), g);
        sent.push_back({{"message_id", *id}, {"to", account}});
      }
    }
    if (g.json) {
      for (const auto& j : sent) std::cout << j.dump() << "\n";
    } else {
      std::vector<std::string> names;
      for (const auto& a : to) names.push_back(Short(a));
      std::cout << Tr(group.empty() ? "message.sent" : "message.sent_group",
                      {{"to", absl::StrJoin(names, ", ")}, {"group", group}})
                << "\n";
    }
    return 0;
  }
  if (receive_cmd->parsed()) {
    m.MaintainKeys(absl::Now()).IgnoreError();  // best effort, never blocks reading
    int shown = 0;
    absl::Status s;
    {
      InterruptibleWhile<client::Messenger> interruptible(&g_receiving, &m);
      s = m.Receive(follow, [&](const client::ReceivedMessage& msg) {
        PrintMessage(msg, m, g.json);
        // Shown means written out: once this returns, the message is no
        // longer kept in the profile to be shown again after a crash.
        std::cout.flush();
        ++shown;
        return true;
      });
    }
    if (!s.ok()) return Fail(s, g);
    if (!g.json && shown == 0 && !follow) std::cout << Tr("message.none") << "\n";
    return 0;
  }
  if (safety_cmd->parsed()) {
    auto numbers = m.SafetyNumbers(contact);
    if (!numbers.ok()) return Fail(numbers.status(), g);
    for (const auto& n : *numbers) {
      if (g.json) {
        std::cout << nlohmann::json{{"device", n.remote.ToString()},
                                    {"safety_number", n.number.digits},
                                    {"changed", n.changed}}
                         .dump()
                  << "\n";
      } else {
        std::cout << Tr(n.changed ? "account.safety_number_changed" : "account.safety_number",
                        {{"device", std::to_string(n.remote.device_id)},
                         {"number", n.number.displayable}})
                  << "\n";
      }
    }
    return 0;
  }
  if (trust_cmd->parsed()) {
    auto n = m.Trust(contact);
    if (!n.ok()) return Fail(n.status(), g);
    std::cout << (g.json ? nlohmann::json{{"trusted", *n}}.dump()
                         : Tr("account.trusted", {{"count", std::to_string(*n)}}))
              << "\n";
    return 0;
  }
  if (whoami_cmd->parsed()) {
    auto account = p.relay().GetAccount();
    if (!account.ok()) return Fail(account.status(), g);
    // The kind, then the functions the administrator granted.
    std::string kind = v1::AccountKind_Name(account->kind());
    nlohmann::json functions = nlohmann::json::array();
    for (int f : account->functions()) {
      const std::string name = v1::Function_Name(static_cast<v1::Function>(f));
      functions.push_back(name);
      absl::StrAppend(&kind, ", ", name);
    }
    if (g.json) {
      nlohmann::json devices = nlohmann::json::array();
      for (const auto& d : account->devices()) {
        devices.push_back({{"device_id", d.device_id()}, {"name", d.name()}});
      }
      std::cout << nlohmann::json{{"account_id", account->account_id()},
                                  {"display_name", account->display_name()},
                                  {"kind", v1::AccountKind_Name(account->kind())},
                                  {"functions", functions},
                                  {"this_device", p.config().device_id},
                                  {"devices", devices}}
                       .dump()
                << "\n";
    } else {
      std::cout << Tr("account.show", {{"name", account->display_name()},
                                       {"kind", kind},
                                       {"account", account->account_id()},
                                       {"device", std::to_string(p.config().device_id)},
                                       {"count", std::to_string(account->devices_size())}})
                << "\n";
    }
    return 0;
  }
  if (device_list->parsed()) {
    auto devices = p.relay().ListDevices();
    if (!devices.ok()) return Fail(devices.status(), g);
    for (const auto& d : *devices) {
      bool self = d.device_id() == p.config().device_id;
      if (g.json) {
        std::cout << nlohmann::json{{"device_id", d.device_id()},
                                    {"name", d.name()},
                                    {"this_device", self},
                                    {"registered", FormatTime(d.created_at_unix() * 1000)}}
                         .dump()
                  << "\n";
      } else {
        std::cout << Tr(self ? "account.device_line_self" : "account.device_line",
                        {{"device", std::to_string(d.device_id())},
                         {"name", d.name()},
                         {"registered", FormatTime(d.created_at_unix() * 1000)}})
                  << "\n";
      }
    }
    return 0;
  }
  if (device_link->parsed()) {
    auto link = p.relay().LinkDevice();
    if (!link.ok()) return Fail(link.status(), g);
    if (g.json) {
      std::cout << nlohmann::json{{"code", link->code()},
                                  {"expires", FormatTime(link->expires_at_unix() * 1000)}}
                       .dump()
                << "\n";
    } else {
      std::cout << Tr("account.link_code",
                      {{"code", link->code()},
                       {"expires", FormatTime(link->expires_at_unix() * 1000)}})
                << "\n";
    }
    return 0;
  }
  if (device_revoke->parsed()) {
    absl::Status s = p.relay().RevokeDevice(revoke_id);
    if (!s.ok()) return Fail(s, g);
    std::cout << (g.json ? nlohmann::json{{"revoked", revoke_id}}.dump()
                         : Tr("account.device_revoked", {{"device", std::to_string(revoke_id)}}))
              << "\n";
    return 0;
  }
  if (keys_cmd->parsed()) {
    absl::Status s = m.MaintainKeys(absl::Now());
    if (!s.ok()) return Fail(s, g);
    auto count = p.relay().CountOneTimePrekeys();
    if (!count.ok()) return Fail(count.status(), g);
    std::cout << (g.json ? nlohmann::json{{"one_time_prekeys_on_server", *count}}.dump()
                         : Tr("account.prekeys", {{"count", std::to_string(*count)}}))
              << "\n";
    return 0;
  }
  return 2;
}
