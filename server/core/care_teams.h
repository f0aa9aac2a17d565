// Care teams: one team per patient pathway, its people and roles, the
// patient's consent, the coordinator and case-manager rules, closing and
// erasing, the blind index, and the team's audit log. The rules of
// DESIGN.md, "Care teams and the access matrix", decided here and only here.
//
// People on a team. Each account appears at most once, with a role and a
// status (AWAITING_CONSENT -> INVITED -> ACTIVE). The CASE_MANAGER is listed
// like the others but is the team's contact point, not a member: there is at
// most one, and never the same person as the coordinator. There is at most
// one COORDINATOR, always an active member, given only by designation.
//
// Consent. "Patient side" means an active PATIENT, or an active CAREGIVER
// acting for the patient. When the team has one, invitations by others and
// coordinator designations wait for their agreement (AnswerConsent). When it
// has none and never had one, the coordinator or case manager must first
// record the consent the patient gave outside the system (RecordConsent: by
// whom, how, when; no names), except to invite the patient or their
// caregivers. Once a team has had an active patient side, a recorded consent
// never stands in for it again: if the patient side leaves, invitations and
// designations need it back (FAILED_PRECONDITION) and none can be recorded.
// Withdrawing a recorded consent closes the team. The patient side may
// remove anyone but the patient, at any time; only the patient side removes
// a caregiver acting for the patient (PERMISSION_DENIED for a convener).
//
// Access. SetTeamAccess narrows cells of the access matrix for the team
// (access_matrix.h). The patient side's and the coordinator's narrowings are
// kept apart: the coordinator may narrow further but never lifts the
// patient side's (PERMISSION_DENIED); the patient side sets a cell outright,
// lifting the coordinator's narrowing of it. Nobody narrows the PATIENT or
// CAREGIVER role on #team. A call sets at most AccessMatrix::kCells cells,
// each once (INVALID_ARGUMENT otherwise, nothing changed), and is one audit
// entry and one event whatever it sets.
//
// Every change is one store transaction holding the team's exclusive lock:
// the record, its audit entry (audit_log.h), the dropped envelopes (all of
// the team's for a removed member; those of the channels a remaining member
// can no longer read after a role change, a handover or a narrowing), and a
// TeamEvent envelope to every device of every active person on the team and
// of the person the change is about. People invited or awaiting consent are
// told only of what is about them and of the team's closing or erasure,
// since they may not see the roster yet (Get). It
// also holds the team's TeamWriteGate change lock, so that a send checked
// against the old membership is refused rather than queued for someone
// after their removal has committed (team_write_gate.h).
//
// Organisations. An organisation account (a home-nursing service, a
// pharmacy, a care home, a hospital's social service) is a member like a
// person, under a role. Its staff on duty (accounts.proto, ChangeRoster)
// act under its entry for reading and posting: they see the team as it
// does (Get, List), receive what it may read (ReadersForSend), may post
// what it may, download its documents (the audit entry names them) and
// acknowledge urgent messages for it. Everything else (answering an
// invitation, leaving, inviting...) is the organisation's own devices' to
// do. Each roster change is an audit entry and an event on every team the
// organisation is on (RecordRosterChange).
//
// Errors (besides those named per method): INVALID_ARGUMENT for a malformed
// id, role or channel; NOT_FOUND for an unknown team or one the caller is
// not on (not distinguished); PERMISSION_DENIED naming the role that may do
// it; FAILED_PRECONDITION when the team is closed or a rule above forbids
// the change, with what to do instead.
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_CORE_CARE_TEAMS_H_
#define CARERELAY_SERVER_CORE_CARE_TEAMS_H_

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "carerelay/v1/accounts.pb.h"
#include "carerelay/v1/teams.pb.h"
#include "server/core/access_matrix.h"
#include "server/core/account_registry.h"
#include "server/core/audit_log.h"
#include "server/core/clock.h"
#include "server/core/delivery_hub.h"
#include "server/core/erased_teams.h"
#include "server/core/limits.h"
#include "server/core/team_write_gate.h"
#include "server/store/database.h"
#include "server/store/queue_table.h"
#include "server/store/team_table.h"

