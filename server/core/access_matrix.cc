#include "server/core/access_matrix.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "proto/team_names.h"

namespace carerelay::core {
namespace {

constexpr Access kNone{false, false};
constexpr Access kReadPost{true, true};

}  // namespace

AccessMatrix::AccessMatrix() {
  using v1::Channel;
  auto set = [this](v1::Role role, std::initializer_list<Channel> channels) {
    for (Channel c : channels) cells_[role][c] = kReadPost;
  };
  set(v1::ROLE_PATIENT, {v1::CHANNEL_TEAM});
  set(v1::ROLE_CAREGIVER, {v1::CHANNEL_TEAM});
  set(v1::ROLE_COORDINATOR,
      {v1::CHANNEL_TEAM, v1::CHANNEL_CARE, v1::CHANNEL_CLINICAL, v1::CHANNEL_INTAKE});
  set(v1::ROLE_PROFESSIONAL, {v1::CHANNEL_TEAM, v1::CHANNEL_CARE, v1::CHANNEL_CLINICAL});
  set(v1::ROLE_SOCIAL, {v1::CHANNEL_TEAM, v1::CHANNEL_CARE});
  set(v1::ROLE_CASE_MANAGER, {v1::CHANNEL_TEAM, v1::CHANNEL_CARE, v1::CHANNEL_INTAKE});
  set(v1::ROLE_HELPDESK, {v1::CHANNEL_INTAKE});
}

absl::StatusOr<AccessMatrix> AccessMatrix::WithOverrides(
    const std::vector<std::string>& overrides) {
  AccessMatrix m;
  for (const auto& entry : overrides) {
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "access override \"", entry, "\": ", why,
          " (expected ROLE:CHANNEL=RIGHTS, e.g. social:clinical=r; rights rp, r, p or -)"));
    };
    std::vector<std::string> cell_rights = absl::StrSplit(entry, '=');
    if (cell_rights.size() != 2) return bad("no single '='");
    std::vector<std::string> role_channel = absl::StrSplit(cell_rights[0], ':');
    if (role_channel.size() != 2) return bad("no single ':'");
    auto role = carerelay::ParseRole(absl::StripAsciiWhitespace(role_channel[0]));
    if (!role.ok()) return bad(role.status().message());
    auto channel = carerelay::ParseChannel(absl::StripAsciiWhitespace(role_channel[1]));
    if (!channel.ok()) return bad(channel.status().message());
    std::string rights = absl::AsciiStrToLower(absl::StripAsciiWhitespace(cell_rights[1]));
    Access a;
    if (rights == "rp" || rights == "pr") {
      a = kReadPost;
    } else if (rights == "r") {
      a = {true, false};
    } else if (rights == "p") {
      a = {false, true};
    } else if (rights == "-") {
      a = kNone;
    } else {
      return bad("unknown rights");
    }
    m.cells_[*role][*channel] = a;
  }
  return m;
}

Access AccessMatrix::Get(v1::Role role, v1::Channel channel) const {
  if (role <= 0 || role >= kRoles || channel <= 0 || channel >= kChannels) return kNone;
  return cells_[role][channel];
}

Access AccessMatrix::ForTeam(
    v1::Role role, v1::Channel channel,
    const google::protobuf::RepeatedPtrField<v1::AccessRule>& narrowed) const {
  Access a = Get(role, channel);
  for (const auto& rule : narrowed) {
    if (rule.role() == role && rule.channel() == channel) {
      a.read = a.read && rule.read();
      a.post = a.post && rule.post();
    }
  }
  return a;
}

Access AccessMatrix::ForMember(const store::TeamRecord& team, const store::TeamMemberRecord& member,
                               v1::Channel channel) const {
  const auto role = static_cast<v1::Role>(member.role());
  Access a = ForTeam(role, channel, team.narrowed());
  const bool own =
      role == v1::ROLE_PATIENT || (role == v1::ROLE_CAREGIVER && member.acts_for_patient());
  if (!own) return a;
  for (const auto& rule : team.widened()) {
    if (rule.role() == role && rule.channel() == channel && rule.read()) a.read = true;
  }
  return a;
}

bool AccessMatrix::IsOwnWidening(const v1::AccessRule& rule) const {
  return (rule.role() == v1::ROLE_PATIENT || rule.role() == v1::ROLE_CAREGIVER) &&
         (rule.channel() == v1::CHANNEL_CARE || rule.channel() == v1::CHANNEL_CLINICAL) &&
         rule.read() && !rule.post() && !Get(rule.role(), rule.channel()).read;
}

absl::Status AccessMatrix::CheckNarrowing(const v1::AccessRule& rule) const {
  if (rule.role() <= 0 || rule.role() >= kRoles || !v1::Role_IsValid(rule.role())) {
    return absl::InvalidArgumentError("an access rule needs a role");
  }
  if (rule.channel() <= 0 || rule.channel() >= kChannels || !v1::Channel_IsValid(rule.channel())) {
    return absl::InvalidArgumentError("an access rule needs a channel");
  }
  Access deployment = Get(rule.role(), rule.channel());
  if ((rule.read() && !deployment.read) || (rule.post() && !deployment.post)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "this deployment does not let ", RoleName(rule.role()), " ",
        rule.read() && !deployment.read ? "read" : "post", " on #", ChannelName(rule.channel()),
        "; a team can only narrow access, never widen it (except the patient side, who may let "
        "the patient and the caregivers acting for them read #care or #clinical)"));
  }
  // Whoever asks, the patient side keeps what the deployment gives it on
  // #team: a coordinator must not shut the patient out of their own team's
  // conversation, and the patient does not lock out their own family (they
  // remove a caregiver instead).
  if ((rule.role() == v1::ROLE_PATIENT || rule.role() == v1::ROLE_CAREGIVER) &&
      rule.channel() == v1::CHANNEL_TEAM && !(Access{rule.read(), rule.post()} == deployment)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the ", RoleName(rule.role()),
        " always keeps #team: it is where the patient side hears the team; remove a person "
        "instead of narrowing their role"));
  }
  return absl::OkStatus();
}

std::vector<v1::AccessRule> AccessMatrix::Cells() const {
  std::vector<v1::AccessRule> out;
  for (int r = 1; r < kRoles; ++r) {
    for (int c = 1; c < kChannels; ++c) {
      v1::AccessRule rule;
      rule.set_role(static_cast<v1::Role>(r));
      rule.set_channel(static_cast<v1::Channel>(c));
      rule.set_read(cells_[r][c].read);
      rule.set_post(cells_[r][c].post);
      out.push_back(rule);
    }
  }
  return out;
}

std::string RoleName(v1::Role role) {
  std::string name = v1::Role_Name(role);
  if (absl::StartsWith(name, "ROLE_")) name = name.substr(5);
  return absl::AsciiStrToLower(name);
}

std::string ChannelName(v1::Channel channel) {
  std::string name = v1::Channel_Name(channel);
  if (absl::StartsWith(name, "CHANNEL_")) name = name.substr(8);
  return absl::AsciiStrToLower(name);
}

}  // namespace carerelay::core
