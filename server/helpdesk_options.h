// The command-line and config-file options of urgency and the helpdesk
// (core/helpdesk_policy.h), declared on carerelayd's `serve` command next to
// the others (server_config.h).
#ifndef CARERELAY_SERVER_HELPDESK_OPTIONS_H_
#define CARERELAY_SERVER_HELPDESK_OPTIONS_H_

#include "server/server_config.h"

namespace carerelay {

// Declares --urgent-reminder-minutes, --urgent-window-minutes,
// --helpdesk-account, --helpdesk-supervisor, --intake-deadline,
// --intake-ladder, --intake-escalation-step-minutes and
// --timer-interval-seconds, bound to `config`. A malformed
// --intake-deadline or --intake-ladder is refused when parsed.
void AddHelpdeskOptions(CLI::App* app, ServerConfig* config);

}  // namespace carerelay

#endif  // CARERELAY_SERVER_HELPDESK_OPTIONS_H_
