// `carerelay chat --team T [--channel C]`: the care team's conversation,
// live, in one terminal.
//
// What it is for. A professional on a home visit keeps one window open on
// the patient's team: every message of the team arrives as one line (time,
// channel, who wrote it with their role on the team, an URGENT mark with how
// to acknowledge it, documents shared), and what they type goes to the
// channel they write on. It is the same end-to-end encryption, the same
// access matrix and the same delivery contract as `message send`,
// `message receive --follow`, `file send`, `file get`, `message ack` and
// `message acks`; only the presentation differs.
//
// Each message shown gets a number for this session, [N], so a person types
// `/ack 4` or `/get 5` rather than a 16- or 32-digit id (ids work too).
// A plain line is sent to the current channel; the commands are
//   /channel C     write on channel C from now on (only a channel your role
//                  on the team may post on; otherwise a clear error, and
//                  the channel stays as it was)
//   /urgent TEXT   an URGENT message that must be acknowledged
//   /ack [N|ID]    acknowledge an urgent message (default: the latest one
//                  not yet acknowledged)
//   /acks N|ID     who has acknowledged an urgent message you sent
//   /file PATH     share a document on the current channel (with progress)
//   /get N [DIR]   fetch, check and save document N
//   /members       who is on the team, with what they read and post on
//   /help, /quit   (end of input, Ctrl-D, and Ctrl-C leave too)
// Acknowledgements of your own urgent messages show as they arrive, and so
// does the delivery of what you send: "[2] delivered to Anne Peeters
// (device 1)" once that device has stored it (the relay's delivery
// watermarks; also for what you sent before the chat, named by its time).
// Messages of your other teams, direct messages and the server's alerts
// are shown too (marked with where they come from), since the chat
// acknowledges everything it receives, as `receive` does.
//
// With --json every event is one JSON object per line on stdout, with an
// "event" field ("ready", "message", "document", "sent", "acknowledged"
// (your /ack), "acknowledged_by" (someone acknowledged your urgent
// message), "acks", "member", "channel", "team_event", "team_profile",
// "session_reset", "alert", "delivered" (one per device that stored a
// message of yours), "problem", "file_shared",
// "file_saved", "progress", "help", "error", "bye");
// input lines are read the same way. Everything a person reads otherwise
// comes from the message catalogs (catalog.h).
//
// How it runs. The Messenger is not thread-safe, so exactly one thread, the
// one that calls Run, uses it: it holds the receive stream open and, when
// a line arrives, stops the stream (Messenger::StopReceiving, the one call
// that is safe from elsewhere), runs the command, and opens the stream
// again (queued envelopes come first, so nothing is missed; duplicates are
// dropped by envelope id). A second thread only reads standard input (poll,
// with a wake-up pipe so it can be joined at any time) and queues lines.
// While a command runs (a long upload, say) new messages wait on the server
// and are shown right after it.
//
// Errors. A failed command (a send refused, a file missing, an unknown
// number) prints the error, as other commands do (catalog key error.line,
// with the usual hint), and the chat goes on. Run returns:
//   0  the person left: /quit, end of input, Ctrl-C or SIGTERM;
//   1  the chat could not start (no such team, not an active member, a
//      --channel the role may not post on) or the receive stream failed
//      (the server went away, or another `receive` or `chat` of this same
//      device took the stream over: ABORTED);
//   2  bad usage (--channel not a channel's name).
//
// Thread-safety: construct, parse and Run on the main thread; Interrupt()
// is the only call safe from another thread (the signal-handling thread).
#ifndef CARERELAY_CLIENT_CLI_CHAT_COMMAND_H_
#define CARERELAY_CLIENT_CLI_CHAT_COMMAND_H_

#include <CLI/CLI.hpp>
#include <atomic>
#include <string>

#include "client/cli/cli_common.h"
#include "client/cli/profile.h"
#include "client/messenger.h"

namespace carerelay::cli {

class ChatCommand {
 public:
  // Adds `chat` to `app`; the options are bound to this object, which must
  // outlive parsing and Run.
  explicit ChatCommand(CLI::App* app);
  ~ChatCommand();
  ChatCommand(const ChatCommand&) = delete;
  ChatCommand& operator=(const ChatCommand&) = delete;

  bool parsed() const;
  // Runs the chat on standard input and output until the person leaves;
  // returns the exit code (see above). Reads standard input until then.
  int Run(Profile& profile, const Globals& g);

  // Asks a running chat to end as /quit does: the receive stream stops, the
  // command being run (an upload, say) finishes, the threads are joined and
  // Run returns 0. Returns false if it had already been asked and the chat
  // is not waiting on the receive stream (a command such as an upload is
  // running), so a second Ctrl-C can end the process at once. Thread-safe;
  // harmless before or after Run.
  bool Interrupt();

 private:
  std::string team_, channel_;
  CLI::App* chat_ = nullptr;
  std::atomic<bool> asked_{false};      // Interrupt was called
  std::atomic<bool> quit_{false};       // the chat is ending, whoever asked
  std::atomic<bool> receiving_{false};  // the receive stream is open
  // The running chat's messenger, for Interrupt().
  std::atomic<client::Messenger*> messenger_{nullptr};
  // Wakes the input thread (Interrupt, the end of Run); made once, here, so
  // the signal thread may write to it at any time.
  int wake_pipe_[2] = {-1, -1};
};

}  // namespace carerelay::cli

#endif  // CARERELAY_CLIENT_CLI_CHAT_COMMAND_H_
