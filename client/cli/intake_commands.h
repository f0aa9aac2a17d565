// `carerelay intake ...`, `carerelay ack` and `carerelay acks`: the
// helpdesk's intakes (intakes.proto) and urgent messages' acknowledgements
// (urgency.proto), and the words the CLI uses for alerts (alerts.proto).
//
//   intake open --caller K --urgency U --category C [--voicemail] [--team T] [--notes N]
//                                                   Intakes.OpenIntake (+ E2E notes)
//   intake route ID --coordinator|--to ACCOUNT|--pool REGION [--team T] [--notes N]
//                                                   Intakes.RouteIntake (+ E2E notes)
//   intake accept|resolve|cancel|show ID            Intakes.Accept/Resolve/Cancel/GetIntake
//   intake list [--mine|--overdue|--all]            Intakes.ListIntakes
//   ack ID                                          Urgency.AcknowledgeUrgent
//   acks MESSAGE                                    Urgency.ListAcknowledgements
//
// (`send --urgent` is in main.cc with the other sends.)
//
// Not thread-safe: built, parsed and run once, on the main thread.
#ifndef CARERELAY_CLIENT_CLI_INTAKE_COMMANDS_H_
#define CARERELAY_CLIENT_CLI_INTAKE_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>

#include "carerelay/v1/alerts.pb.h"
#include "carerelay/v1/intakes.pb.h"
#include "carerelay/v1/urgency.pb.h"
#include "client/cli/cli_common.h"
#include "client/cli/profile.h"

namespace carerelay::cli {

class IntakeCommands {
 public:
  // Adds `intake` to `app`, and `ack` and `acks` (of urgent messages) to the
  // `message` noun; the options are bound to this object, which must outlive
  // parsing and Run.
  IntakeCommands(CLI::App* app, CLI::App* message);
  IntakeCommands(const IntakeCommands&) = delete;
  IntakeCommands& operator=(const IntakeCommands&) = delete;

  bool parsed() const;
  // Runs the parsed command; returns the exit code.
  int Run(Profile& profile, const Globals& g);

 private:
  struct Options {
    std::string id, caller, urgency, category, team, notes, to, pool, assessor, reason, at;
    std::string from, to_time;
    bool csv = false;
    std::vector<std::string> resources;
    bool voicemail = false, live = false, coordinator = false;
    bool mine = false, overdue = false, all = false, case_management = false, callbacks = false;
    bool oriented = false;
    bool not_fitting = false, extend = false, end = false;
    uint32_t period_days = 0;
  };
  int Open(Profile& p, const Globals& g);
  int Route(Profile& p, const Globals& g);
  // Sends --notes, if given, end-to-end encrypted to the helpdesk and
  // whoever the intake now goes to; records the message id in `j` and says
  // so in `human`.
  absl::Status SendNotes(Profile& p, const v1::Intake& intake, nlohmann::json* j,
                         std::string* human);
  int Answer(Profile& p, const Globals& g);
  int Report(Profile& p, const Globals& g);
  int Callback(Profile& p, const Globals& g);
  int Assess(Profile& p, const Globals& g);
  int Evaluate(Profile& p, const Globals& g);
  int List(Profile& p, const Globals& g);
  int Ack(Profile& p, const Globals& g);
  int Acks(Profile& p, const Globals& g);

  Options o_;
  CLI::App *intake_, *open_, *route_, *answer_, *callback_, *report_, *assess_, *evaluate_,
      *accept_, *resolve_, *cancel_, *show_, *list_, *ack_, *acks_;
};

// An intake as JSON (for --json) and as one human line.
nlohmann::json IntakeJson(const v1::Intake& intake);
std::string IntakeLine(const v1::Intake& intake);

// Who has acknowledged an urgent message (Urgency.ListAcknowledgements), as
// JSON (for --json): message_id, team, escalated, recipients.
nlohmann::json UrgentStatusJson(const v1::UrgentMessageStatus& status);

// An alert in words, e.g. "URGENT reminder #2: acknowledge message 00000000000000a3
// (carerelay ack 00000000000000a3)".
// `self_account`: this device's account, to tell its own new device from a
// correspondent's (KIND_DEVICE_ADDED); `name`: the display name of the
// person the alert is about, when known.
std::string DescribeAlert(const v1::Alert& alert, const std::string& self_account = "",
                          const std::string& name = "");
// "urgent_reminder", "intake_assigned", ...: the alert kind for --json output.
std::string AlertKindName(v1::Alert::Kind kind);

}  // namespace carerelay::cli

#endif  // CARERELAY_CLIENT_CLI_INTAKE_COMMANDS_H_