namespace carerelay::core {

// A member who may read a channel, with all their devices (revoked ones
// too, so that a send naming one is told it is stale).
struct ChannelReader {
  store::AccountId account;
  std::vector<store::DeviceRecord> devices;
};

// Data about a team kept outside its record and log (its attachments, the
// intakes that name it). Deleted, or unlinked from the team, in the
// transaction that erases the team, and purged from disk once it committed.
class TeamData {
 public:
  virtual ~TeamData() = default;
  // Writes into `txn`; counts what it did in its own field of `counts`.
  virtual absl::Status DeleteForErasure(store::Transaction& txn, const store::TeamId& team,
                                        v1::EraseTeamResponse* counts) = 0;
  // Called after the erasure committed; failures are the implementation's to
  // log (the data is deleted already, only its bytes may linger on disk).
  virtual void PurgeAfterErasure(const store::TeamId& team) = 0;
};

class CareTeams {
 public:
  // All pointers must outlive this object.
  // `erased` keeps the audit log of each team erased (erased_teams.h).
  CareTeams(store::Database* db, store::TeamTable* teams, store::QueueTable* queues,
            AuditLog* audit, ErasedTeams* erased, DeliveryHub* hub, const AccountRegistry* accounts,
            const AccessMatrix* matrix, const Clock* clock, const Limits& limits);

  // A new team with the caller as COORDINATOR (a professional or social
  // account) or CASE_MANAGER (an account with that function). RESOURCE_EXHAUSTED
  // when the caller already created Limits::max_teams_per_account teams
  // that are still open.
  absl::StatusOr<v1::Team> Create(const store::DeviceRef& caller, v1::Role creator_role);
  // As the caller may see it: people not yet active see only themselves and
  // the team's contact people (coordinator, case manager), since the patient
  // has not agreed to show them the rest.
  absl::StatusOr<v1::Team> Get(const store::DeviceRef& caller, absl::string_view team_id);
  absl::StatusOr<std::vector<v1::Team>> List(const store::DeviceRef& caller);

  // See teams.proto for who may do each. NOT_FOUND also for an unknown
  // account; ALREADY_EXISTS for an account already on the team.
  absl::StatusOr<v1::Team> Invite(const store::DeviceRef& caller, const v1::InviteRequest& request);
  absl::StatusOr<v1::Team> RespondToInvitation(const store::DeviceRef& caller,
                                               absl::string_view team_id, bool accept);
  absl::StatusOr<v1::Team> RemoveMember(const store::DeviceRef& caller, absl::string_view team_id,
                                        absl::string_view account_id);
  absl::StatusOr<v1::Team> ChangeRole(const store::DeviceRef& caller, absl::string_view team_id,
                                      absl::string_view account_id, v1::Role role);
  absl::StatusOr<v1::Team> DesignateCoordinator(const store::DeviceRef& caller,
                                                const v1::DesignateCoordinatorRequest& request);
  absl::StatusOr<v1::Team> AnswerConsent(const store::DeviceRef& caller, absl::string_view team_id,
                                         absl::string_view account_id, bool agree);
  absl::StatusOr<v1::Team> RecordConsent(const store::DeviceRef& caller,
                                         const v1::RecordConsentRequest& request);
  absl::StatusOr<v1::Team> SetTeamAccess(const store::DeviceRef& caller,
                                         const v1::SetTeamAccessRequest& request);
  absl::StatusOr<v1::Team> Close(const store::DeviceRef& caller, absl::string_view team_id,
                                 absl::string_view reason);
  // History for members who join later (teams.proto; docs/design/
  // team-history.md): the team's setting, and the audit entry of a hand-over.
  absl::StatusOr<v1::Team> SetHistoryVisibility(const store::DeviceRef& caller,
                                                const v1::SetHistoryVisibilityRequest& request);
  absl::Status RecordHistoryShared(const store::DeviceRef& caller,
                                   const v1::RecordHistorySharedRequest& request);
  // Deletes the team's content and people at once; its audit log, the
  // erasure appended, is kept for the administrator (erased_teams.h).
  absl::StatusOr<v1::EraseTeamResponse> Erase(const store::DeviceRef& caller,
                                              absl::string_view team_id);
  // Erases, as Erase, the closed teams whose retention has ended; returns
  // how many.
  absl::StatusOr<uint64_t> EraseExpired();
  // The server ends `account`'s place as the team's case manager because
  // their case management, intake `intake_id`, ended (intake_desk.h): a
  // removal, the intake named in its event (the reason stays with the
  // intake: the log outlives an erasure, content-free). Returns whether it
  // changed anything: false, and OK, when they are not the team's case
  // manager (any more), or the team is closed or gone, so that it can be
  // repeated.
  absl::StatusOr<bool> ReleaseCaseManager(const store::TeamId& team,
                                          const store::AccountId& account,
                                          absl::string_view intake_id);
  // After `organisation`'s roster changed for `staff` (AccountRegistry::
  // ChangeRoster committed it): on every team the organisation is on, open
  // or closed, one KIND_ROSTER_CHANGED audit entry and event, told to the
  // staff member too; a staff member removed from the roster loses what
  // was queued for them of those teams. `by` made the change. Returns how
  // many teams were told. A team erased meanwhile is skipped.
  absl::StatusOr<int> RecordRosterChange(const store::DeviceRef& by,
                                         const store::AccountId& organisation,
                                         const store::AccountId& staff,
                                         v1::ChangeRosterRequest::Action action);

