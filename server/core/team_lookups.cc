#include "server/core/team_lookups.h"

#include <spdlog/spdlog.h>

namespace carerelay::core {

TeamLookups::TeamLookups(CareTeams* teams, const Clock* clock, const Limits& limits)
    : teams_(teams),
      allowance_(clock, "lookups by national number for this account",
                 limits.team_lookups_per_day / 86400.0, limits.team_lookups_per_day) {}

absl::StatusOr<v1::FindTeamsResponse> TeamLookups::Find(const store::DeviceRef& caller,
                                                        absl::string_view index) {
  absl::Status allowed = allowance_.Take(caller.account.Hex());
  if (!allowed.ok()) {
    spdlog::warn("event=team_lookup account={} device={} refused=allowance_spent",
                 caller.account.Hex(), caller.device_id);
    return allowed;
  }
  absl::StatusOr<v1::FindTeamsResponse> found = teams_->Find(caller, index);
  if (found.ok()) {
    spdlog::info("event=team_lookup account={} device={} matches={}", caller.account.Hex(),
                 caller.device_id, found->teams_size());
  } else {
    spdlog::info("event=team_lookup account={} device={} refused={}", caller.account.Hex(),
                 caller.device_id, absl::StatusCodeToString(found.status().code()));
  }
  return found;
}

}  // namespace carerelay::core
