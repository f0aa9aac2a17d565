#include "client/cli/chat_command.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "client/attachment_pointer.h"
#include "client/attachment_transfer.h"
#include "client/cli/catalog.h"
#include "client/cli/help_text.h"
#include "client/cli/intake_commands.h"
#include "client/cli/notebook_commands.h"
#include "client/cli/progress_bar.h"
#include "client/cli/team_commands.h"
#include "client/team_view.h"

namespace carerelay::cli {
namespace {

using client::ReceivedMessage;

// How often the input thread looks again whether the chat thread still has
// to be woken (a stop can fall between two receive streams).
constexpr int kNudgeMillis = 200;
// How much of the team's history the chat shows when it opens: a screen.
constexpr size_t kRecentHistory = 20;
// A longer line is cut there (and the rest read as the next line).
constexpr size_t kMaxLineBytes = 64 * 1024;

// One line typed, or the end of the input.
struct Input {
  std::string text;
  bool end = false;
};

// A message shown in this session as [N].
struct Shown {
  std::string envelope_id;    // an incoming message's envelope (acknowledges it)
  std::string message_id;     // a message sent from this chat (its deliveries)
  std::string urgent_id;      // the urgent message id, when known
  std::string attachment_id;  // a document's
  bool urgent = false;
  bool incoming = false;
  bool acknowledged = false;
};

// "5f0c1a2b (Jeanne Dubois)" when this device holds the team profile.
std::string TeamWithPatient(client::Messenger& m, const std::string& team_id) {
  std::string label = Short(team_id);
  auto profile = m.GetTeamProfile(team_id);
  if (profile.ok() && profile->has_value() && !(*profile)->patient_name().empty()) {
    absl::StrAppend(&label, " (", (*profile)->patient_name(), ")");
  }
  return label;
}

// A session number as typed ("4"), not an id (ids are 16 or 32 hex digits).
bool IsNumber(absl::string_view word) {
  return !word.empty() && word.size() < 10 &&
         std::all_of(word.begin(), word.end(), [](char c) { return absl::ascii_isdigit(c); });
}

// "~/letter.pdf" as a shell would read it.
std::string ExpandHome(const std::string& path) {
  const char* home = getenv("HOME");
  if ((path == "~" || absl::StartsWith(path, "~/")) && home != nullptr && *home != '\0') {
    return home + path.substr(1);
  }
  return path;
}

class ChatSession {
 public:
  // `wake_read` and `wake_write`: a pipe that wakes the input thread.
  // `receiving` is true while the receive stream is open (for Interrupt).
  ChatSession(Profile& p, const Globals& g, std::atomic<bool>* quit, std::atomic<bool>* receiving,
              int wake_read, int wake_write)
      : p_(p),
        g_(g),
        m_(p.messenger()),
        quit_(quit),
        receiving_(receiving),
        wake_read_(wake_read),
        wake_write_(wake_write) {}

  int Run(const std::string& team_arg, const std::string& channel_arg);

 private:
  // Setup: the team, this person's role on it, the channel to write on.
  int Start(const std::string& team_arg, const std::string& channel_arg);

  // The input thread: reads lines until the end or Stop, and wakes the chat
  // thread while anything waits for it.
  void ReadInput();
  void Push(Input input);
  bool HasWork();

  // What arrives.
  void Show(const ReceivedMessage& msg);
  void ShowContent(const ReceivedMessage& msg, const std::string& time);
  void ShowAlert(const ReceivedMessage& msg, const std::string& time);
  void ShowDelivery(const ReceivedMessage& msg);
  // The last entries of this team's history, as they were shown then
  // (numbered, so /get works on a document shared before).
  void ShowRecentHistory();
  // Where a message comes from: "#care" on this team, "9b1e07aa #care" on
  // another, "direct" outside teams.
  std::string Where(const ReceivedMessage& msg);
  std::string Sender(const ReceivedMessage& msg);

  // What is typed.
  void Handle(const std::string& line);
  void Send(const std::string& text, bool urgent);
  void SwitchChannel(const std::string& arg);
  void Ack(const std::string& arg);
  void Acks(const std::string& arg);
  void SendFile(const std::string& arg);
  void GetFile(const std::string& arg);
  void Members();
  void Note(const std::string& arg);

  int Number(Shown shown);
  // The message [N] of `word`, or nullptr after saying there is none.
  Shown* Lookup(absl::string_view word);
  // "[4]" for a message shown here, else the id.
  std::string Label(const std::string& id);
  // N of the message [N] sent from this chat as `message_id` or
  // `urgent_id`; 0 if it was not.
  int SentNumber(const std::string& message_id, const std::string& urgent_id);
  client::TransferOptions Progress(ProgressBar* bar, const std::string& file);

