// The access matrix: which role may read and post on which channel of a team.
//
// One table, role x channel -> {read, post}, with three layers:
//   1. the default below (README, "Access matrix"), from DESIGN.md:
//        TEAM      everyone on the team, patient and caregivers included
//        CARE      professionals, social workers, the coordinator and the
//                  case manager
//        CLINICAL  health professionals and the coordinator only
//        INTAKE    the helpdesk with the coordinator and the case manager
//   2. the deployment's overrides (server configuration, `--access`), which
//      may widen or narrow any cell;
//   3. a team's narrowing (SetTeamAccess by the patient, an acting caregiver
//      or the coordinator), which can only take rights away, and never takes
//      #team from the patient or a caregiver: the team channel is where the
//      patient side hears what the team says to them. Each side's narrowing
//      is kept apart (care_teams.h says who lifts which).
//   4. the patient side's widening of its own reading: "the person should
//      have access to their own data". Read only, on #care or #clinical,
//      for the patient and for the caregivers acting for them (not the
//      other caregivers), set and taken back by the patient side only.
// Posting implies nothing about reading and vice versa; a cell may allow
// reading without posting (e.g. a read-only observer).
//
// This is the one place that decides who may read or post where: the relay
// (who must receive a send, who may post), the teams (who is listed as a
// reader) and the attachment and intake services all ask it.
//
// Thread-safety: immutable after construction; thread-safe.
#ifndef CARERELAY_SERVER_CORE_ACCESS_MATRIX_H_
#define CARERELAY_SERVER_CORE_ACCESS_MATRIX_H_

#include <array>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "carerelay/v1/teams.pb.h"
#include "server/store/records.pb.h"

namespace carerelay::core {

struct Access {
  bool read = false;
  bool post = false;
  friend bool operator==(Access a, Access b) { return a.read == b.read && a.post == b.post; }
};

class AccessMatrix {
 public:
  // The default matrix.
  AccessMatrix();

  // The default with `overrides` applied, each "ROLE:CHANNEL=rights" where
  // ROLE and CHANNEL are names as in the API without prefix, any case
  // ("social:clinical=r", "HELPDESK:CARE=-") and rights are "rp", "r", "p"
  // or "-". INVALID_ARGUMENT naming the bad entry.
  static absl::StatusOr<AccessMatrix> WithOverrides(const std::vector<std::string>& overrides);

  // The deployment's cell. No access for unknown or unspecified values.
  Access Get(v1::Role role, v1::Channel channel) const;

  // The cell on a team: the deployment's, narrowed by the team's rules.
  Access ForTeam(v1::Role role, v1::Channel channel,
                 const google::protobuf::RepeatedPtrField<v1::AccessRule>& narrowed) const;

  // What `member` may do on `channel` of `team`: ForTeam for their role,
  // then the patient side's widening (TeamRecord.widened) if they are the
  // patient or a caregiver acting for them.
  Access ForMember(const store::TeamRecord& team, const store::TeamMemberRecord& member,
                   v1::Channel channel) const;

  // Whether `rule` is the patient side widening its own reading: the
  // PATIENT or CAREGIVER cell of #care or #clinical, read without post,
  // where the deployment gives no reading.
  bool IsOwnWidening(const v1::AccessRule& rule) const;

  // INVALID_ARGUMENT if `rule` names no valid role and channel, grants
  // something the deployment does not (own widening aside: check
  // IsOwnWidening first), or takes anything of #team from the PATIENT or
  // CAREGIVER role.
  absl::Status CheckNarrowing(const v1::AccessRule& rule) const;

  // Every cell, for documentation and the CLI ("carerelay team access").
  std::vector<v1::AccessRule> Cells() const;

  static constexpr int kRoles = 8;     // v1::Role values 0..7
  static constexpr int kChannels = 5;  // v1::Channel values 0..4
  // How many cells there are (role x channel, unspecified values excluded):
  // the most rules one SetTeamAccess can meaningfully carry.
  static constexpr int kCells = (kRoles - 1) * (kChannels - 1);

 private:
  std::array<std::array<Access, kChannels>, kRoles> cells_{};
};

// Lower-case names used in messages: "coordinator", "clinical" (overrides
// are read with proto/team_names.h).
std::string RoleName(v1::Role role);
std::string ChannelName(v1::Channel channel);

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_ACCESS_MATRIX_H_
