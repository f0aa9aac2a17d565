#include "client/team_view.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace carerelay::client {
namespace {

constexpr size_t kAccountIdSize = 32;
constexpr size_t kMinAccountPrefix = 8;

bool IsHex(absl::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

std::string RoleName(v1::Role role) {
  if (role == v1::ROLE_UNSPECIFIED || !v1::Role_IsValid(role)) return "?";
  return v1::Role_Name(role).substr(5);  // "ROLE_"
}

std::string ChannelName(v1::Channel channel) {
  if (channel == v1::CHANNEL_UNSPECIFIED || !v1::Channel_IsValid(channel)) return "direct";
  return absl::AsciiStrToLower(v1::Channel_Name(channel).substr(8));  // "CHANNEL_"
}

std::string MemberStatusName(v1::MemberStatus status) {
  switch (status) {
    case v1::MEMBER_STATUS_AWAITING_CONSENT:
      return "awaiting consent";
    case v1::MEMBER_STATUS_INVITED:
      return "invited";
    case v1::MEMBER_STATUS_ACTIVE:
      return "active";
    default:
      return "?";
  }
}

std::string TeamGroupId(const std::string& team_id, v1::Channel channel) {
  return absl::StrCat(team_id, ":", ChannelName(channel));
}

bool ParseTeamGroupId(absl::string_view group_id, std::string* team_id, v1::Channel* channel) {
  const size_t colon = group_id.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  const absl::string_view name = group_id.substr(colon + 1);
  for (v1::Channel c :
       {v1::CHANNEL_TEAM, v1::CHANNEL_CARE, v1::CHANNEL_CLINICAL, v1::CHANNEL_INTAKE}) {
    if (name == ChannelName(c)) {
      *team_id = std::string(group_id.substr(0, colon));
      *channel = c;
      return true;
    }
  }
  return false;
}

const v1::Member* FindMember(const v1::Team& team, absl::string_view account_id) {
  for (const v1::Member& m : team.members()) {
    if (m.account_id() == account_id) return &m;
  }
  return nullptr;
}

const v1::StaffOnDuty* OnDuty(const v1::Member& organisation, absl::string_view account_id) {
  for (const v1::StaffOnDuty& s : organisation.on_duty()) {
    if (s.account_id() == account_id) return &s;
  }
  return nullptr;
}

const v1::Member* ActingMember(const v1::Team& team, absl::string_view account_id) {
  if (const v1::Member* own = FindMember(team, account_id)) return own;
  for (const v1::Member& m : team.members()) {
    if (m.status() == v1::MEMBER_STATUS_ACTIVE && OnDuty(m, account_id)) return &m;
  }
  return nullptr;
}

bool CanRead(const v1::Member& member, v1::Channel channel) {
  return std::find(member.can_read().begin(), member.can_read().end(), channel) !=
         member.can_read().end();
}

bool CanPost(const v1::Member& member, v1::Channel channel) {
  return std::find(member.can_post().begin(), member.can_post().end(), channel) !=
         member.can_post().end();
}

std::vector<ReaderDevice> ReaderDevices(const v1::Team& team, v1::Channel channel,
                                        const std::string& self_account, uint32_t self_device) {
  std::vector<ReaderDevice> readers;
  for (const v1::Member& m : team.members()) {
    if (m.status() != v1::MEMBER_STATUS_ACTIVE || !CanRead(m, channel)) continue;
    for (const v1::TeamDevice& d : m.devices()) {
      if (m.account_id() == self_account && d.device_id() == self_device) continue;
      readers.push_back({m.account_id(), d.device_id(), d.registration_id()});
    }
    for (const v1::StaffOnDuty& s : m.on_duty()) {
      for (const v1::TeamDevice& d : s.devices()) {
        if (s.account_id() == self_account && d.device_id() == self_device) continue;
        readers.push_back({s.account_id(), d.device_id(), d.registration_id()});
      }
    }
  }
  std::sort(readers.begin(), readers.end(), [](const ReaderDevice& a, const ReaderDevice& b) {
    return std::tie(a.account_id, a.device_id) < std::tie(b.account_id, b.device_id);
  });
  // The case manager may be listed both as a member and as the contact point;
  // a device is named once.
  readers.erase(std::unique(readers.begin(), readers.end(),
                            [](const ReaderDevice& a, const ReaderDevice& b) {
                              return a.account_id == b.account_id && a.device_id == b.device_id;
                            }),
                readers.end());
  return readers;
}

bool MayEditTeamProfile(const v1::Team& team, absl::string_view account_id, int64_t sent_at_ms) {
  if (account_id.empty()) return false;
  if (sent_at_ms > 0) {
    for (const v1::FormerProfileEditor& former : team.former_profile_editors()) {
      if (former.account_id() == account_id && sent_at_ms <= former.until_ms()) return true;
    }
  }
  if (team.coordinator_account_id() == account_id || team.case_manager_account_id() == account_id) {
    return true;
  }
  const v1::Member* m = FindMember(team, account_id);
  if (m == nullptr || m->status() != v1::MEMBER_STATUS_ACTIVE) return false;
  switch (m->role()) {
    case v1::ROLE_COORDINATOR:
    case v1::ROLE_CASE_MANAGER:
    case v1::ROLE_PATIENT:
      return true;
    case v1::ROLE_CAREGIVER:
      return m->acts_for_patient();
    default:
      return false;
  }
}

absl::StatusOr<std::string> ResolveAccount(absl::string_view given, const v1::Team* team) {
  const std::string id = absl::AsciiStrToLower(absl::StripAsciiWhitespace(given));
  if (id.empty() || !IsHex(id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", given,
                     "\" is not an account id: give the 32 hex characters `carerelay whoami` "
                     "shows",
                     team != nullptr ? " (or the first 8 or more of a team member's)" : ""));
  }
  if (id.size() == kAccountIdSize) return id;
  if (id.size() > kAccountIdSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", given, "\" is too long for an account id (32 hex characters)"));
  }
  if (team == nullptr || id.size() < kMinAccountPrefix) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", given, "\" is too short: give the full account id (32 hex characters)",
                     team != nullptr ? ", or at least its first 8 for a team member" : ""));
  }
  std::vector<std::string> matches;
  for (const v1::Member& m : team->members()) {
    if (absl::StartsWith(m.account_id(), id) &&
        std::find(matches.begin(), matches.end(), m.account_id()) == matches.end()) {
      matches.push_back(m.account_id());
    }
  }
  if (matches.size() == 1) return matches[0];
  if (matches.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no member of team ", team->team_id(), " has an account id starting with ", id,
        ": check `carerelay team members ", team->team_id(), "`, or give the full id"));
  }
  return absl::InvalidArgumentError(absl::StrCat("several members' ids start with ", id, " (",
                                                 absl::StrJoin(matches, ", "),
                                                 "): give more characters"));
}

}  // namespace carerelay::client