  void Emit(const nlohmann::json& j, const std::string& human);
  void Error(const std::string& message, absl::StatusCode code);
  // Prints `s` as other commands do (with --json, an "error" event) and
  // returns the exit code.
  int Failed(const absl::Status& s);

  Profile& p_;
  const Globals& g_;
  client::Messenger& m_;
  std::atomic<bool>* quit_;
  std::atomic<bool>* receiving_;
  const int wake_read_;
  const int wake_write_;

  std::string team_;
  std::string self_;
  v1::Channel channel_ = v1::CHANNEL_UNSPECIFIED;
  std::vector<Shown> shown_;  // [N] is shown_[N - 1]

  std::mutex mu_;
  std::deque<Input> inputs_;  // guarded by mu_
  std::atomic<bool> stop_input_{false};
};

int ChatSession::Run(const std::string& team_arg, const std::string& channel_arg) {
  if (int rc = Start(team_arg, channel_arg); rc != kExitOk) return rc;
  std::thread input([this] { ReadInput(); });
  int rc = kExitOk;
  // When this chat stopped its own previous stream, for the retry below.
  absl::Time own_stream_ended = absl::InfinitePast();
  bool retried = false;
  while (!quit_->load()) {
    std::deque<Input> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch.swap(inputs_);
    }
    if (batch.empty()) {
      receiving_->store(true);
      absl::Status s = m_.Receive(/*follow=*/true, [this](const ReceivedMessage& msg) {
        Show(msg);
        return !quit_->load();
      });
      receiving_->store(false);
      // The server may still be setting up the stream this chat just
      // cancelled when the new one arrives, and let the old one take the
      // new one over (ABORTED). That is not another device: open it again,
      // once.
      if (absl::IsAborted(s) && !retried && absl::Now() - own_stream_ended < absl::Seconds(2)) {
        retried = true;
        continue;
      }
      if (!s.ok()) {
        rc = Failed(s);
        break;
      }
      own_stream_ended = absl::Now();
      retried = false;
      // Stopped for input (or, rarely, a stop meant for the previous stream,
      // or the server ended it): open it again, without spinning if there
      // is nothing to do.
      if (!HasWork()) std::this_thread::sleep_for(std::chrono::milliseconds(kNudgeMillis));
      continue;
    }
    for (const Input& in : batch) {
      if (quit_->load()) break;
      if (in.end) {
        quit_->store(true);
        break;
      }
      Handle(in.text);
    }
  }
  quit_->store(true);
  stop_input_.store(true);
  char wake = 1;
  (void)!write(wake_write_, &wake, 1);
  input.join();
  Emit({{"event", "bye"}}, Tr("chat.bye"));
  return rc;
}

int ChatSession::Start(const std::string& team_arg, const std::string& channel_arg) {
  m_.MaintainKeys(absl::Now()).IgnoreError();  // best effort, as `receive`
  self_ = m_.self().account_id;
  auto team_id = ResolveTeam(p_.relay(), team_arg);
  if (!team_id.ok()) return Failed(team_id.status());
  team_ = *team_id;
  auto team = m_.FetchTeam(team_);
  if (!team.ok()) return Failed(team.status());
  const v1::Member* me = client::FindMember(*team, self_);
  if (me == nullptr || me->status() != v1::MEMBER_STATUS_ACTIVE) {
    return Failed(absl::FailedPreconditionError(Tr("chat.error.not_active", {{"team", team_}})));
  }
  const std::string role = RoleLabel(me->role());
  if (!channel_arg.empty()) {
    auto channel = ParseTypedChannel(channel_arg);
    if (!channel.ok()) {
      const std::string message = Tr("chat.error.channel_unknown", {{"channel", channel_arg}});
      if (!g_.json) return UsageError(message, g_);
      Error(message, absl::StatusCode::kInvalidArgument);
      return kExitUsage;
    }
    if (!client::CanPost(*me, *channel)) {
      return Failed(absl::PermissionDeniedError(
          Tr("chat.error.channel_denied", {{"channel", ChannelLabel(*channel)},
                                           {"role", role},
                                           {"channels", HashChannels(me->can_post())}})));
    }
    channel_ = *channel;
  } else {
    for (int c : me->can_post()) {
      if (channel_ == v1::CHANNEL_UNSPECIFIED || c < channel_)
        channel_ = static_cast<v1::Channel>(c);
    }
    if (channel_ == v1::CHANNEL_UNSPECIFIED) {
      return Failed(absl::FailedPreconditionError(Tr("chat.error.no_channel", {{"role", role}})));
    }
  }
  Emit({{"event", "ready"},
        {"team", team_},
        {"channel", client::ChannelName(channel_)},
        {"account_id", self_},
        {"role", client::RoleName(me->role())}},
       Tr("chat.welcome", {{"team", TeamWithPatient(m_, team_)},
                           {"you", PersonLabel(me->display_name(), me->role(), self_)},
                           {"channel", ChannelLabel(channel_)}}));
  ShowRecentHistory();
  return kExitOk;
}

void ChatSession::ShowRecentHistory() {
  client::HistoryQuery query;
  query.team_id = team_;
  query.limit = kRecentHistory;
  auto entries = m_.history().List(query);
  if (!entries.ok()) {
    Failed(entries.status());
    return;
  }
  if (entries->empty()) return;
  Emit({{"event", "history"}, {"count", entries->size()}},
       Tr("chat.history", {{"count", std::to_string(entries->size())}}));
  for (const v1::HistoryEntry& e : *entries) {
    // Shown as it was when it arrived, but never to be acknowledged from
    // here: an urgent one still waiting comes again on the stream.
    ReceivedMessage msg;
    msg.kind = ReceivedMessage::Kind::kContent;
    msg.envelope.set_server_timestamp_ms(e.content().sent_at_ms());
    msg.sender = {e.sender_account_id(), e.sender_device_id()};
    msg.content = e.content();
    msg.team_id = e.team_id();
    msg.channel = static_cast<v1::Channel>(e.channel());
    msg.sender_name = e.sender_name();
    msg.sender_role = static_cast<v1::Role>(e.sender_role());
    ShowContent(msg, FormatTime(e.content().sent_at_ms()));
  }
  Emit({{"event", "history_end"}}, Tr("chat.history_end"));
}

// --- The input thread --------------------------------------------------------

void ChatSession::ReadInput() {
  std::string buffer;
  bool eof = false;
  while (!stop_input_.load()) {
    pollfd fds[2] = {{wake_read_, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    const int ready = poll(fds, eof ? 1 : 2, kNudgeMillis);
    if (ready > 0 && (fds[0].revents & POLLIN)) {
      char drain[64];
      while (read(wake_read_, drain, sizeof drain) > 0) {
      }
    }
    if (ready > 0 && !eof && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      char chunk[4096];
      const ssize_t got = read(STDIN_FILENO, chunk, sizeof chunk);
      if (got > 0) {
        buffer.append(chunk, static_cast<size_t>(got));
        for (;;) {
          size_t end = buffer.find('\n');
          const bool whole = end != std::string::npos;
          if (!whole && buffer.size() < kMaxLineBytes) break;
          if (!whole) end = kMaxLineBytes;  // cut; the rest is the next line
          std::string line = buffer.substr(0, end);
          buffer.erase(0, whole ? end + 1 : end);
          if (!line.empty() && line.back() == '\r') line.pop_back();
          Push({std::move(line)});
        }
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        if (!buffer.empty()) Push({std::move(buffer)});
        buffer.clear();
        Push({"", /*end=*/true});
        eof = true;
      }
    }
    // The chat thread may be blocked on the receive stream: stop it so it
    // takes the input (again and again, since a stop that falls between two
    // streams is lost).
    if (HasWork()) m_.StopReceiving();
  }
}

void ChatSession::Push(Input input) {
  std::lock_guard<std::mutex> lock(mu_);
  inputs_.push_back(std::move(input));
}

bool ChatSession::HasWork() {
  std::lock_guard<std::mutex> lock(mu_);
  return !inputs_.empty() || quit_->load();
}

// --- What arrives ------------------------------------------------------------

void ChatSession::Show(const ReceivedMessage& msg) {
  using Kind = ReceivedMessage::Kind;
  const std::string time = FormatTime(msg.envelope.server_timestamp_ms());
  switch (msg.kind) {
    case Kind::kContent:
      ShowContent(msg, time);
      return;
    case Kind::kDelivered:
      ShowDelivery(msg);
      return;
    case Kind::kTeamEvent: {
      const v1::TeamEvent& e = msg.event;
      const std::string text = DescribeTeamEvent(
          e, PersonLabel(msg.sender_name, msg.sender_role, e.actor_account_id()),
          PersonLabel(msg.subject_name, v1::ROLE_UNSPECIFIED, e.subject_account_id()));
      Emit({{"event", "team_event"},
            {"time", time},
            {"team", msg.team_id},
            {"kind", EventKindName(e.kind())},
            {"actor", e.actor_account_id()},
            {"subject", e.subject_account_id()},
            {"text", text}},
           Tr("chat.line.event",
              {{"time", time},
               {"where", msg.team_id == team_ || msg.team_id.empty()
                             ? ""
                             : " (" + Tr("chat.where.team", {{"team", Short(msg.team_id)}}) + ")"},
               {"text", text}}));
      return;
    }
    case Kind::kAlert:
      ShowAlert(msg, time);
      return;
    case Kind::kProblem:
      Emit({{"event", "problem"},
            {"time", time},
            {"from", msg.sender.account_id},
            {"problem", std::string(msg.problem.message())}},
           Tr("chat.line.problem",
              {{"time", time}, {"reason", std::string(msg.problem.message())}}));
      return;
  }
}

void ChatSession::ShowContent(const ReceivedMessage& msg, const std::string& time) {
  const v1::Content& c = msg.content;
  const std::string who = Sender(msg);
  nlohmann::json j = {{"time", time},
                      {"envelope_id", msg.envelope.id()},
                      {"message_id", c.message_id()},
                      {"from", msg.sender.account_id},
                      {"sender_name", msg.sender_name},
                      {"team", msg.team_id}};
  if (msg.sender_role != v1::ROLE_UNSPECIFIED) j["sender_role"] = client::RoleName(msg.sender_role);
  if (!msg.team_id.empty()) j["channel"] = client::ChannelName(msg.channel);
  if (c.has_session_reset()) {
    j["event"] = "session_reset";
    Emit(j, Tr("chat.line.session_reset", {{"time", time}, {"who", who}}));
    return;
  }
  if (c.has_team_profile()) {
    j["event"] = "team_profile";
    Emit(j, Tr("chat.line.profile", {{"time", time}, {"who", who}, {"team", msg.team_id}}));
    return;
  }
  Shown shown;
  shown.envelope_id = msg.envelope.id();
  shown.incoming = msg.sender.account_id != self_;
  // Our own team posts come back to our other devices: not ours to acknowledge.
  shown.urgent = msg.envelope.ack_required() && shown.incoming;
  if (c.has_history_share()) {
    j["event"] = "history_received";
    j["entries"] = msg.history_entries;
    Emit(j, Tr(msg.sender.account_id == self_ ? "chat.line.history_from_own_device"
                                              : "chat.line.history_received",
               {{"time", time}, {"sender", who}, {"count", std::to_string(msg.history_entries)}}));
    return;
  }
  if (c.has_notebook_entry()) {
    const v1::NotebookEntry& note = c.notebook_entry();
    const int n = Number(shown);
    j["event"] = "note";
    j["n"] = n;
    AddNoteJson(note, &j);
    Emit(j, Tr(note.revision() > 1 ? "chat.line.note_edit" : "chat.line.note",
               {{"n", std::to_string(n)},
                {"time", time},
                {"where", Where(msg)},
                {"sender", who},
                {"kind", NotebookKindLabel(note.kind())},
                {"date", FormatDate(note.dated_ms())},
                {"entry", Short(note.entry_id())},
                {"text", note.body()}}));
    return;
  }
  if (c.has_attachment()) {
    const v1::AttachmentPointer& a = c.attachment();
    shown.attachment_id = a.attachment_id();
    const int n = Number(shown);
    j["event"] = "document";
    j["n"] = n;
    AddDocumentJson(a, &j);
    Emit(j, Tr("chat.line.document",
               {{"n", std::to_string(n)},
                {"time", time},
                {"where", Where(msg)},
                {"sender", who},
                {"file", a.file_name()},
                {"size", client::HumanSize(a.plaintext_size())},
                {"type", a.media_type()},
                {"caption", a.caption().empty() ? "" : " \"" + a.caption() + "\""}}));
    return;
  }
  const int n = Number(shown);
  j["event"] = "message";
  j["n"] = n;
  j["text"] = c.text().body();
  j["urgent"] = shown.urgent;
  const std::initializer_list<TrArg> args = {{"n", std::to_string(n)},
                                             {"time", time},
                                             {"where", Where(msg)},
                                             {"sender", who},
                                             {"text", c.text().body()}};
  Emit(j, shown.urgent ? Tr("chat.line.urgent", args) : Tr("chat.line.text", args));
}

void ChatSession::ShowAlert(const ReceivedMessage& msg, const std::string& time) {
  const v1::Alert& a = msg.alert;
  nlohmann::json j = {{"event", "alert"},
                      {"time", time},
                      {"alert", AlertKindName(a.kind())},
                      {"message_id", a.message_id()},
                      {"intake_id", a.intake_id()},
                      {"subject", a.subject_account_id()}};
  if (a.kind() == v1::Alert::KIND_URGENT_ACKNOWLEDGED) {
    // Someone acknowledged one of our urgent messages.
    std::string name = m_.DisplayName(a.subject_account_id());
    if (name.empty()) name = Short(a.subject_account_id());
    j["event"] = "acknowledged_by";
    j["name"] = name;
    Emit(j, Tr("chat.line.acknowledged",
               {{"time", time}, {"who", name}, {"message", Label(a.message_id())}}));
    return;
  }
  const std::string text = DescribeAlert(a, m_.self().account_id, msg.sender_name);
  j["text"] = text;
  Emit(j, Tr("chat.line.alert", {{"time", time}, {"text", text}}));
}

void ChatSession::ShowDelivery(const ReceivedMessage& msg) {
  const client::Delivery& d = msg.delivery;
  const std::string time = FormatTime(absl::ToUnixMillis(absl::Now()));
  const int n = SentNumber(d.message_id, d.urgent_message_id);
  if (g_.json) {
    // One event per device, as `receive --json` prints them.
    for (const client::Delivery::To& t : d.to) {
      nlohmann::json j = DeliveryJson("event", time, d, t, msg.team_id, msg.channel);
      if (n > 0) j["n"] = n;
      Emit(j, "");
    }
    return;
  }
  // What was sent before this chat (from `send`, another chat) has no
  // number here: it is named by when it was sent.
  const std::string message =
      n > 0 ? "[" + std::to_string(n) + "]"
            : Tr("chat.your_message", {{"sent", FormatTime(absl::ToUnixMillis(d.sent_at))}});
  Emit({},
       Tr("chat.line.delivered", {{"time", time}, {"message", message}, {"to", DeliveredTo(d)}}));
}

std::string ChatSession::Where(const ReceivedMessage& msg) {
  if (msg.team_id.empty()) return Tr("chat.where.direct");
  const std::string channel = "#" + ChannelLabel(msg.channel);
  if (msg.team_id == team_) return channel;
  return Tr("chat.where.team", {{"team", Short(msg.team_id)}}) + " " + channel;
}

std::string ChatSession::Sender(const ReceivedMessage& msg) {
  if (msg.sender.account_id == self_) return Tr("chat.you_elsewhere");
  std::string name = msg.sender_name;
  if (name.empty()) name = m_.DisplayName(msg.sender.account_id);
  return PersonLabel(name, msg.sender_role, msg.sender.account_id);
}

// --- What is typed -----------------------------------------------------------

void ChatSession::Handle(const std::string& raw) {
  const std::string line(absl::StripAsciiWhitespace(raw));
  if (line.empty()) return;
  if (line[0] != '/') return Send(line, /*urgent=*/false);
  // "//etc/hosts is wrong" sends "/etc/hosts is wrong".
  if (absl::StartsWith(line, "//")) return Send(line.substr(1), /*urgent=*/false);
  const size_t space = line.find_first_of(" \t");
  const std::string command = absl::AsciiStrToLower(line.substr(0, space));
  const std::string arg(
      space == std::string::npos ? "" : absl::StripAsciiWhitespace(line.substr(space)));
  if (command == "/quit" || command == "/exit") {
    quit_->store(true);
  } else if (command == "/help") {
    Emit({{"event", "help"}}, Tr("chat.help"));
  } else if (command == "/channel") {
    SwitchChannel(arg);
  } else if (command == "/urgent") {
    if (arg.empty()) return Error(Tr("chat.usage.urgent"), absl::StatusCode::kInvalidArgument);
    Send(arg, /*urgent=*/true);
  } else if (command == "/ack") {
    Ack(arg);
  } else if (command == "/acks") {
    Acks(arg);
  } else if (command == "/file") {
    SendFile(arg);
  } else if (command == "/get") {
    GetFile(arg);
  } else if (command == "/members") {
    Members();
  } else if (command == "/note") {
    Note(arg);
  } else {
    Error(Tr("chat.error.unknown_command", {{"command", command}}),
          absl::StatusCode::kInvalidArgument);
  }
}

void ChatSession::Send(const std::string& text, bool urgent) {
  auto id = urgent ? m_.SendUrgentTeamText(team_, channel_, text)
                   : m_.SendTeamText(team_, channel_, text);
  if (!id.ok()) {
    Failed(id.status());
    return;
  }
  Shown shown;
  shown.urgent = urgent;
  // Its deliveries name it by either id.
  (urgent ? shown.urgent_id : shown.message_id) = *id;
  const int n = Number(shown);
  nlohmann::json j = {
      {"event", "sent"}, {"n", n}, {"channel", client::ChannelName(channel_)}, {"urgent", urgent}};
  j[urgent ? "urgent_message_id" : "message_id"] = *id;
  const std::string channel = ChannelLabel(channel_);
  Emit(j, urgent ? Tr("chat.sent_urgent", {{"n", std::to_string(n)}, {"channel", channel}})
                 : Tr("chat.sent", {{"n", std::to_string(n)}, {"channel", channel}}));
}

void ChatSession::Note(const std::string& arg) {
  // "/note visit Toilette faite": the kind, then the text.
  const size_t space = arg.find_first_of(" \t");
  if (space == std::string::npos) {
    return Error(Tr("chat.usage.note"), absl::StatusCode::kInvalidArgument);
  }
  auto kind = ParseNotebookKind(arg.substr(0, space));
  if (!kind.ok()) return Error(std::string(kind.status().message()), kind.status().code());
  const std::string text(absl::StripAsciiWhitespace(arg.substr(space)));
  auto entry = AddNote(m_, team_, channel_, *kind, text, absl::Now());
  if (!entry.ok()) {
    Failed(entry.status());
    return;
  }
  Emit({{"event", "noted"}, {"entry_id", *entry}, {"channel", client::ChannelName(channel_)}},
       Tr("chat.noted", {{"entry", Short(*entry)},
                         {"kind", NotebookKindLabel(*kind)},
                         {"channel", ChannelLabel(channel_)}}));
}

void ChatSession::SwitchChannel(const std::string& arg) {
  if (arg.empty()) return Error(Tr("chat.usage.channel"), absl::StatusCode::kInvalidArgument);
  auto channel = ParseTypedChannel(arg);
  if (!channel.ok()) {
    return Error(Tr("chat.error.channel_unknown", {{"channel", arg}}),
                 absl::StatusCode::kInvalidArgument);
  }
  // Fresh from the server: a role or the team's access may have changed.
  auto team = m_.FetchTeam(team_);
  if (!team.ok()) {
    Failed(team.status());
    return;
  }
  const v1::Member* me = client::FindMember(*team, self_);
  if (me == nullptr || !client::CanPost(*me, *channel)) {
    return Error(Tr("chat.error.channel_denied",
                    {{"channel", ChannelLabel(*channel)},
                     {"role", RoleLabel(me ? me->role() : v1::ROLE_UNSPECIFIED)},
                     {"channels", me ? HashChannels(me->can_post()) : "-"}}),
                 absl::StatusCode::kPermissionDenied);
  }
  channel_ = *channel;
  Emit({{"event", "channel"}, {"channel", client::ChannelName(channel_)}},
       Tr("chat.channel_now", {{"channel", ChannelLabel(channel_)}}));
}

void ChatSession::Ack(const std::string& arg) {
  Shown* shown = nullptr;
  std::string id = arg;
  if (arg.empty()) {
    for (auto it = shown_.rbegin(); it != shown_.rend() && shown == nullptr; ++it) {
      if (it->urgent && it->incoming && !it->acknowledged) shown = &*it;
    }
    if (shown == nullptr) {
      return Error(Tr("chat.error.nothing_to_ack"), absl::StatusCode::kFailedPrecondition);
    }
  } else if (IsNumber(arg)) {
    shown = Lookup(arg);
    if (shown == nullptr) return;
    if (!shown->urgent || !shown->incoming) {
      return Error(Tr("chat.error.not_urgent", {{"n", arg}}), absl::StatusCode::kInvalidArgument);
    }
  } else {
    for (Shown& s : shown_) {
      if (s.incoming && (s.envelope_id == arg || (!s.urgent_id.empty() && s.urgent_id == arg))) {
        shown = &s;
      }
    }
  }
  if (shown != nullptr) id = shown->envelope_id;
  auto r = p_.relay().AcknowledgeUrgent(id);
  if (!r.ok()) {
    Failed(r.status());
    return;
  }
  if (shown != nullptr) {
    shown->acknowledged = true;
    shown->urgent_id = r->message_id();
  }
  const std::string label = Label(r->message_id());
  Emit({{"event", "acknowledged"},
        {"message_id", r->message_id()},
        {"at", FormatTime(r->acknowledged_at_ms())},
        {"already", r->already_acknowledged()}},
       r->already_acknowledged() ? Tr("chat.already_acked", {{"message", label}})
                                 : Tr("chat.acked", {{"message", label}}));
}

void ChatSession::Acks(const std::string& arg) {
  if (arg.empty()) return Error(Tr("chat.usage.acks"), absl::StatusCode::kInvalidArgument);
  std::string id = arg;
  if (IsNumber(arg)) {
    Shown* shown = Lookup(arg);
    if (shown == nullptr) return;
    if (!shown->urgent) {
      return Error(Tr("chat.error.not_urgent_acks", {{"n", arg}}),
                   absl::StatusCode::kInvalidArgument);
    }
    if (shown->urgent_id.empty()) {
      // Only the urgent message id names it to ListAcknowledgements; this
      // device learns it when it acknowledges.
      return Error(Tr("chat.error.acks_ack_first", {{"n", arg}}),
                   absl::StatusCode::kFailedPrecondition);
    }
    id = shown->urgent_id;
  }
  auto r = p_.relay().ListAcknowledgements(id);
  if (!r.ok()) {
    Failed(r.status());
    return;
  }
  if (g_.json) {
    nlohmann::json j = UrgentStatusJson(*r);
    j["event"] = "acks";
    return Emit(j, "");
  }
  int done = 0;
  for (const auto& a : r->recipients()) done += a.acknowledged();
  std::string text = Tr("chat.acks.summary", {{"message", Label(r->message_id())},
                                              {"done", std::to_string(done)},
                                              {"total", std::to_string(r->recipients_size())}});
  if (r->escalated()) {
    absl::StrAppend(&text, "\n",
                    Tr("chat.acks.escalated", {{"time", FormatTime(r->escalated_at_ms())}}));
  }
  for (const auto& a : r->recipients()) {
    const std::string name = a.name().empty() ? Short(a.account_id()) : a.name();
    absl::StrAppend(
        &text, "\n",
        a.acknowledged()
            ? Tr("chat.acks.yes", {{"name", name}, {"time", FormatTime(a.acknowledged_at_ms())}})
            : Tr("chat.acks.no", {{"name", name}, {"reminders", std::to_string(a.reminders())}}));
  }
  Emit({}, text);
}

client::TransferOptions ChatSession::Progress(ProgressBar* bar, const std::string& file) {
  client::TransferOptions options;
  auto last_quarter = std::make_shared<int>(-1);
  options.progress = [this, bar, file, last_quarter](uint64_t done, uint64_t total) {
    bar->Update(done, total);
    if (!g_.json) return;
    const int quarter = total == 0 ? 4 : static_cast<int>(done * 4 / total);
    if (quarter == *last_quarter) return;
    *last_quarter = quarter;
    Emit({{"event", "progress"}, {"file", file}, {"done", done}, {"total", total}}, "");
  };
  return options;
}

void ChatSession::SendFile(const std::string& arg) {
  if (arg.empty()) return Error(Tr("chat.usage.file"), absl::StatusCode::kInvalidArgument);
  const std::string path = ExpandHome(arg);
  absl::StatusOr<client::SentFile> sent;
  {
    client::AttachmentTransfer transfer(&p_.relay(), &m_, &p_.keys(), p_.dir());
    const std::string name = client::SafeFileName(path);
    ProgressBar bar(name, !g_.json && isatty(STDERR_FILENO));
    sent = transfer.SendFile({team_, channel_, path, "", "", ""}, Progress(&bar, name));
  }  // the bar ends its line
  if (!sent.ok()) {
    Failed(sent.status());
    return;
  }
  const v1::AttachmentPointer& a = sent->pointer;
  Shown shown;
  shown.attachment_id = a.attachment_id();
  shown.message_id = sent->message_id;
  const int n = Number(shown);
  const std::string channel = client::ChannelName(channel_);
  Emit({{"event", "file_shared"},
        {"n", n},
        {"attachment_id", a.attachment_id()},
        {"message_id", sent->message_id},
        {"channel", channel},
        {"file_name", a.file_name()},
        {"size", a.plaintext_size()},
        {"resumed_from", sent->resumed_from}},
       Tr("chat.file_shared", {{"n", std::to_string(n)},
                               {"file", a.file_name()},
                               {"size", client::HumanSize(a.plaintext_size())},
                               {"channel", ChannelLabel(channel_)}}));
}

void ChatSession::GetFile(const std::string& arg) {
  if (arg.empty()) return Error(Tr("chat.usage.get"), absl::StatusCode::kInvalidArgument);
  const size_t space = arg.find_first_of(" \t");
  std::string id = arg.substr(0, space);
  const std::string dir =
      space == std::string::npos
          ? ""
          : ExpandHome(std::string(absl::StripAsciiWhitespace(arg.substr(space))));
  if (IsNumber(id)) {
    Shown* shown = Lookup(id);
    if (shown == nullptr) return;
    if (shown->attachment_id.empty()) {
      return Error(Tr("chat.error.not_document", {{"n", id}}), absl::StatusCode::kInvalidArgument);
    }
    id = shown->attachment_id;
  }
  absl::StatusOr<client::FetchedFile> got;
  {
    client::AttachmentTransfer transfer(&p_.relay(), &m_, &p_.keys(), p_.dir());
    auto held = m_.GetAttachment(id);
    const std::string name = held.ok() && held->has_value() ? (*held)->file_name() : Short(id);
    ProgressBar bar(name, !g_.json && isatty(STDERR_FILENO));
    got = transfer.GetFile(id, dir, /*overwrite=*/false, Progress(&bar, name));
  }
  if (!got.ok()) {
    Failed(got.status());
    return;
  }
  Emit({{"event", "file_saved"},
        {"attachment_id", got->pointer.attachment_id()},
        {"path", got->path},
        {"size", got->pointer.plaintext_size()},
        {"media_type", got->pointer.media_type()}},
       Tr("chat.file_saved",
          {{"path", got->path}, {"size", client::HumanSize(got->pointer.plaintext_size())}}));
}

void ChatSession::Members() {
  auto team = m_.FetchTeam(team_);
  if (!team.ok()) {
    Failed(team.status());
    return;
  }
  std::string text = Tr("chat.members.header", {{"count", std::to_string(team->members_size())},
                                                {"team", TeamWithPatient(m_, team_)}});
  for (const v1::Member& member : team->members()) {
    const bool you = member.account_id() == self_;
    if (g_.json) {
      Emit({{"event", "member"},
            {"account_id", member.account_id()},
            {"display_name", member.display_name()},
            {"role", client::RoleName(member.role())},
            {"status", client::MemberStatusName(member.status())},
            {"can_read", ChannelList(member.can_read())},
            {"can_post", ChannelList(member.can_post())},
            {"you", you}},
           "");
      continue;
    }
    absl::StrAppend(&text, "\n",
                    Tr("chat.member", {{"name", member.display_name()},
                                       {"role", RoleLabel(member.role())},
                                       {"status", MemberStatusLabel(member.status())},
                                       {"reads", HashChannels(member.can_read())},
                                       {"posts", HashChannels(member.can_post())},
                                       {"you", you ? Tr("chat.member_you") : ""}}));
  }
  if (!g_.json) Emit({}, text);
}

int ChatSession::Number(Shown shown) {
  shown_.push_back(std::move(shown));
  return static_cast<int>(shown_.size());
}

Shown* ChatSession::Lookup(absl::string_view word) {
  const size_t n = std::strtoul(std::string(word).c_str(), nullptr, 10);
  if (n == 0 || n > shown_.size()) {
    Error(Tr("chat.error.no_such_number", {{"n", std::string(word)}}), absl::StatusCode::kNotFound);
    return nullptr;
  }
  return &shown_[n - 1];
}

std::string ChatSession::Label(const std::string& id) {
  for (size_t i = 0; i < shown_.size(); ++i) {
    if (shown_[i].urgent_id == id || shown_[i].envelope_id == id) {
      return "[" + std::to_string(i + 1) + "]";
    }
  }
  return id;
}

int ChatSession::SentNumber(const std::string& message_id, const std::string& urgent_id) {
  for (size_t i = 0; i < shown_.size(); ++i) {
    const Shown& s = shown_[i];
    if (s.incoming) continue;
    if ((!message_id.empty() && s.message_id == message_id) ||
        (!urgent_id.empty() && s.urgent_id == urgent_id)) {
      return static_cast<int>(i + 1);
    }
  }
  return 0;
}

void ChatSession::Emit(const nlohmann::json& j, const std::string& human) {
  // Flushed line by line: someone (or a script) is reading as it comes.
  if (g_.json) {
    // Replace what is not UTF-8 rather than throw on a peer's bad bytes.
    if (!j.empty()) std::cout << DumpJson(j) << std::endl;
  } else if (!human.empty()) {
    std::cout << human << std::endl;
  }
}

void ChatSession::Error(const std::string& message, absl::StatusCode code) {
  if (g_.json) {
    std::cout << DumpJson({{"event", "error"},
                           {"error", message},
                           {"code", absl::StatusCodeToString(code)}})
              << std::endl;
  } else {
    std::cerr << Tr("error.line", {{"message", message}}) << std::endl;
  }
}

int ChatSession::Failed(const absl::Status& s) {
  if (!g_.json) return Fail(s, g_);  // with the hint of what to do
  Error(std::string(s.message()), s.code());
  return kExitFailed;
}

}  // namespace

ChatCommand::ChatCommand(CLI::App* app) {
  if (pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) wake_pipe_[0] = wake_pipe_[1] = -1;
  chat_ = app->add_subcommand("chat", Tr("help.chat"));
  chat_->add_option("--team", team_, Tr("help.chat.team"))->required();
  chat_->add_option("--channel", channel_, Tr("help.chat.channel"));
  chat_->footer(HelpExamples("  carerelay --profile gp chat --team 5f0c1a2b --channel clinical",
                             Tr("help.chat.note")));
}

ChatCommand::~ChatCommand() {
  // After Run; the signal thread no longer calls Interrupt (main cleared its
  // pointer under the lock the signal thread holds while calling).
  for (int fd : wake_pipe_) {
    if (fd >= 0) close(fd);
  }
}

bool ChatCommand::parsed() const { return chat_->parsed(); }

int ChatCommand::Run(Profile& profile, const Globals& g) {
  if (wake_pipe_[0] < 0) {
    return Fail(absl::InternalError("could not make the pipe that wakes the chat"), g);
  }
  ChatSession session(profile, g, &quit_, &receiving_, wake_pipe_[0], wake_pipe_[1]);
  messenger_.store(&profile.messenger());
  const int rc = session.Run(team_, channel_);
  messenger_.store(nullptr);
  return rc;
}

bool ChatCommand::Interrupt() {
  const bool first = !asked_.exchange(true);
  quit_.store(true);
  if (client::Messenger* m = messenger_.load()) m->StopReceiving();
  if (wake_pipe_[1] >= 0) {
    char wake = 1;
    (void)!write(wake_pipe_[1], &wake, 1);
  }
  // While the stream is open, stopping it again is enough: ending the
  // process there could lose messages already acknowledged but not yet shown.
  return first || receiving_.load();
}

}  // namespace carerelay::cli
