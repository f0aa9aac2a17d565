// `carerelayd admin check | backup | restore`: the store's consistency
// check, online backup and restore, for the administrator on the server's
// machine. Each works on a running server, through its admin socket (a
// checkpoint taken while it serves), and on a stopped one, on the data
// directory itself.
//
// Exit codes, as the commands return them: 0 done (check: consistent);
// 1 check: violations found (one line each on stdout); 2 could not be done
// (the reason on stderr).
#ifndef CARERELAY_SERVER_ADMIN_COMMANDS_H_
#define CARERELAY_SERVER_ADMIN_COMMANDS_H_

#include <memory>
#include <string>

#include "carerelay/v1/admin.grpc.pb.h"

namespace carerelay {

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

}  // namespace carerelay

#endif  // CARERELAY_SERVER_ADMIN_COMMANDS_H_
