// Looking a patient's teams up by their national number (FindTeams, through
// the blind index), with the limits a lookup by a person's number needs:
// the helpdesk and case managers may look people up, but not enumerate
// them. Each account has a daily allowance of lookups, and every lookup,
// hit or miss, is logged with who made it (the server log, event
// "team_lookup": account, device, matches; never the index), so that an
// administrator can see who looked up how many people. A hit is also
// written in the found team's audit log (CareTeams::Find).
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_CORE_TEAM_LOOKUPS_H_
#define CARERELAY_SERVER_CORE_TEAM_LOOKUPS_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "carerelay/v1/teams.pb.h"
#include "server/core/care_teams.h"
#include "server/core/clock.h"
#include "server/core/limits.h"
#include "server/core/rate_limiter.h"

namespace carerelay::core {

class TeamLookups {
 public:
  // `teams` and `clock` must outlive this.
  TeamLookups(CareTeams* teams, const Clock* clock, const Limits& limits);

  // CareTeams::Find for `caller`, after taking one lookup from its account's
  // allowance (Limits::team_lookups_per_day, refilled evenly over the day).
  // Errors: CareTeams::Find's, and RESOURCE_EXHAUSTED (with
  // retry_after_seconds) once the allowance is spent; a refused lookup is
  // logged too.
  absl::StatusOr<v1::FindTeamsResponse> Find(const store::DeviceRef& caller,
                                             absl::string_view index);

 private:
  CareTeams* teams_;
  RateLimiter allowance_;  // keyed by account
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_TEAM_LOOKUPS_H_