  absl::Status SetBlindIndex(const store::DeviceRef& caller,
                             const v1::SetBlindIndexRequest& request);
  // HELPDESK and CASE_MANAGER accounts only. Each match is logged in the
  // team's audit log.
  absl::StatusOr<v1::FindTeamsResponse> Find(const store::DeviceRef& caller,
                                             absl::string_view index);

  absl::StatusOr<v1::ReadAuditResponse> ReadAudit(const store::DeviceRef& caller,
                                                  const v1::ReadAuditRequest& request);
  absl::StatusOr<v1::VerifyAuditResponse> VerifyAudit(const store::DeviceRef& caller,
                                                      absl::string_view team_id);

  // For the relay: checks the sender may post on `channel` (PERMISSION_DENIED;
  // NOT_FOUND if not an active member; FAILED_PRECONDITION if closed) and
  // returns the active members who may read it, with all their devices.
  // Takes no lock: the relay reads `gate_version` (write_gate()) before the
  // call and the writer checks it. Answers from a cache of the team and its
  // readers that is used only while the gate version and the accounts'
  // device generation are those it was read under: every membership, role,
  // access or device change applies to the very next send.
  absl::StatusOr<std::shared_ptr<const std::vector<ChannelReader>>> ReadersForSend(
      const store::DeviceRef& sender, const store::TeamId& team, v1::Channel channel,
      uint64_t gate_version) const;

  // Orders team sends against membership changes (team_write_gate.h).
  TeamWriteGate* write_gate() { return &write_gate_; }

  // Whether both accounts are active on one open team, themselves or as
  // staff on duty for an organisation on it.
  absl::StatusOr<bool> ShareOpenTeam(const store::AccountId& a, const store::AccountId& b) const;

  // OK if `caller` may post on `channel` of the open team `team_id` now;
  // the statuses of ReadersForSend otherwise.
  absl::Status CheckMayPost(const store::DeviceRef& caller, const store::TeamId& team,
                            v1::Channel channel) const;
  // OK if `caller` is an active member whose role may read `channel` now
  // (on an open or a closed team, whose history stays readable);
  // NOT_FOUND or PERMISSION_DENIED otherwise.
  absl::Status CheckMayRead(const store::DeviceRef& caller, const store::TeamId& team,
                            v1::Channel channel) const;
  // Checks as CheckMayRead and, in the same transaction, writes an
  // ATTACHMENT_DOWNLOADED entry to the team's audit log (no event is sent:
  // the log is read by those who want to know who opened a document).
  absl::Status RecordDownload(const store::DeviceRef& caller, const store::TeamId& team,
                              v1::Channel channel, absl::string_view detail);

