// Reading role and channel names as people and configuration files write
// them, in one place for the server (access-matrix overrides) and the
// clients (CLI options).
//
// Thread-safety: free functions; thread-safe.
#ifndef CARERELAY_PROTO_TEAM_NAMES_H_
#define CARERELAY_PROTO_TEAM_NAMES_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "carerelay/v1/common.pb.h"

namespace carerelay {

// Accepts a name in any case, with '-', '_' or ' ' ("case-manager",
// "CASE_MANAGER", "ROLE_CASE_MANAGER"; "#clinical", "CHANNEL_CLINICAL").
// INVALID_ARGUMENT listing the valid names otherwise (never UNSPECIFIED).
absl::StatusOr<v1::Role> ParseRole(absl::string_view name);
absl::StatusOr<v1::Channel> ParseChannel(absl::string_view name);

}  // namespace carerelay

#endif  // CARERELAY_PROTO_TEAM_NAMES_H_
