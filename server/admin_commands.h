// `carerelayd admin enroll | functions | check | backup | restore |
// erased-teams | erased-audit | service-hours`: enrollment codes, the
// accounts' functions, the store's consistency check, online backup and
// restore, the audit logs kept of erased teams, and the helpdesk line's
// configured calendar, for the administrator on the server's machine.
// Each works on a running server, through its admin socket (check and
// backup on a checkpoint taken while it serves), and on a stopped one, on
// the data directory itself.
//
// Exit codes, as the commands return them: 0 done (check: consistent;
// erased-audit: the chain checks); 1 check: violations found (one line each
// on stdout), erased-audit: the chain is broken (the check says where);
// 2 could not be done (the reason on stderr); enroll and functions: 1 the
// server refused (the reason on stderr).
#ifndef CARERELAY_SERVER_ADMIN_COMMANDS_H_
#define CARERELAY_SERVER_ADMIN_COMMANDS_H_

#include <memory>
#include <string>
#include <vector>

#include "carerelay/v1/admin.grpc.pb.h"
#include "server/core/service_calendar.h"

namespace carerelay {

struct EnrollOptions {
  std::string data_dir = "data";
  std::string name;
  std::string kind;  // patient, caregiver, professional, social, staff (or case_manager, helpdesk)
  std::vector<std::string> functions;  // case_manager, helpdesk, helpdesk_supervisor, assessor
  int ttl_hours = 24 * 7;
};

// Issues an enrollment code: the code alone on stdout.
int Enroll(const EnrollOptions& options);

struct FunctionsOptions {
  std::string data_dir = "data";
  std::string account;  // empty: every account with functions (a listing)
  std::vector<std::string> grant;
  std::vector<std::string> withdraw;
  std::string kind;  // empty: unchanged
};

// With --grant, --withdraw or --kind, changes one account; otherwise lists.
// Prints each account as one JSON object per line (carerelay.v1.
// AccountFunctions: its functions and the log of their changes).
int AccountFunctions(const FunctionsOptions& options);

// The admin socket of the server running on `data_dir`; null when no
// server answers there within two seconds.
std::unique_ptr<v1::Admin::Stub> ConnectAdmin(const std::string& data_dir);

// Checks the store (core/consistency_check.h). A running server's store is
// checked on a checkpoint taken under the data directory and removed after.
int CheckStore(const std::string& data_dir);

// Writes a consistent copy of the store to `to` (absolute or relative to
// the current directory; must not exist).
int BackupStore(const std::string& data_dir, const std::string& to);

// Makes `data_dir` (must not exist, or be empty) a copy of the backup in
// `from`, checks it, and says how to start the server on it. Never touches
// `from`.
int RestoreStore(const std::string& from, const std::string& data_dir);

// Lists the erased teams whose audit log is kept: one JSON object per line
// (carerelay.v1.ErasedTeam), oldest erasure first.
int ListErasedTeams(const std::string& data_dir);

// Prints one erased team's audit log for a legal request, as one JSON
// document (carerelay.v1.ReadErasedTeamAuditResponse: the team, every entry,
// and the check of the chain against the head kept at the erasure).
int ReadErasedTeamAudit(const std::string& data_dir, const std::string& team_id);

// Prints the line's open hours for `days` days from today, one day a line,
// naming the holidays and closures (the configuration's service hours, to
// check them before a deployment). Needs no server or data directory.
int ShowServiceHours(const core::ServiceCalendar& calendar, int days);

}  // namespace carerelay

#endif  // CARERELAY_SERVER_ADMIN_COMMANDS_H_