  // Registers an owner of data about teams (see TeamData); before serving.
  void AddTeamData(TeamData* data) { team_data_.push_back(data); }

  const AccessMatrix& matrix() const { return *matrix_; }

 private:
  TeamWriteGate write_gate_;
  // ReadersForSend's cache (see there).
  struct CachedTeam {
    uint64_t gate_version = 0;
    uint64_t device_generation = 0;
    std::shared_ptr<const store::TeamRecord> team;
    // By channel number; null until a send to that channel needed it.
    std::array<std::shared_ptr<const std::vector<ChannelReader>>, 8> readers;
  };
  static constexpr size_t kMaxCachedTeams = 10000;
  mutable absl::Mutex readers_mu_;
  mutable absl::flat_hash_map<store::TeamId, CachedTeam> readers_cache_
      ABSL_GUARDED_BY(readers_mu_);
  struct Change;
  struct Applied {
    store::TeamRecord team;
    uint64_t envelopes_dropped = 0;
    v1::EraseTeamResponse erased;  // counts, for an erasure
  };
  // kOnTeamOrStaff: a member, or staff on duty acting for an organisation
  // member (c.me is then the organisation's entry, c.for_organisation set).
  enum class Caller { kOnTeam, kOnTeamOrStaff, kAnyone };
  // Runs `decide` on the locked team record and, if it succeeds, writes the
  // result, its audit entries and events in one transaction. `caller` is
  // nullptr for the server itself (retention).
  absl::StatusOr<Applied> Apply(const store::DeviceRef* caller, absl::string_view team_id,
                                Caller who, const std::function<absl::Status(Change&)>& decide);
  absl::StatusOr<v1::Team> ApplyAndView(const store::DeviceRef& caller, absl::string_view team_id,
                                        const std::function<absl::Status(Change&)>& decide);
  absl::StatusOr<v1::Team> View(const store::TeamRecord& team,
                                const store::AccountId& viewer) const;
  absl::Status FillMember(const store::TeamRecord& team, const store::TeamMemberRecord& m,
                          v1::Member* out) const;
  absl::Status MayPost(const store::TeamRecord& team, const store::AccountId& caller,
                       v1::Channel channel) const;
  absl::Status MayRead(const store::TeamRecord& team, const store::AccountId& caller,
                       v1::Channel channel) const;
  // The entry `account` acts under on `team`: their own, or, for staff on
  // duty for an organisation that is an active member, the organisation's.
  // nullptr if neither.
  const store::TeamMemberRecord* ActingAs(const store::TeamRecord& team,
                                          const store::AccountId& account) const;
  // The caller's acting entry if it is active; NOT_FOUND or
  // PERMISSION_DENIED otherwise.
  absl::StatusOr<const store::TeamMemberRecord*> ActiveMember(const store::TeamRecord& team,
                                                              const store::AccountId& caller) const;
  // The staff on duty for member `m` (none unless it is an organisation),
  // without those who are on the team in their own right (they read as
  // themselves).
  absl::StatusOr<std::vector<store::AccountId>> StaffActingFor(
      const store::TeamRecord& team, const store::TeamMemberRecord& m) const;

  store::Database* db_;
  store::TeamTable* teams_;
  store::QueueTable* queues_;
  AuditLog* audit_;
  ErasedTeams* erased_;
  DeliveryHub* hub_;
  const AccountRegistry* accounts_;
  const AccessMatrix* matrix_;
  const Clock* clock_;
  const Limits limits_;
  std::vector<TeamData*> team_data_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_CARE_TEAMS_H_
