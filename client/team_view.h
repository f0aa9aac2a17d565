// TeamView: how a client reads a care team as the server lists it
// (v1::Team from Teams.GetTeam): who is on it, who reads which channel (and
// so which devices a team send must name), who may change the team profile,
// and the names people use for roles and channels.
//
// The server decides who may read and post (server/core/access_matrix.h);
// the client follows what GetTeam reports for each member (can_read,
// can_post), never a matrix of its own, so both always agree.
//
// Thread-safety: free functions without shared state; thread-safe.
#ifndef CARERELAY_CLIENT_TEAM_VIEW_H_
#define CARERELAY_CLIENT_TEAM_VIEW_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "carerelay/v1/teams.pb.h"
#include "proto/team_names.h"

namespace carerelay::client {

// A team's channels, in the order people read them.
inline constexpr v1::Channel kTeamChannels[] = {v1::CHANNEL_TEAM, v1::CHANNEL_CARE,
                                                v1::CHANNEL_CLINICAL, v1::CHANNEL_INTAKE};

// "COORDINATOR", "CASE_MANAGER", ... as the design documents write roles;
// "?" for an unspecified role.
std::string RoleName(v1::Role role);
// "team", "care", "clinical", "intake" (shown as "#clinical").
std::string ChannelName(v1::Channel channel);
// "active", "invited", "awaiting consent".
std::string MemberStatusName(v1::MemberStatus status);

// Reading names: proto/team_names.h (ParseRole, ParseChannel), shared with
// the server.
using carerelay::ParseChannel;
using carerelay::ParseRole;

// The sender-key group of a team channel: "<team_id>:<channel name>", e.g.
// "5f0c...:clinical". Each channel has its own sender keys, so a member who
// may read one channel never holds the keys of another.
std::string TeamGroupId(const std::string& team_id, v1::Channel channel);
// The reverse; false if `group_id` is not a team channel's group.
bool ParseTeamGroupId(absl::string_view group_id, std::string* team_id, v1::Channel* channel);

// The member entry of `account_id` (any status), or nullptr. Points into
// `team`.
const v1::Member* FindMember(const v1::Team& team, absl::string_view account_id);
// The entry `account_id` acts under: their own, or that of an active
// organisation whose staff on duty (Member.on_duty) lists them. nullptr if
// neither. Points into `team`.
const v1::Member* ActingMember(const v1::Team& team, absl::string_view account_id);
// The staff member `account_id` on duty for `organisation`, or nullptr.
const v1::StaffOnDuty* OnDuty(const v1::Member& organisation, absl::string_view account_id);
bool CanRead(const v1::Member& member, v1::Channel channel);
bool CanPost(const v1::Member& member, v1::Channel channel);

// A device a team send must name.
struct ReaderDevice {
  std::string account_id;
  uint32_t device_id = 0;
  uint32_t registration_id = 0;
  // "account.device", as crypto::Address::ToString.
  std::string ToString() const { return account_id + "." + std::to_string(device_id); }
};

// The devices that must receive a send on `channel`: every listed device of
// every ACTIVE member whose can_read has the channel, and of an
// organisation's staff on duty, minus the sending
// device (`self_account`, `self_device`); the sender's other devices are
// included when the sender may read. Sorted by account, then device.
std::vector<ReaderDevice> ReaderDevices(const v1::Team& team, v1::Channel channel,
                                        const std::string& self_account, uint32_t self_device);

// Whether `account_id` may set the team profile (the patient's identity):
// the coordinator, the case manager, the patient, or a caregiver acting for
// the patient, active on the team. Others read it. With `sent_at_ms` (a
// received profile's server timestamp), also someone who could set it then
// and no longer can (Team.former_profile_editors): a profile sent before a
// coordinator handover stays valid on devices that read it after.
bool MayEditTeamProfile(const v1::Team& team, absl::string_view account_id, int64_t sent_at_ms = 0);

// An account as a person typed it: a full id (32 hex characters, any case),
// or, when `team` is given, a unique prefix of at least 8 hex characters of
// one of its members' ids. INVALID_ARGUMENT saying what to type otherwise
// (unknown or ambiguous prefix, not hex).
absl::StatusOr<std::string> ResolveAccount(absl::string_view given, const v1::Team* team);

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_TEAM_VIEW_H_
