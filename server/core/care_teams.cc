#include "server/core/care_teams.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "server/core/account_functions.h"
#include "server/core/acting_member.h"
#include "server/core/server_envelopes.h"

namespace carerelay::core {
namespace {

using store::TeamMemberRecord;
using store::TeamRecord;

constexpr size_t kMaxReasonBytes = 64;
constexpr size_t kMaxKeyVersionBytes = 32;
// Blind-index versions a team keeps: the current organisation key and the
// ones before it while the rotation reaches every team. Registering one more
// drops the oldest, so a loop of made-up versions cannot grow the record.
constexpr int kMaxBlindIndexVersions = 4;
constexpr uint32_t kDefaultAuditPage = 500;
constexpr uint32_t kMaxAuditPage = 1000;

bool Active(const TeamMemberRecord* m) { return m && m->status() == v1::MEMBER_STATUS_ACTIVE; }
bool HasRole(const TeamMemberRecord* m, v1::Role role) { return Active(m) && m->role() == role; }
bool IsPatientSide(const TeamMemberRecord* m) {
  return Active(m) && (m->role() == v1::ROLE_PATIENT ||
                       (m->role() == v1::ROLE_CAREGIVER && m->acts_for_patient()));
}
// The team's coordinator: a professional with the COORDINATOR role, or the
// patient or a caregiver who coordinates and keeps their own role (the
// integrated-care plan: coordination "may be the person themselves, a
// family caregiver or a professional").
bool IsCoordinator(const TeamMemberRecord* m) {
  return Active(m) && (m->role() == v1::ROLE_COORDINATOR || m->coordinates());
}
bool IsConvener(const TeamMemberRecord* m) {
  return IsCoordinator(m) || HasRole(m, v1::ROLE_CASE_MANAGER);
}
// The conveners who act as professionals: they record the consent of a
// patient without an account, and register the blind index (made with the
// organisation's key). A patient or caregiver who coordinates does neither.
bool IsProfessionalConvener(const TeamMemberRecord* m) {
  return HasRole(m, v1::ROLE_COORDINATOR) || HasRole(m, v1::ROLE_CASE_MANAGER);
}
// Who may set the team profile (as client/team_view.h MayEditTeamProfile).
bool IsProfileEditor(const TeamMemberRecord* m) { return IsConvener(m) || IsPatientSide(m); }
// Former profile editors a team keeps (FormerProfileEditor in teams.proto).
constexpr int kMaxFormerProfileEditors = 16;

TeamMemberRecord* FindPerson(TeamRecord& team, absl::string_view account) {
  for (auto& m : *team.mutable_members()) {
    if (m.account_id() == account) return &m;
  }
  return nullptr;
}
const TeamMemberRecord* FindPerson(const TeamRecord& team, absl::string_view account) {
  for (const auto& m : team.members()) {
    if (m.account_id() == account) return &m;
  }
  return nullptr;
}
const TeamMemberRecord* WithRole(const TeamRecord& team, v1::Role role) {
  for (const auto& m : team.members()) {
    if (m.role() == role) return &m;
  }
  return nullptr;
}
bool PatientSideActive(const TeamRecord& team) {
  for (const auto& m : team.members()) {
    if (IsPatientSide(&m)) return true;
  }
  return false;
}
bool HasRecordedConsent(const TeamRecord& team) {
  return team.has_consent() && team.consent().given_at_ms() != 0 && !team.consent().withdrawn();
}
// Whether a consent recorded by a convener stands in for the patient's own
// agreement: only on a team that has never had an active patient side.
// Otherwise a convener could remove or outlast the patient side and then
// agree in their place.
bool RecordedConsentStands(const TeamRecord& team) {
  return !team.had_patient_side() && HasRecordedConsent(team);
}
absl::Status PatientSideMustAgree() {
  return absl::FailedPreconditionError(
      "the patient side (the patient or a caregiver acting for them) has been on this team and "
      "is not any more: a recorded consent no longer stands in for them. Invite the patient or "
      "their caregiver back to agree themselves");
}
// A recorded agreement of a patient without an account, to the team
// (RecordConsent) or to a coordinator (DesignateCoordinator): who, how, when,
// and a reference that is never a name.
absl::StatusOr<v1::ConsentRecord> RecordedAgreement(v1::ConsentGiver by, v1::ConsentMethod method,
                                                    int64_t given_at_ms,
                                                    absl::string_view reference,
                                                    const store::AccountId& recorder,
                                                    int64_t now_ms) {
  if (!v1::ConsentGiver_IsValid(by) || by == v1::CONSENT_GIVER_UNSPECIFIED) {
    return absl::InvalidArgumentError("say who agreed: the patient or their representative");
  }
  if (!v1::ConsentMethod_IsValid(method) || method == v1::CONSENT_METHOD_UNSPECIFIED) {
    return absl::InvalidArgumentError("say how they agreed: oral, written or electronic");
  }
  if (reference.size() > kMaxReasonBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the reference is at most ", kMaxReasonBytes, " bytes (never a name)"));
  }
  const int64_t given = given_at_ms != 0 ? given_at_ms : now_ms;
  if (given > now_ms + absl::ToInt64Milliseconds(absl::Hours(24))) {
    return absl::InvalidArgumentError("an agreement cannot be given in the future");
  }
  v1::ConsentRecord record;
  record.set_given_by(by);
  record.set_method(method);
  record.set_given_at_ms(given);
  record.set_reference(std::string(reference));
  record.set_recorded_by_account_id(recorder.Hex());
  record.set_recorded_at_ms(now_ms);
  return record;
}
// "representative, oral": the audit detail of a recorded agreement.
std::string AgreementDetail(v1::ConsentGiver by, v1::ConsentMethod method) {
  return absl::StrCat(absl::AsciiStrToLower(v1::ConsentGiver_Name(by).substr(14)), ", ",
                      absl::AsciiStrToLower(v1::ConsentMethod_Name(method).substr(15)));
}

void RemovePerson(TeamRecord& team, absl::string_view account) {
  auto* members = team.mutable_members();
  for (int i = 0; i < members->size(); ++i) {
    if (members->Get(i).account_id() == account) {
      members->DeleteSubrange(i, 1);
      return;
    }
  }
}

std::string Hex(absl::string_view raw) {
  auto id = store::AccountId::FromBytes(raw);
  return id.ok() ? id->Hex() : "";
}

// Which accounts may hold a role: a patient account never gets clinical
// access by a slip of the role; the case-manager and helpdesk roles follow
// the function, whatever the profession (account_functions.h).
bool RoleFits(v1::Role role, const store::AccountRecord& account) {
  const int kind = account.kind();
  switch (role) {
    case v1::ROLE_PATIENT:
      return kind == v1::ACCOUNT_KIND_PATIENT;
    case v1::ROLE_CAREGIVER:
      return kind == v1::ACCOUNT_KIND_CAREGIVER;
    case v1::ROLE_PROFESSIONAL:
      // A home-nursing service or a pharmacy joins as a professional.
      return kind == v1::ACCOUNT_KIND_PROFESSIONAL || kind == v1::ACCOUNT_KIND_ORGANISATION;
    case v1::ROLE_SOCIAL:
      // A hospital's social service joins as social.
      return kind == v1::ACCOUNT_KIND_PROFESSIONAL || kind == v1::ACCOUNT_KIND_SOCIAL ||
             kind == v1::ACCOUNT_KIND_ORGANISATION;
    case v1::ROLE_COORDINATOR:
      return kind == v1::ACCOUNT_KIND_PROFESSIONAL || kind == v1::ACCOUNT_KIND_SOCIAL;
    case v1::ROLE_CASE_MANAGER:
      return HasFunction(account, v1::FUNCTION_CASE_MANAGER);
    case v1::ROLE_HELPDESK:
      return HasFunction(account, v1::FUNCTION_HELPDESK);
    default:
      return false;
  }
}

std::string KindName(int kind) {
  std::string name = v1::AccountKind_Name(static_cast<v1::AccountKind>(kind));
  return absl::AsciiStrToLower(name.substr(std::string("ACCOUNT_KIND_").size()));
}

// Why `account` (hex `id`) cannot be given `role` (RoleFits said no).
absl::Status RoleRefused(v1::Role role, const store::AccountRecord& account,
                         const std::string& id) {
  if (role == v1::ROLE_CASE_MANAGER || role == v1::ROLE_HELPDESK) {
    return absl::FailedPreconditionError(
        absl::StrCat("account ", id, " does not hold the ",
                     FunctionName(role == v1::ROLE_CASE_MANAGER ? v1::FUNCTION_CASE_MANAGER
                                                                : v1::FUNCTION_HELPDESK),
                     " function, so it cannot be given the role ", RoleName(role),
                     " (the administrator grants functions: carerelayd admin functions)"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("account ", id, " is enrolled as ", KindName(account.kind()),
                   "; it cannot be given the role ", RoleName(role)));
}

absl::Status NotOnTeam(absl::string_view team_id) {
  return absl::NotFoundError(
      absl::StrCat("no team ", team_id.substr(0, 40), " (or you are not on it)"));
}

absl::Status CheckOpen(const TeamRecord& team) {
  if (team.status() == v1::TEAM_STATUS_CLOSED) {
    return absl::FailedPreconditionError(
        "this team is closed: its history can be read, but nothing can be changed or sent");
  }
  return absl::OkStatus();
}

absl::Status Denied(absl::string_view what, absl::string_view who) {
  return absl::PermissionDeniedError(absl::StrCat("only ", who, " can ", what));
}

}  // namespace

// The state of one change being decided.
namespace {

// The setting a team without one has (teams.proto, HistoryVisibility).
v1::HistoryVisibility EffectiveHistoryVisibility(const TeamRecord& team) {
  if (team.has_history_visibility() &&
      team.history_visibility().scope() != v1::HistoryVisibility::SCOPE_UNSPECIFIED) {
    return team.history_visibility();
  }
  v1::HistoryVisibility whole;
  whole.set_scope(v1::HistoryVisibility::SCOPE_WHOLE_PATHWAY);
  return whole;
}

// How many days back a setting reaches, for comparing two: from joining is
// none, the whole pathway is without end.
uint64_t DaysBack(const v1::HistoryVisibility& v) {
  switch (v.scope()) {
    case v1::HistoryVisibility::SCOPE_FROM_JOINING:
      return 0;
    case v1::HistoryVisibility::SCOPE_LAST_DAYS:
      return v.days();
    default:
      return UINT64_MAX;
  }
}

std::string HistoryVisibilityDetail(const v1::HistoryVisibility& v) {
  switch (v.scope()) {
    case v1::HistoryVisibility::SCOPE_FROM_JOINING:
      return "from_joining";
    case v1::HistoryVisibility::SCOPE_LAST_DAYS:
      return absl::StrCat("last_days ", v.days());
    default:
      return "whole_pathway";
  }
}

absl::Status CheckChannel(v1::Channel channel) {
  if (!v1::Channel_IsValid(channel) || channel == v1::CHANNEL_UNSPECIFIED) {
    return absl::InvalidArgumentError("name a team channel: team, care, clinical or intake");
  }
  return absl::OkStatus();
}

constexpr uint32_t kMaxHistoryDays = 3650;
constexpr uint32_t kMaxHistoryEntriesShared = 1000000;

}  // namespace

struct CareTeams::Change {
  TeamRecord team;
  TeamRecord before;
  store::AccountId caller;  // zero for the server itself
  uint32_t caller_device = 0;
  TeamMemberRecord* me = nullptr;  // the caller's entry on the team, if any
  // The caller is staff on duty and `me` the organisation's entry
  // (Caller::kOnTeamOrStaff).
  bool for_organisation = false;
  int64_t now_ms = 0;
  std::vector<v1::TeamEvent> events;
  // People removed by this change: their queued envelopes of the team go.
  std::vector<std::string> dropped;  // raw account ids
  // Told of every event besides the team's people (a staff member whose
  // place on a roster changed).
  std::vector<std::string> also_tell;  // raw account ids
  bool erase = false;
  std::string erase_reason;  // kept with the audit log (erased_teams.h)
  // False for entries only the audit log needs (downloads): no envelope.
  bool notify = true;

  // The team goes (Erase, EraseExpired), with its last event.
  void EraseFor(absl::string_view reason) {
    erase = true;
    erase_reason = std::string(reason);
    Event(v1::TeamEvent::KIND_ERASED).set_detail(std::string(reason));
  }

  v1::TeamEvent& Event(v1::TeamEvent::Kind kind, absl::string_view subject = "") {
    v1::TeamEvent& e = events.emplace_back();
    e.set_kind(kind);
    if (!subject.empty()) e.set_subject_account_id(Hex(subject));
    return e;
  }
};

CareTeams::CareTeams(store::Database* db, store::TeamTable* teams, store::QueueTable* queues,
                     AuditLog* audit, ErasedTeams* erased, DeliveryHub* hub,
                     const AccountRegistry* accounts, const AccessMatrix* matrix,
                     const Clock* clock, const Limits& limits)
    : db_(db),
      teams_(teams),
      queues_(queues),
      audit_(audit),
      erased_(erased),
      hub_(hub),
      accounts_(accounts),
      matrix_(matrix),
      clock_(clock),
      limits_(limits) {}

absl::StatusOr<CareTeams::Applied> CareTeams::Apply(
    const store::DeviceRef* caller, absl::string_view team_id, Caller who,
    const std::function<absl::Status(Change&)>& decide) {
  auto id = store::TeamId::FromHex(team_id);
  if (!id.ok()) return id.status();
  // Released after the commit (or the rollback): sends checked before then
  // are refused by the writer (team_write_gate.h).
  TeamWriteGate::ChangeLock gate(&write_gate_, *id);
  auto txn = db_->Begin();
  absl::StatusOr<TeamRecord> team = teams_->GetForUpdate(*txn, *id);
  if (absl::IsNotFound(team.status())) return NotOnTeam(team_id);
  if (!team.ok()) return team.status();

  Change c;
  c.before = *team;
  c.team = *std::move(team);
  c.now_ms = clock_->NowMs();
  if (caller) {
    c.caller = caller->account;
    c.caller_device = caller->device_id;
    c.me = FindPerson(c.team, caller->account.Bytes());
    if (!c.me && who == Caller::kOnTeamOrStaff) {
      if (const TeamMemberRecord* org = ActingAs(c.team, caller->account)) {
        c.me = FindPerson(c.team, org->account_id());
        c.for_organisation = true;
      }
    }
    if (!c.me && who != Caller::kAnyone) return NotOnTeam(team_id);
  }
  absl::Status s = decide(c);
  if (!s.ok()) return s;
  if (c.team.members_size() > static_cast<int>(limits_.max_team_members)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a team has at most ", limits_.max_team_members, " people"));
  }
  if (PatientSideActive(c.team)) c.team.set_had_patient_side(true);
  // Who could set the team profile before this change and cannot after it:
  // a profile they sent until now stays theirs to have sent.
  for (const auto& was : c.before.members()) {
    if (!IsProfileEditor(&was) || IsProfileEditor(FindPerson(c.team, was.account_id()))) continue;
    store::FormerProfileEditorRecord* former = c.team.add_former_profile_editors();
    former->set_account_id(was.account_id());
    former->set_until_ms(c.now_ms);
  }
  if (const int extra = c.team.former_profile_editors_size() - kMaxFormerProfileEditors;
      extra > 0) {
    c.team.mutable_former_profile_editors()->DeleteSubrange(0, extra);
  }

  Applied applied;
  // Events: stamped, then chained into the audit log (an erasure's too: the
  // log outlives the team, erased_teams.h).
  for (auto& e : c.events) {
    e.set_team_id(id->Hex());
    if (caller) {
      e.set_actor_account_id(caller->account.Hex());
      e.set_actor_device_id(caller->device_id);
    }
    e.set_at_ms(c.now_ms);
    absl::StatusOr<v1::AuditEntry> entry = audit_->Append(*txn, &c.team, e);
    if (!entry.ok()) return entry.status();
    e.set_audit_sequence(entry->sequence());
    e.set_audit_hash(entry->hash());
  }

  // Queued envelopes of the team for people who lose access: everything of
  // the team for those who leave it, the lost channels for those who stay.
  std::vector<std::pair<store::DeviceRef, uint64_t>> released;
  auto drop = [&](const std::string& raw, const std::vector<int>* channels) -> absl::Status {
    auto account = store::AccountId::FromBytes(raw);
    if (!account.ok()) return account.status();
    auto devices = accounts_->ActiveDevices(*account);
    if (!devices.ok()) return devices.status();
    for (const auto& d : *devices) {
      store::DeviceRef ref{*account, d.device_id()};
      auto n = channels ? queues_->DeleteTeamChannelEnvelopes(*txn, ref, id->Hex(), *channels)
                        : queues_->DeleteTeamEnvelopes(*txn, ref, id->Hex());
      if (!n.ok()) return n.status();
      if (*n > 0) released.emplace_back(ref, *n);
      applied.envelopes_dropped += *n;
    }
    return absl::OkStatus();
  };
  // An organisation's staff on duty lose what it loses.
  auto staff_of = [&](const std::string& raw) -> absl::StatusOr<std::vector<std::string>> {
    std::vector<std::string> out;
    const TeamMemberRecord* m = FindPerson(c.before, raw);
    if (!Active(m)) return out;
    auto staff = StaffActingFor(c.before, *m);
    if (!staff.ok()) return staff.status();
    for (const store::AccountId& a : *staff) out.emplace_back(a.Bytes());
    return out;
  };
  std::vector<std::string> dropped = c.dropped;
  if (c.erase) {
    for (const auto& m : c.before.members()) dropped.push_back(m.account_id());
  }
  for (const std::string& raw : std::vector<std::string>(dropped)) {
    auto staff = staff_of(raw);
    if (!staff.ok()) return staff.status();
    for (std::string& a : *staff) {
      if (std::find(dropped.begin(), dropped.end(), a) == dropped.end()) {
        dropped.push_back(std::move(a));
      }
    }
  }
  for (const auto& raw : dropped) {
    s = drop(raw, nullptr);
    if (!s.ok()) return s;
  }
  if (!c.erase) {
    // Readable channels before and after the change, for everyone who
    // stays: a role change, a coordinator handover or a narrowing takes
    // away what they may read exactly as a removal would (DESIGN.md: losing
    // read access in any way drops what was queued for it).
    for (const auto& was : c.before.members()) {
      if (!Active(&was) ||
          std::find(dropped.begin(), dropped.end(), was.account_id()) != dropped.end()) {
        continue;
      }
      const TeamMemberRecord* now = FindPerson(c.team, was.account_id());
      std::vector<int> lost;
      for (int ch = v1::CHANNEL_TEAM; ch <= v1::CHANNEL_INTAKE; ++ch) {
        const auto channel = static_cast<v1::Channel>(ch);
        const bool before = matrix_->ForMember(c.before, was, channel).read;
        const bool after = Active(now) && matrix_->ForMember(c.team, *now, channel).read;
        if (before && !after) lost.push_back(ch);
      }
      if (lost.empty()) continue;
      s = drop(was.account_id(), &lost);
      if (!s.ok()) return s;
      auto staff = staff_of(was.account_id());
      if (!staff.ok()) return staff.status();
      for (const std::string& a : *staff) {
        s = drop(a, &lost);
        if (!s.ok()) return s;
      }
    }
  }

  if (c.erase) {
    auto kept = erased_->Keep(*txn, c.team, c.erase_reason, c.now_ms);
    if (!kept.ok()) return kept.status();
    applied.erased.set_audit_entries_kept(kept->audit_sequence());
    applied.erased.set_audit_kept_until_ms(kept->audit_delete_after_ms());
    for (TeamData* data : team_data_) {
      s = data->DeleteForErasure(*txn, *id, &applied.erased);
      if (!s.ok()) return s;
    }
    s = teams_->Delete(*txn, c.before);
  } else {
    s = teams_->Put(*txn, &c.before, c.team);
  }
  if (!s.ok()) return s;

  // Every event to every device of the active people, and of the person it
  // is about (who may be leaving, invited or still awaiting consent). People
  // not yet active hear only of what concerns them and of the team's end:
  // the patient has not agreed to show them the roster (see View).
  const TeamRecord& audience = c.erase ? c.before : c.team;
  std::vector<std::string> base;
  std::vector<std::string> waiting;
  auto add_to = [](std::vector<std::string>& to, std::string raw) {
    if (std::find(to.begin(), to.end(), raw) == to.end()) to.push_back(std::move(raw));
  };
  for (const auto& m : audience.members()) {
    if (m.status() == v1::MEMBER_STATUS_ACTIVE) {
      add_to(base, m.account_id());
      // An organisation's staff on duty follow its team as it does.
      auto staff = StaffActingFor(audience, m);
      if (!staff.ok()) return staff.status();
      for (const auto& a : *staff) add_to(base, std::string(a.Bytes()));
    } else {
      waiting.push_back(m.account_id());
    }
  }
  for (const auto& raw : c.also_tell) add_to(base, raw);
  absl::flat_hash_map<std::string, std::vector<uint32_t>> devices_of;
  auto devices = [&](const std::string& raw) -> absl::StatusOr<const std::vector<uint32_t>*> {
    auto it = devices_of.find(raw);
    if (it != devices_of.end()) return &it->second;
    auto account = store::AccountId::FromBytes(raw);
    if (!account.ok()) return account.status();
    auto active = accounts_->ActiveDevices(*account);
    if (!active.ok()) return active.status();
    std::vector<uint32_t> ids;
    for (const auto& d : *active) ids.push_back(d.device_id());
    return &devices_of.emplace(raw, std::move(ids)).first->second;
  };
  ServerEnvelopes out(hub_, queues_, c.now_ms, limits_);
  for (const auto& e : c.events) {
    if (!c.notify) break;
    std::vector<std::string> to = base;
    if (e.kind() == v1::TeamEvent::KIND_CLOSED || e.kind() == v1::TeamEvent::KIND_ERASED) {
      to.insert(to.end(), waiting.begin(), waiting.end());
    }
    if (!e.subject_account_id().empty()) {
      auto subject = store::AccountId::FromHex(e.subject_account_id());
      if (subject.ok()) {
        add_to(to, std::string(subject->Bytes()));
        // An organisation removed, or leaving: its staff on duty hear it.
        auto staff = accounts_->StaffOnDuty(*subject);
        if (!staff.ok() && !absl::IsNotFound(staff.status())) return staff.status();
        if (staff.ok()) {
          for (const auto& a : *staff) add_to(to, std::string(a.Bytes()));
        }
      }
    }
    v1::Envelope envelope;
    envelope.set_type(v1::ENVELOPE_TYPE_SERVER_EVENT);
    envelope.set_team_id(id->Hex());
    envelope.set_content(e.SerializeAsString());
    for (const auto& raw : to) {
      auto ids = devices(raw);
      if (!ids.ok()) return ids.status();
      auto account = store::AccountId::FromBytes(raw);
      for (uint32_t d : **ids) out.Add({*account, d}, envelope);
    }
  }
  s = out.Write(*txn);
  if (s.ok()) s = txn->Commit();
  if (!s.ok()) return s;
  out.Publish();
  for (const auto& [device, n] : released) queues_->ReleaseDepth(device, n);
  if (c.erase) {
    for (TeamData* data : team_data_) data->PurgeAfterErasure(*id);
  }
  applied.team = std::move(c.team);
  return applied;
}

absl::StatusOr<v1::Team> CareTeams::ApplyAndView(
    const store::DeviceRef& caller, absl::string_view team_id,
    const std::function<absl::Status(Change&)>& decide) {
  auto applied = Apply(&caller, team_id, Caller::kOnTeam, decide);
  if (!applied.ok()) return applied.status();
  return View(applied->team, caller.account);
}

absl::Status CareTeams::FillMember(const TeamRecord& team, const TeamMemberRecord& m,
                                   v1::Member* out) const {
  auto account = store::AccountId::FromBytes(m.account_id());
  if (!account.ok()) return account.status();
  out->set_account_id(account->Hex());
  out->set_role(static_cast<v1::Role>(m.role()));
  out->set_status(static_cast<v1::MemberStatus>(m.status()));
  out->set_acts_for_patient(m.acts_for_patient());
  out->set_coordinates(m.role() == v1::ROLE_COORDINATOR || m.coordinates());
  out->set_invited_by_account_id(Hex(m.invited_by()));
  out->set_since_ms(m.since_ms());
  auto record = accounts_->GetAccount(*account);
  if (record.ok()) {
    out->set_display_name(record->display_name());
    out->set_kind(static_cast<v1::AccountKind>(record->kind()));
  }
  auto add_devices = [&](const store::AccountId& of,
                         google::protobuf::RepeatedPtrField<v1::TeamDevice>* to) -> absl::Status {
    auto devices = accounts_->ActiveDevices(of);
    if (!devices.ok()) return devices.status();
    for (const auto& d : *devices) {
      v1::TeamDevice* td = to->Add();
      td->set_device_id(d.device_id());
      td->set_registration_id(d.registration_id());
    }
    return absl::OkStatus();
  };
  if (m.status() == v1::MEMBER_STATUS_ACTIVE) {
    absl::Status s = add_devices(*account, out->mutable_devices());
    if (!s.ok()) return s;
    auto staff = StaffActingFor(team, m);
    if (!staff.ok()) return staff.status();
    for (const store::AccountId& a : *staff) {
      v1::StaffOnDuty* on = out->add_on_duty();
      on->set_account_id(a.Hex());
      auto person = accounts_->GetAccount(a);
      if (person.ok()) on->set_display_name(person->display_name());
      s = add_devices(a, on->mutable_devices());
      if (!s.ok()) return s;
    }
  }
  for (int c = v1::CHANNEL_TEAM; c <= v1::CHANNEL_INTAKE; ++c) {
    Access a = matrix_->ForMember(team, m, static_cast<v1::Channel>(c));
    if (a.read) out->add_can_read(static_cast<v1::Channel>(c));
    if (a.post) out->add_can_post(static_cast<v1::Channel>(c));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Team> CareTeams::View(const TeamRecord& team,
                                         const store::AccountId& viewer) const {
  v1::Team out;
  out.set_team_id(Hex(team.team_id()));
  out.set_status(static_cast<v1::TeamStatus>(team.status()));
  out.set_created_at_ms(team.created_at_ms());
  out.set_created_by_account_id(Hex(team.created_by()));
  const TeamMemberRecord* me = ActingAs(team, viewer);
  const bool sees_all = Active(me);
  for (const auto& m : team.members()) {
    const bool coordinator = m.role() == v1::ROLE_COORDINATOR || m.coordinates();
    // The contact points someone invited sees before joining. A patient or
    // caregiver who coordinates is one only once the patient side agreed to
    // the invitation: until then their name is not shown.
    const bool contact = m.role() == v1::ROLE_CASE_MANAGER ||
                         (coordinator && (m.role() == v1::ROLE_COORDINATOR ||
                                          (me && me->status() == v1::MEMBER_STATUS_INVITED)));
    if (!sees_all && &m != me && !contact) continue;
    absl::Status s = FillMember(team, m, out.add_members());
    if (!s.ok()) return s;
    if (coordinator) out.set_coordinator_account_id(Hex(m.account_id()));
    if (m.role() == v1::ROLE_CASE_MANAGER) out.set_case_manager_account_id(Hex(m.account_id()));
  }
  out.set_pending_coordinator_account_id(Hex(team.pending_coordinator()));
  if (team.has_consent()) *out.mutable_consent() = team.consent();
  out.set_patient_has_account(PatientSideActive(team));
  *out.mutable_narrowed() = team.narrowed();
  *out.mutable_widened() = team.widened();
  *out.mutable_history_visibility() = EffectiveHistoryVisibility(team);
  out.set_closed_at_ms(team.closed_at_ms());
  out.set_erase_after_ms(team.erase_after_ms());
  out.set_close_reason(team.close_reason());
  out.set_audit_sequence(team.audit_sequence());
  out.set_audit_hash(team.audit_hash());
  // Who was on the team: for its active members only, like the roster.
  if (sees_all) {
    for (const auto& former : team.former_profile_editors()) {
      v1::FormerProfileEditor* f = out.add_former_profile_editors();
      f->set_account_id(Hex(former.account_id()));
      f->set_until_ms(former.until_ms());
    }
  }
  if (team.has_coordinator_agreement()) {
    *out.mutable_coordinator_agreement() = team.coordinator_agreement();
  }
  return out;
}

absl::StatusOr<v1::Team> CareTeams::Create(const store::DeviceRef& caller, v1::Role creator_role) {
  if (creator_role == v1::ROLE_UNSPECIFIED) creator_role = v1::ROLE_COORDINATOR;
  if (creator_role != v1::ROLE_COORDINATOR && creator_role != v1::ROLE_CASE_MANAGER) {
    return absl::InvalidArgumentError(
        "a team is created by its coordinator or, for a temporary convening, a case manager");
  }
  auto account = accounts_->GetAccount(caller.account);
  if (!account.ok()) return account.status();
  // The patient, or a caregiver, who convenes their own team coordinates it
  // and keeps their role; a caregiver doing so acts for the patient.
  const bool patient_side_creator =
      creator_role == v1::ROLE_COORDINATOR && (account->kind() == v1::ACCOUNT_KIND_PATIENT ||
                                               account->kind() == v1::ACCOUNT_KIND_CAREGIVER);
  if (!patient_side_creator && !RoleFits(creator_role, *account)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "a ", KindName(account->kind()), " account cannot create a team as ",
        RoleName(creator_role),
        creator_role == v1::ROLE_COORDINATOR
            ? " (coordinators are professional or social accounts, or the patient or a "
              "caregiver for their own team)"
            : " (accounts with the case-manager function only)"));
  }
  // Counted before the transaction: two creations at once may end one over
  // the limit, which still bounds it.
  absl::StatusOr<std::vector<store::TeamId>> on = teams_->TeamsOf(caller.account);
  if (!on.ok()) return on.status();
  size_t created_open = 0;
  for (const store::TeamId& t : *on) {
    absl::StatusOr<TeamRecord> record = teams_->Get(t);
    if (record.ok() && record->status() == v1::TEAM_STATUS_OPEN &&
        record->created_by() == caller.account.Bytes()) {
      ++created_open;
    }
  }
  if (created_open >= limits_.max_teams_per_account) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "you have created ", created_open, " teams that are still open (the limit is ",
        limits_.max_teams_per_account, "): close the ones whose care has ended first"));
  }
  const int64_t now = clock_->NowMs();
  TeamRecord team;
  const store::TeamId id = store::TeamId::Random();
  team.set_team_id(std::string(id.Bytes()));
  team.set_status(v1::TEAM_STATUS_OPEN);
  team.set_created_at_ms(now);
  team.set_created_by(std::string(caller.account.Bytes()));
  TeamMemberRecord* me = team.add_members();
  me->set_account_id(std::string(caller.account.Bytes()));
  me->set_role(creator_role);
  me->set_status(v1::MEMBER_STATUS_ACTIVE);
  me->set_since_ms(now);
  if (patient_side_creator) {
    const bool patient = account->kind() == v1::ACCOUNT_KIND_PATIENT;
    me->set_role(patient ? v1::ROLE_PATIENT : v1::ROLE_CAREGIVER);
    me->set_acts_for_patient(!patient);
    me->set_coordinates(true);
    team.set_had_patient_side(true);
  }

  v1::TeamEvent event;
  event.set_kind(v1::TeamEvent::KIND_CREATED);
  event.set_team_id(id.Hex());
  event.set_actor_account_id(caller.account.Hex());
  event.set_actor_device_id(caller.device_id);
  event.set_subject_account_id(caller.account.Hex());
  event.set_role(static_cast<v1::Role>(me->role()));
  if (patient_side_creator) event.set_detail("coordinates");
  event.set_at_ms(now);
  auto txn = db_->Begin();
  auto entry = audit_->Append(*txn, &team, event);
  if (!entry.ok()) return entry.status();
  absl::Status s = teams_->Put(*txn, nullptr, team);
  if (s.ok()) s = txn->Commit();
  if (!s.ok()) return s;
  return View(team, caller.account);
}

absl::StatusOr<v1::Team> CareTeams::Get(const store::DeviceRef& caller, absl::string_view team_id) {
  auto id = store::TeamId::FromHex(team_id);
  if (!id.ok()) return id.status();
  auto team = teams_->Get(*id);
  if (absl::IsNotFound(team.status())) return NotOnTeam(team_id);
  if (!team.ok()) return team.status();
  if (!ActingAs(*team, caller.account)) return NotOnTeam(team_id);
  return View(*team, caller.account);
}

absl::StatusOr<std::vector<v1::Team>> CareTeams::List(const store::DeviceRef& caller) {
  auto ids = teams_->TeamsOf(caller.account);
  if (!ids.ok()) return ids.status();
  // And the teams of the organisations the caller is on duty for.
  auto organisations = OrganisationsOnDutyFor(*accounts_, caller.account);
  if (!organisations.ok()) return organisations.status();
  for (const store::AccountId& org : *organisations) {
    auto theirs = teams_->TeamsOf(org);
    if (!theirs.ok()) return theirs.status();
    for (const auto& id : *theirs) {
      if (std::find(ids->begin(), ids->end(), id) == ids->end()) ids->push_back(id);
    }
  }
  std::vector<v1::Team> out;
  for (const auto& id : *ids) {
    auto team = teams_->Get(id);
    if (absl::IsNotFound(team.status())) continue;  // erased meanwhile
    if (!team.ok()) return team.status();
    if (!ActingAs(*team, caller.account)) continue;  // an organisation's pending invitation
    auto view = View(*team, caller.account);
    if (!view.ok()) return view.status();
    out.push_back(*std::move(view));
  }
  return out;
}

absl::StatusOr<v1::Team> CareTeams::Invite(const store::DeviceRef& caller,
                                           const v1::InviteRequest& request) {
  const v1::Role role = request.role();
  if (!v1::Role_IsValid(role) || role == v1::ROLE_UNSPECIFIED) {
    return absl::InvalidArgumentError("an invitation needs a role");
  }
  if (role == v1::ROLE_COORDINATOR) {
    return absl::InvalidArgumentError(
        "the coordinator is designated among active members: invite them as professional or "
        "social, then designate them");
  }
  if (request.acts_for_patient() && role != v1::ROLE_CAREGIVER) {
    return absl::InvalidArgumentError("only a caregiver can act for the patient");
  }
  auto invitee = store::AccountId::FromHex(request.account_id());
  if (!invitee.ok()) return invitee.status();
  auto account = accounts_->GetAccount(*invitee);
  if (absl::IsNotFound(account.status())) {
    return absl::NotFoundError(absl::StrCat("no account ", invitee->Hex()));
  }
  if (!account.ok()) return account.status();
  if (!RoleFits(role, *account)) return RoleRefused(role, *account, invitee->Hex());
  return ApplyAndView(caller, request.team_id(), [&](Change& c) -> absl::Status {
    absl::Status s = CheckOpen(c.team);
    if (!s.ok()) return s;
    const bool patient_side = IsPatientSide(c.me);
    if (!IsConvener(c.me) && !(patient_side && role == v1::ROLE_CAREGIVER)) {
      return Denied("invite people",
                    "the coordinator or the case manager (or the patient, for "
                    "caregivers)");
    }
    if (const TeamMemberRecord* there = FindPerson(c.team, invitee->Bytes())) {
      return absl::AlreadyExistsError(absl::StrCat("account ", invitee->Hex(),
                                                   " is already on this team as ",
                                                   RoleName(static_cast<v1::Role>(there->role()))));
    }
    if (role == v1::ROLE_PATIENT && WithRole(c.team, v1::ROLE_PATIENT)) {
      return absl::FailedPreconditionError("this team already has its patient");
    }
    if (role == v1::ROLE_CASE_MANAGER) {
      if (const TeamMemberRecord* cm = WithRole(c.team, v1::ROLE_CASE_MANAGER)) {
        return absl::FailedPreconditionError(absl::StrCat("this team already has a case manager (",
                                                          Hex(cm->account_id()),
                                                          "); remove them first"));
      }
    }
    // Whose agreement this invitation needs.
    v1::MemberStatus status = v1::MEMBER_STATUS_INVITED;
    const bool patient_or_family = role == v1::ROLE_PATIENT || role == v1::ROLE_CAREGIVER;
    if (PatientSideActive(c.team)) {
      if (!patient_side && role != v1::ROLE_PATIENT) status = v1::MEMBER_STATUS_AWAITING_CONSENT;
    } else if (!RecordedConsentStands(c.team) && !patient_or_family) {
      if (c.team.had_patient_side()) return PatientSideMustAgree();
      return absl::FailedPreconditionError(
          "the patient has not consented to this team yet: record their consent first (carerelay "
          "team consent TEAM --record ...), or invite the patient or their caregiver to agree "
          "themselves");
    }
    TeamMemberRecord* m = c.team.add_members();
    m->set_account_id(std::string(invitee->Bytes()));
    m->set_role(role);
    m->set_status(status);
    m->set_acts_for_patient(request.acts_for_patient());
    m->set_invited_by(std::string(c.caller.Bytes()));
    m->set_since_ms(c.now_ms);
    v1::TeamEvent& e = c.Event(v1::TeamEvent::KIND_INVITED, invitee->Bytes());
    e.set_role(role);
    if (status == v1::MEMBER_STATUS_AWAITING_CONSENT)
      e.set_detail("awaiting the patient's consent");
    if (request.acts_for_patient()) e.set_detail("acts for the patient");
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Team> CareTeams::RespondToInvitation(const store::DeviceRef& caller,
                                                        absl::string_view team_id, bool accept) {
  return ApplyAndView(caller, team_id, [&](Change& c) -> absl::Status {
    absl::Status s = CheckOpen(c.team);
    if (!s.ok()) return s;
    if (c.me->status() == v1::MEMBER_STATUS_ACTIVE) {
      return absl::FailedPreconditionError("you are already an active member of this team");
    }
    if (accept && c.me->status() == v1::MEMBER_STATUS_AWAITING_CONSENT) {
      return absl::FailedPreconditionError(
          "your invitation is waiting for the patient's consent; you can accept once they agree");
    }
    const std::string account = c.me->account_id();
    const auto role = static_cast<v1::Role>(c.me->role());
    if (accept) {
      c.me->set_status(v1::MEMBER_STATUS_ACTIVE);
      c.me->set_since_ms(c.now_ms);
      c.Event(v1::TeamEvent::KIND_JOINED, account).set_role(role);
    } else {
      RemovePerson(c.team, account);
      c.me = nullptr;
      c.Event(v1::TeamEvent::KIND_DECLINED, account).set_role(role);
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Team> CareTeams::RemoveMember(const store::DeviceRef& caller,
                                                 absl::string_view team_id,
                                                 absl::string_view account_id) {
  auto target = store::AccountId::FromHex(account_id);
  if (!target.ok()) return target.status();
  return ApplyAndView(caller, team_id, [&](Change& c) -> absl::Status {
    absl::Status s = CheckOpen(c.team);
    if (!s.ok()) return s;
    TeamMemberRecord* m = FindPerson(c.team, target->Bytes());
    if (!m) return absl::NotFoundError(absl::StrCat(target->Hex(), " is not on this team"));
    const bool leaving = *target == c.caller;
    const auto role = static_cast<v1::Role>(m->role());
    if (leaving) {
      if (IsCoordinator(m)) {
        return absl::FailedPreconditionError(
            "the coordinator cannot leave the team: hand coordination over first (carerelay team "
            "coordinator TEAM ACCOUNT), or close the team");
      }
    } else {
      if (!IsConvener(c.me) && !IsPatientSide(c.me)) {
        return Denied("remove members", "the coordinator, the case manager or the patient");
      }
      // The plan gives the case manager convening and proposing, never a
      // removal against the patient side: once it is on the team, removing
      // someone is theirs or the coordinator's.
      if (!IsCoordinator(c.me) && !IsPatientSide(c.me) && PatientSideActive(c.team)) {
        return Denied("remove a member once the patient side is on the team",
                      "the coordinator or the patient side (the case manager proposes it to them)");
      }
      if (role == v1::ROLE_PATIENT) {
        return absl::FailedPreconditionError(
            "the patient cannot be removed from their own team; close the team instead");
      }
      // Removing the patient side would let a convener agree in its place.
      if (IsPatientSide(m) && !IsPatientSide(c.me)) {
        return Denied("remove a caregiver acting for the patient",
                      "the patient side (the patient or a caregiver acting for them)");
      }
      if (m->coordinates()) {
        return absl::FailedPreconditionError(
            absl::StrCat(target->Hex(),
                         " coordinates this team: designate another coordinator first (carerelay "
                         "team coordinator TEAM ACCOUNT)"));
      }
    }
    RemovePerson(c.team, target->Bytes());
    c.me = FindPerson(c.team, c.caller.Bytes());
    if (c.team.pending_coordinator() == target->Bytes()) {
      c.team.clear_pending_coordinator();
      c.team.clear_pending_coordinator_by();
    }
    c.dropped.emplace_back(target->Bytes());
    c.Event(leaving ? v1::TeamEvent::KIND_LEFT : v1::TeamEvent::KIND_REMOVED, target->Bytes())
        .set_role(role);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Team> CareTeams::ChangeRole(const store::DeviceRef& caller,
                                               absl::string_view team_id,
                                               absl::string_view account_id, v1::Role role) {
  auto target = store::AccountId::FromHex(account_id);
  if (!target.ok()) return target.status();
  if (!v1::Role_IsValid(role) || role == v1::ROLE_UNSPECIFIED) {
    return absl::InvalidArgumentError("a role change needs a role");
  }
  if (role == v1::ROLE_COORDINATOR || role == v1::ROLE_CASE_MANAGER || role == v1::ROLE_PATIENT) {
    return absl::InvalidArgumentError(
        "the coordinator is designated (carerelay team coordinator), the case manager and the "
        "patient are invited as such: their roles are not changed");
  }
  auto account = accounts_->GetAccount(*target);
  if (!account.ok()) return account.status();
  return ApplyAndView(caller, team_id, [&](Change& c) -> absl::Status {
    absl::Status s = CheckOpen(c.team);
    if (!s.ok()) return s;
    if (!IsConvener(c.me)) return Denied("change roles", "the coordinator or the case manager");
    TeamMemberRecord* m = FindPerson(c.team, target->Bytes());
    if (!m) return absl::NotFoundError(absl::StrCat(target->Hex(), " is not on this team"));
    const auto previous = static_cast<v1::Role>(m->role());
    if (previous == v1::ROLE_COORDINATOR || previous == v1::ROLE_CASE_MANAGER ||
        previous == v1::ROLE_PATIENT || m->coordinates()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the ", RoleName(previous),
          "'s role is not changed here (hand coordination over with carerelay team coordinator)"));
    }
    if (!RoleFits(role, *account)) return RoleRefused(role, *account, target->Hex());
    if (previous == role) return absl::OkStatus();
    m->set_role(role);
    if (role != v1::ROLE_CAREGIVER) m->set_acts_for_patient(false);
    v1::TeamEvent& e = c.Event(v1::TeamEvent::KIND_ROLE_CHANGED, target->Bytes());
    e.set_role(role);
    e.set_previous_role(previous);
    return absl::OkStatus();
  });
}

namespace {

// Makes `target` the coordinator: a professional takes the COORDINATOR role,
// the patient or a caregiver keeps theirs and coordinates. The previous
// coordinator becomes an ordinary member of the role their account fits, or
// stops coordinating. A recorded agreement to the previous coordinator no
// longer applies (the caller records the new one, if any).
void Designate(TeamRecord& team, TeamMemberRecord* target, std::vector<v1::TeamEvent>* events,
               const AccountRegistry& accounts) {
  for (auto& m : *team.mutable_members()) {
    if (&m == target || (m.role() != v1::ROLE_COORDINATOR && !m.coordinates())) continue;
    v1::Role now = static_cast<v1::Role>(m.role());
    if (m.coordinates()) {
      m.set_coordinates(false);
    } else {
      auto id = store::AccountId::FromBytes(m.account_id());
      auto record = id.ok() ? accounts.GetAccount(*id) : absl::StatusOr<store::AccountRecord>();
      now = record.ok() && record->kind() == v1::ACCOUNT_KIND_SOCIAL ? v1::ROLE_SOCIAL
                                                                     : v1::ROLE_PROFESSIONAL;
      m.set_role(now);
    }
    v1::TeamEvent& e = events->emplace_back();
    e.set_kind(v1::TeamEvent::KIND_ROLE_CHANGED);
    e.set_subject_account_id(Hex(m.account_id()));
    e.set_role(now);
    e.set_previous_role(v1::ROLE_COORDINATOR);
  }
  v1::TeamEvent& e = events->emplace_back();
  e.set_kind(v1::TeamEvent::KIND_COORDINATOR_DESIGNATED);
  e.set_subject_account_id(Hex(target->account_id()));
  e.set_role(v1::ROLE_COORDINATOR);
  e.set_previous_role(static_cast<v1::Role>(target->role()));
  if (target->role() == v1::ROLE_PATIENT || target->role() == v1::ROLE_CAREGIVER) {
    target->set_coordinates(true);
  } else {
    target->set_role(v1::ROLE_COORDINATOR);
  }
  team.clear_pending_coordinator();
  team.clear_pending_coordinator_by();
  team.clear_coordinator_agreement();
}

}  // namespace

absl::StatusOr<v1::Team> CareTeams::DesignateCoordinator(
    const store::DeviceRef& caller, const v1::DesignateCoordinatorRequest& request) {
  auto target = store::AccountId::FromHex(request.account_id());
  if (!target.ok()) return target.status();
  const bool agreement_given = request.agreed_by() != v1::CONSENT_GIVER_UNSPECIFIED ||
                               request.agreement_method() != v1::CONSENT_METHOD_UNSPECIFIED ||
                               request.agreed_at_ms() != 0 ||
                               !request.agreement_reference().empty();
  return ApplyAndView(caller, request.team_id(), [&](Change& c) -> absl::Status {
    absl::Status s = CheckOpen(c.team);
    if (!s.ok()) return s;
    if (!IsConvener(c.me)) {
      return Denied("designate the coordinator",
                    "the coordinator (handing over) or the case "
                    "manager");
    }
    TeamMemberRecord* m = FindPerson(c.team, target->Bytes());
    if (!m) return absl::NotFoundError(absl::StrCat(target->Hex(), " is not on this team"));
    if (m->role() == v1::ROLE_CASE_MANAGER) {
      return absl::FailedPreconditionError(
          absl::StrCat(target->Hex(),
                       " is this team's case manager; the same person cannot also be its "
                       "coordinator. Designate an active member instead"));
    }
    if (m->role() == v1::ROLE_HELPDESK) {
      return absl::FailedPreconditionError(
          absl::StrCat(target->Hex(),
                       " is on this team for the helpdesk, which does not coordinate: designate "
                       "a professional, the patient or a caregiver"));
    }
    if (m->role() == v1::ROLE_COORDINATOR || m->coordinates()) {
      return absl::FailedPreconditionError(
          absl::StrCat(target->Hex(), " is already the coordinator"));
    }
    if (m->status() != v1::MEMBER_STATUS_ACTIVE) {
      return absl::FailedPreconditionError(absl::StrCat(
          target->Hex(), " has not joined yet: only an active member can be designated"));
    }
    // "The beneficiary or their circle must agree to the professional
    // designated to coordinate": through their own account when they have
    // one (designating is agreeing, for the patient side itself), otherwise
    // as an agreement the caller records.
    if (PatientSideActive(c.team)) {
      if (agreement_given) {
        return absl::InvalidArgumentError(
            "the patient (or a caregiver acting for them) is on this team: they agree to the "
            "coordinator themselves, so no agreement is recorded for them");
      }
      if (!IsPatientSide(c.me)) {
        c.team.set_pending_coordinator(std::string(target->Bytes()));
        c.team.set_pending_coordinator_by(std::string(c.caller.Bytes()));
        c.Event(v1::TeamEvent::KIND_COORDINATOR_REQUESTED, target->Bytes())
            .set_detail("awaiting the patient's consent");
        return absl::OkStatus();
      }
      Designate(c.team, m, &c.events, *accounts_);
      return absl::OkStatus();
    }
    if (c.team.had_patient_side()) return PatientSideMustAgree();
    if (!RecordedConsentStands(c.team)) {
      return absl::FailedPreconditionError(
          "the patient has not consented to this team yet: record their consent first");
    }
    if (!agreement_given) {
      return absl::FailedPreconditionError(
          "the patient or their circle must agree to the coordinator, and the patient has no "
          "account here: record who agreed and how (carerelay team coordinator TEAM ACCOUNT --by "
          "patient|representative --method oral|written|electronic [--at DATE] [--reference "
          "REF])");
    }
    auto agreement =
        RecordedAgreement(request.agreed_by(), request.agreement_method(), request.agreed_at_ms(),
                          request.agreement_reference(), c.caller, c.now_ms);
    if (!agreement.ok()) return agreement.status();
    c.Event(v1::TeamEvent::KIND_COORDINATOR_AGREEMENT_RECORDED, target->Bytes())
        .set_detail(AgreementDetail(request.agreed_by(), request.agreement_method()));
    Designate(c.team, m, &c.events, *accounts_);
    *c.team.mutable_coordinator_agreement() = *std::move(agreement);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Team> CareTeams::AnswerConsent(const store::DeviceRef& caller,
                                                  absl::string_view team_id,
                                                  absl::string_view account_id, bool agree) {
  auto target = store::AccountId::FromHex(account_id);
  if (!target.ok()) return target.status();
  return ApplyAndView(caller, team_id, [&](Change& c) -> absl::Status {
    absl::Status s = CheckOpen(c.team);
    if (!s.ok()) return s;
    if (!IsPatientSide(c.me)) {
      return Denied("give or refuse consent", "the patient or a caregiver acting for them");
    }
    TeamMemberRecord* m = FindPerson(c.team, target->Bytes());
    const auto answer =
        agree ? v1::TeamEvent::KIND_CONSENT_GIVEN : v1::TeamEvent::KIND_CONSENT_REFUSED;
    if (m && m->status() == v1::MEMBER_STATUS_AWAITING_CONSENT) {
      const auto role = static_cast<v1::Role>(m->role());
      if (agree) {
        m->set_status(v1::MEMBER_STATUS_INVITED);
      } else {
        RemovePerson(c.team, target->Bytes());
        c.me = FindPerson(c.team, c.caller.Bytes());
      }
      c.Event(answer, target->Bytes()).set_role(role);
      return absl::OkStatus();
    }
    if (m && c.team.pending_coordinator() == target->Bytes()) {
      c.Event(answer, target->Bytes()).set_role(v1::ROLE_COORDINATOR);
      if (agree) {
        Designate(c.team, m, &c.events, *accounts_);
      } else {
        c.team.clear_pending_coordinator();
        c.team.clear_pending_coordinator_by();
      }
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError(
        absl::StrCat("nothing about ", target->Hex(), " is waiting for your consent"));
  });
}

absl::StatusOr<v1::Team> CareTeams::RecordConsent(const store::DeviceRef& caller,
                                                  const v1::RecordConsentRequest& request) {
  return ApplyAndView(caller, request.team_id(), [&](Change& c) -> absl::Status {
    auto recorded = RecordedAgreement(request.given_by(), request.method(), request.given_at_ms(),
                                      request.reference(), c.caller, c.now_ms);
    if (!recorded.ok()) return recorded.status();
    absl::Status s = CheckOpen(c.team);
    if (!s.ok()) return s;
    if (!IsProfessionalConvener(c.me)) {
      return Denied("record the patient's consent",
                    "the coordinator or the case manager (a professional)");
    }
    if (PatientSideActive(c.team)) {
      return absl::FailedPreconditionError(
          "the patient (or a caregiver acting for them) is on this team: they give or refuse "
          "consent themselves");
    }
    v1::ConsentRecord* consent = c.team.mutable_consent();
    const std::string how = AgreementDetail(request.given_by(), request.method());
    if (request.withdraw()) {
      if (!HasRecordedConsent(c.team)) {
        return absl::FailedPreconditionError("no consent is recorded that could be withdrawn");
      }
      consent->set_withdrawn(true);
      consent->set_withdrawn_at_ms(recorded->given_at_ms());
      c.Event(v1::TeamEvent::KIND_CONSENT_WITHDRAWN).set_detail(how);
      c.team.set_status(v1::TEAM_STATUS_CLOSED);
      c.team.set_closed_at_ms(c.now_ms);
      c.team.set_erase_after_ms(c.now_ms +
                                absl::ToInt64Milliseconds(limits_.closed_team_retention));
      c.team.set_close_reason("consent withdrawn");
      c.Event(v1::TeamEvent::KIND_CLOSED).set_detail("consent withdrawn");
      return absl::OkStatus();
    }
    if (c.team.had_patient_side()) return PatientSideMustAgree();
    *consent = *std::move(recorded);
    c.Event(v1::TeamEvent::KIND_CONSENT_RECORDED).set_detail(how);
    return absl::OkStatus();
  });
}

namespace {

std::string Rights(bool read, bool post) {
  if (read && post) return "rp";
  if (read) return "r";
  if (post) return "p";
  return "-";
}

// "social:care=r": a cell as the audit detail (and --access) writes it.
std::string CellName(const v1::AccessRule& rule) {
  return absl::StrCat(RoleName(rule.role()), ":", ChannelName(rule.channel()), "=",
                      Rights(rule.read(), rule.post()));
}

bool SameCell(const store::NarrowingRecord& n, const v1::AccessRule& rule) {
  return n.role() == rule.role() && n.channel() == rule.channel();
}

// The team's effective narrowing from both sides' (TeamRecord.narrowed):
// one entry per cell whose rights differ from the deployment's.
void RebuildNarrowed(TeamRecord& team, const AccessMatrix& matrix) {
  team.clear_narrowed();
  std::vector<std::pair<int, int>> cells;
  for (const auto& n : team.narrowings()) cells.emplace_back(n.role(), n.channel());
  std::sort(cells.begin(), cells.end());
  cells.erase(std::unique(cells.begin(), cells.end()), cells.end());
  for (const auto& [role, channel] : cells) {
    const auto r = static_cast<v1::Role>(role);
    const auto ch = static_cast<v1::Channel>(channel);
    Access a = matrix.Get(r, ch);
    const Access deployment = a;
    for (const auto& n : team.narrowings()) {
      if (n.role() != role || n.channel() != channel) continue;
      a.read = a.read && n.read();
      a.post = a.post && n.post();
    }
    if (a == deployment) continue;
    v1::AccessRule* rule = team.add_narrowed();
    rule->set_role(r);
    rule->set_channel(ch);
    rule->set_read(a.read);
    rule->set_post(a.post);
  }
}

}  // namespace

absl::StatusOr<v1::Team> CareTeams::SetTeamAccess(const store::DeviceRef& caller,
                                                  const v1::SetTeamAccessRequest& request) {
  if (request.rules().empty()) return absl::InvalidArgumentError("no access rule given");
  // One rule per cell at most: the matrix has no more cells, and a request
  // carrying more is an attempt to flood the log and the team's queues.
  if (request.rules_size() > AccessMatrix::kCells) {
    return absl::InvalidArgumentError(absl::StrCat(
        "at most ", AccessMatrix::kCells, " access rules per call (one per role and channel), got ",
        request.rules_size()));
  }
  // Only the four known fields of each rule are kept: a rule's unknown
  // fields would otherwise be stored in the team record and served back.
  std::vector<v1::AccessRule> rules;
  for (const auto& given : request.rules()) {
    if (!matrix_->IsOwnWidening(given)) {
      absl::Status s = matrix_->CheckNarrowing(given);
      if (!s.ok()) return s;
    }
    for (const auto& earlier : rules) {
      if (earlier.role() == given.role() && earlier.channel() == given.channel()) {
        return absl::InvalidArgumentError(
            absl::StrCat("#", ChannelName(given.channel()), " for ", RoleName(given.role()),
                         " is set twice in this call: give each cell once"));
      }
    }
    v1::AccessRule& rule = rules.emplace_back();
    rule.set_role(given.role());
    rule.set_channel(given.channel());
    rule.set_read(given.read());
    rule.set_post(given.post());
  }
  return ApplyAndView(caller, request.team_id(), [&](Change& c) -> absl::Status {
    absl::Status s = CheckOpen(c.team);
    if (!s.ok()) return s;
    const bool patient_side = IsPatientSide(c.me);
    if (!IsCoordinator(c.me) && !patient_side) {
      return Denied("narrow this team's access", "the patient or the coordinator");
    }
    auto* narrowings = c.team.mutable_narrowings();
    // A record from before each side's narrowing was kept: who set it is
    // unknown, so it is taken as the patient side's, which the coordinator
    // cannot lift (the safe reading for the patient).
    if (narrowings->empty()) {
      for (const auto& old : c.team.narrowed()) {
        store::NarrowingRecord* n = narrowings->Add();
        n->set_role(old.role());
        n->set_channel(old.channel());
        n->set_read(old.read());
        n->set_post(old.post());
        n->set_by_patient_side(true);
      }
    }
    std::vector<std::string> cells;
    auto* widened = c.team.mutable_widened();
    auto widened_cell = [&](const v1::AccessRule& rule) {
      for (int i = 0; i < widened->size(); ++i) {
        if (widened->Get(i).role() == rule.role() && widened->Get(i).channel() == rule.channel()) {
          return i;
        }
      }
      return -1;
    };
    for (const auto& rule : rules) {
      // The patient side's own reading of #care or #clinical: theirs to
      // widen, and to take back; nobody else touches it.
      const int own = widened_cell(rule);
      if (matrix_->IsOwnWidening(rule)) {
        if (!patient_side) {
          return Denied(absl::StrCat("let the ", RoleName(rule.role()), " read #",
                                     ChannelName(rule.channel())),
                        "the patient or a caregiver acting for them, for themselves");
        }
        if (own < 0) *widened->Add() = rule;
        cells.push_back(CellName(rule));
        continue;
      }
      if (own >= 0) {
        if (!patient_side) {
          return Denied(absl::StrCat("narrow what the patient side opened to the ",
                                     RoleName(rule.role()), " on #", ChannelName(rule.channel())),
                        "the patient or a caregiver acting for them");
        }
        widened->DeleteSubrange(own, 1);
      }
      if (!patient_side) {
        // The coordinator narrows on top of the patient side's narrowing
        // and never lifts it.
        for (const auto& n : *narrowings) {
          if (n.by_patient_side() && SameCell(n, rule) &&
              ((rule.read() && !n.read()) || (rule.post() && !n.post()))) {
            return Denied(absl::StrCat("lift the patient's narrowing of #",
                                       ChannelName(rule.channel()), " for ", RoleName(rule.role())),
                          "the patient or a caregiver acting for them");
          }
        }
      }
      // The caller's side sets its own entry for the cell; the patient side
      // also lifts the coordinator's (it decides the cell).
      for (int i = narrowings->size() - 1; i >= 0; --i) {
        const auto& n = narrowings->Get(i);
        if (SameCell(n, rule) && (patient_side || !n.by_patient_side())) {
          narrowings->DeleteSubrange(i, 1);
        }
      }
      // A cell equal to the deployment's needs no narrowing entry.
      if (!(matrix_->Get(rule.role(), rule.channel()) == Access{rule.read(), rule.post()})) {
        store::NarrowingRecord* n = narrowings->Add();
        n->set_role(rule.role());
        n->set_channel(rule.channel());
        n->set_read(rule.read());
        n->set_post(rule.post());
        n->set_by_patient_side(patient_side);
        n->set_set_by(std::string(c.caller.Bytes()));
        n->set_set_at_ms(c.now_ms);
      }
      cells.push_back(CellName(rule));
    }
    RebuildNarrowed(c.team, *matrix_);
    // One event (and so one audit entry) per call, naming every cell set,
    // in the deployment override syntax. A single cell is also given in the
    // event's own fields, as before.
    v1::TeamEvent& e = c.Event(v1::TeamEvent::KIND_ACCESS_NARROWED);
    if (rules.size() == 1) {
      e.set_role(rules[0].role());
      e.set_channel(rules[0].channel());
      e.set_read(rules[0].read());
      e.set_post(rules[0].post());
    }
    e.set_detail(absl::StrJoin(cells, " "));
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Team> CareTeams::SetHistoryVisibility(
    const store::DeviceRef& caller, const v1::SetHistoryVisibilityRequest& request) {
  using V = v1::HistoryVisibility;
  v1::HistoryVisibility wanted;
  wanted.set_scope(request.scope());
  if (request.scope() == V::SCOPE_UNSPECIFIED || !V::Scope_IsValid(request.scope())) {
    return absl::InvalidArgumentError(
        "choose what newcomers receive: from joining, the last N days, or the whole pathway");
  }
  if (request.scope() == V::SCOPE_LAST_DAYS) {
    if (request.days() < 1 || request.days() > kMaxHistoryDays) {
      return absl::InvalidArgumentError(
          absl::StrCat("the last N days takes N from 1 to ", kMaxHistoryDays));
    }
    wanted.set_days(request.days());
  } else if (request.days() != 0) {
    return absl::InvalidArgumentError("a number of days goes only with the last N days");
  }
  return ApplyAndView(caller, request.team_id(), [&](Change& c) -> absl::Status {
    absl::Status s = CheckOpen(c.team);
    if (!s.ok()) return s;
    const bool patient_side = IsPatientSide(c.me);
    if (!patient_side && !IsCoordinator(c.me)) {
      return Denied("set what newcomers receive of the history", "the patient or the coordinator");
    }
    const v1::HistoryVisibility current = EffectiveHistoryVisibility(c.team);
    if (!patient_side && current.set_by_patient_side() && DaysBack(wanted) > DaysBack(current)) {
      return Denied("give newcomers more of the history than the patient side allowed",
                    "the patient or a caregiver acting for them");
    }
    // A setting the patient side made stays theirs when the coordinator
    // narrows it: the coordinator cannot widen it back.
    wanted.set_set_by_patient_side(patient_side || current.set_by_patient_side());
    *c.team.mutable_history_visibility() = wanted;
    c.Event(v1::TeamEvent::KIND_HISTORY_VISIBILITY_SET).set_detail(HistoryVisibilityDetail(wanted));
    return absl::OkStatus();
  });
}

absl::Status CareTeams::RecordHistoryShared(const store::DeviceRef& caller,
                                            const v1::RecordHistorySharedRequest& request) {
  auto recipient = store::AccountId::FromHex(request.recipient_account_id());
  if (!recipient.ok()) return recipient.status();
  if (request.channels().empty()) {
    return absl::InvalidArgumentError("name the channels whose history was shared");
  }
  if (request.entry_count() > kMaxHistoryEntriesShared) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", kMaxHistoryEntriesShared, " entries are shared at once"));
  }
  std::vector<v1::Channel> channels;
  for (int ch : request.channels()) {
    const auto channel = static_cast<v1::Channel>(ch);
    absl::Status s = CheckChannel(channel);
    if (!s.ok()) return s;
    if (std::find(channels.begin(), channels.end(), channel) != channels.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("#", ChannelName(channel), " is named twice: name each channel once"));
    }
    channels.push_back(channel);
  }
  auto applied =
      Apply(&caller, request.team_id(), Caller::kOnTeamOrStaff, [&](Change& c) -> absl::Status {
        if (ActingAs(c.team, *recipient) == nullptr) {
          return absl::NotFoundError(absl::StrCat(recipient->Hex(), " is not on this team"));
        }
        std::vector<std::string> names;
        for (v1::Channel channel : channels) {
          // The builder held it, and the newcomer may read it: anything else
          // is history handed where the matrix does not let it go.
          absl::Status s = MayRead(c.team, caller.account, channel);
          if (s.ok()) s = MayRead(c.team, *recipient, channel);
          if (!s.ok()) return absl::PermissionDeniedError(s.message());
          names.push_back("#" + ChannelName(channel));
        }
        c.notify = false;
        v1::TeamEvent& e = c.Event(v1::TeamEvent::KIND_HISTORY_SHARED, recipient->Bytes());
        e.set_role(static_cast<v1::Role>(c.me->role()));
        e.set_detail(absl::StrCat(
            request.entry_count(), " entries",
            request.from_ms() > 0
                ? absl::StrCat(" since ",
                               absl::FormatTime("%Y-%m-%d", absl::FromUnixMillis(request.from_ms()),
                                                absl::UTCTimeZone()))
                : "",
            " on ", absl::StrJoin(names, " ")));
        return absl::OkStatus();
      });
  return applied.status();
}

absl::StatusOr<v1::Team> CareTeams::Close(const store::DeviceRef& caller, absl::string_view team_id,
                                          absl::string_view reason) {
  if (reason.size() > kMaxReasonBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the reason is at most ", kMaxReasonBytes, " bytes (never a name)"));
  }
  return ApplyAndView(caller, team_id, [&](Change& c) -> absl::Status {
    absl::Status s = CheckOpen(c.team);
    if (!s.ok()) return s;
    if (!IsConvener(c.me) && !IsPatientSide(c.me)) {
      return Denied("close the team", "the coordinator, the case manager or the patient");
    }
    c.team.set_status(v1::TEAM_STATUS_CLOSED);
    c.team.set_closed_at_ms(c.now_ms);
    c.team.set_erase_after_ms(c.now_ms + absl::ToInt64Milliseconds(limits_.closed_team_retention));
    c.team.set_close_reason(reason.empty() ? "end of pathway" : std::string(reason));
    c.Event(v1::TeamEvent::KIND_CLOSED).set_detail(c.team.close_reason());
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::EraseTeamResponse> CareTeams::Erase(const store::DeviceRef& caller,
                                                       absl::string_view team_id) {
  auto applied = Apply(&caller, team_id, Caller::kOnTeam, [&](Change& c) -> absl::Status {
    if (!IsCoordinator(c.me) && !IsPatientSide(c.me)) {
      return Denied("erase the team", "the coordinator or the patient");
    }
    c.EraseFor("erased on request");
    return absl::OkStatus();
  });
  if (!applied.ok()) return applied.status();
  v1::EraseTeamResponse r = applied->erased;
  r.set_envelopes_deleted(applied->envelopes_dropped);
  return r;
}

absl::StatusOr<uint64_t> CareTeams::EraseExpired() {
  const int64_t now = clock_->NowMs();
  std::vector<std::string> due;
  absl::Status s = teams_->ForEach([&](const TeamRecord& team) {
    if (team.status() == v1::TEAM_STATUS_CLOSED && team.erase_after_ms() <= now) {
      due.push_back(Hex(team.team_id()));
    }
    return true;
  });
  if (!s.ok()) return s;
  uint64_t erased = 0;
  for (const auto& id : due) {
    auto applied = Apply(nullptr, id, Caller::kAnyone, [&](Change& c) -> absl::Status {
      if (c.team.status() != v1::TEAM_STATUS_CLOSED || c.team.erase_after_ms() > now) {
        return absl::FailedPreconditionError("no longer due");
      }
      c.EraseFor("retention period ended");
      return absl::OkStatus();
    });
    if (applied.ok()) {
      ++erased;
    } else if (!absl::IsFailedPrecondition(applied.status()) &&
               !absl::IsNotFound(applied.status())) {
      return applied.status();
    }
  }
  return erased;
}

absl::StatusOr<bool> CareTeams::ReleaseCaseManager(const store::TeamId& team,
                                                   const store::AccountId& account,
                                                   absl::string_view intake_id) {
  auto applied = Apply(nullptr, team.Hex(), Caller::kAnyone, [&](Change& c) -> absl::Status {
    const TeamMemberRecord* m = FindPerson(c.team, account.Bytes());
    if (c.team.status() != v1::TEAM_STATUS_OPEN || !m || m->role() != v1::ROLE_CASE_MANAGER) {
      return absl::FailedPreconditionError("not the team's case manager");
    }
    RemovePerson(c.team, account.Bytes());
    c.dropped.emplace_back(account.Bytes());
    v1::TeamEvent& e = c.Event(v1::TeamEvent::KIND_REMOVED, account.Bytes());
    e.set_role(v1::ROLE_CASE_MANAGER);
    e.set_detail(absl::StrCat("case management ended, intake ", intake_id));
    return absl::OkStatus();
  });
  if (applied.ok()) return true;
  if (absl::IsFailedPrecondition(applied.status()) || absl::IsNotFound(applied.status())) {
    return false;
  }
  return applied.status();
}

namespace {

v1::BlindIndexKind IndexKind(const store::BlindIndexEntry& entry) {
  return entry.kind() == v1::BLIND_INDEX_KIND_UNSPECIFIED ? v1::BLIND_INDEX_KIND_NATIONAL_NUMBER
                                                          : entry.kind();
}

// The audit log's detail of an index set or used: the key version, and the
// kind when it is not the national number (the detail of entries written
// before the second kind).
std::string IndexDetail(v1::BlindIndexKind kind, const std::string& key_version) {
  return kind == v1::BLIND_INDEX_KIND_NAME_AND_BIRTH_DATE
             ? absl::StrCat(key_version, " name-and-birth-date")
             : key_version;
}

}  // namespace

absl::Status CareTeams::SetBlindIndex(const store::DeviceRef& caller,
                                      const v1::SetBlindIndexRequest& request) {
  if (request.index().size() != store::TeamTable::kBlindIndexSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("a blind index is ", store::TeamTable::kBlindIndexSize,
                     " bytes (HMAC-SHA256), got ", request.index().size()));
  }
  if (request.key_version().empty() || request.key_version().size() > kMaxKeyVersionBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the key version is 1 to ", kMaxKeyVersionBytes, " bytes"));
  }
  const v1::BlindIndexKind kind = request.kind() == v1::BLIND_INDEX_KIND_UNSPECIFIED
                                      ? v1::BLIND_INDEX_KIND_NATIONAL_NUMBER
                                      : request.kind();
  if (!v1::BlindIndexKind_IsValid(kind)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown blind index kind ", static_cast<int>(request.kind())));
  }
  auto applied = Apply(&caller, request.team_id(), Caller::kOnTeam, [&](Change& c) -> absl::Status {
    absl::Status s = CheckOpen(c.team);
    if (!s.ok()) return s;
    if (!IsProfessionalConvener(c.me)) {
      return Denied("register the team's blind index",
                    "the coordinator or the case manager (a professional: the index is made "
                    "with the organisation's key)");
    }
    // The same kind under the same key replaces; past the versions kept
    // of a kind, its oldest goes (entries stay in registration order).
    auto* indexes = c.team.mutable_blind_indexes();
    int same_kind = 0;
    for (int i = indexes->size() - 1; i >= 0; --i) {
      if (IndexKind(indexes->Get(i)) != kind) continue;
      if (indexes->Get(i).key_version() == request.key_version()) {
        indexes->DeleteSubrange(i, 1);
      } else {
        ++same_kind;
      }
    }
    for (int i = 0; i < indexes->size() && same_kind >= kMaxBlindIndexVersions; ++i) {
      if (IndexKind(indexes->Get(i)) == kind) {
        indexes->DeleteSubrange(i--, 1);
        --same_kind;
      }
    }
    store::BlindIndexEntry* entry = indexes->Add();
    entry->set_key_version(request.key_version());
    entry->set_index(request.index());
    entry->set_kind(kind);
    c.Event(v1::TeamEvent::KIND_BLIND_INDEX_SET)
        .set_detail(IndexDetail(kind, request.key_version()));
    return absl::OkStatus();
  });
  return applied.status();
}

absl::StatusOr<v1::FindTeamsResponse> CareTeams::Find(const store::DeviceRef& caller,
                                                      absl::string_view index) {
  auto account = accounts_->GetAccount(caller.account);
  if (!account.ok()) return account.status();
  if (!HasFunction(*account, v1::FUNCTION_HELPDESK) &&
      !HasFunction(*account, v1::FUNCTION_CASE_MANAGER)) {
    return absl::PermissionDeniedError(
        "only accounts with the helpdesk or case-manager function can look teams up by "
        "national number or by name and birth date");
  }
  if (index.size() != store::TeamTable::kBlindIndexSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a blind index is ", store::TeamTable::kBlindIndexSize, " bytes, got ", index.size()));
  }
  auto found = teams_->FindByBlindIndex(index);
  if (!found.ok()) return found.status();
  v1::FindTeamsResponse response;
  for (const auto& [id, version] : *found) {
    // A named copy: C++17 lambdas cannot capture a structured binding.
    const std::string& key_version = version;
    // The lookup itself is written to the team's audit log: the patient
    // sees who looked their team up.
    v1::BlindIndexKind kind = v1::BLIND_INDEX_KIND_NATIONAL_NUMBER;
    auto applied = Apply(&caller, id.Hex(), Caller::kAnyone, [&](Change& c) -> absl::Status {
      for (const auto& entry : c.team.blind_indexes()) {
        if (entry.index() == index) kind = IndexKind(entry);
      }
      c.Event(v1::TeamEvent::KIND_FOUND_BY_INDEX).set_detail(IndexDetail(kind, key_version));
      return absl::OkStatus();
    });
    if (absl::IsNotFound(applied.status())) continue;
    if (!applied.ok()) return applied.status();
    const TeamRecord& team = applied->team;
    v1::TeamSummary* summary = response.add_teams();
    summary->set_team_id(id.Hex());
    summary->set_status(static_cast<v1::TeamStatus>(team.status()));
    summary->set_created_at_ms(team.created_at_ms());
    summary->set_key_version(key_version);
    summary->set_index_kind(kind);
    for (const auto& m : team.members()) {
      const bool coordinator = m.role() == v1::ROLE_COORDINATOR || m.coordinates();
      if (!coordinator && m.role() != v1::ROLE_CASE_MANAGER) continue;
      auto person = store::AccountId::FromBytes(m.account_id());
      auto record = person.ok() ? accounts_->GetAccount(*person)
                                : absl::StatusOr<store::AccountRecord>(person.status());
      std::string name = record.ok() ? record->display_name() : "";
      if (coordinator) {
        summary->set_coordinator_account_id(Hex(m.account_id()));
        summary->set_coordinator_name(name);
      } else {
        summary->set_case_manager_account_id(Hex(m.account_id()));
        summary->set_case_manager_name(name);
      }
    }
  }
  return response;
}

namespace {

absl::Status MayReadAudit(const TeamMemberRecord* me) {
  if (IsCoordinator(me) || HasRole(me, v1::ROLE_PATIENT) || HasRole(me, v1::ROLE_CAREGIVER)) {
    return absl::OkStatus();
  }
  return Denied("read the audit log", "the patient, caregivers and the coordinator");
}

}  // namespace

absl::StatusOr<v1::ReadAuditResponse> CareTeams::ReadAudit(const store::DeviceRef& caller,
                                                           const v1::ReadAuditRequest& request) {
  auto id = store::TeamId::FromHex(request.team_id());
  if (!id.ok()) return id.status();
  auto team = teams_->Get(*id);
  if (absl::IsNotFound(team.status())) return NotOnTeam(request.team_id());
  if (!team.ok()) return team.status();
  const TeamMemberRecord* me = FindPerson(*team, caller.account.Bytes());
  if (!me) return NotOnTeam(request.team_id());
  absl::Status s = MayReadAudit(me);
  if (!s.ok()) return s;
  uint32_t limit = request.limit() == 0 ? kDefaultAuditPage : request.limit();
  if (limit > kMaxAuditPage) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", kMaxAuditPage, " audit entries per call"));
  }
  v1::ReadAuditResponse response;
  s = audit_->Read(*id, request.after_sequence(), limit, &response);
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<v1::VerifyAuditResponse> CareTeams::VerifyAudit(const store::DeviceRef& caller,
                                                               absl::string_view team_id) {
  auto id = store::TeamId::FromHex(team_id);
  if (!id.ok()) return id.status();
  auto team = teams_->Get(*id);
  if (absl::IsNotFound(team.status())) return NotOnTeam(team_id);
  if (!team.ok()) return team.status();
  const TeamMemberRecord* me = FindPerson(*team, caller.account.Bytes());
  if (!me) return NotOnTeam(team_id);
  absl::Status s = MayReadAudit(me);
  if (!s.ok()) return s;
  return audit_->Verify(*team);
}

namespace {}  // namespace

absl::StatusOr<const TeamMemberRecord*> CareTeams::ActiveMember(
    const TeamRecord& team, const store::AccountId& caller) const {
  const TeamMemberRecord* me = ActingAs(team, caller);
  if (!me) return NotOnTeam(Hex(team.team_id()));
  if (me->status() != v1::MEMBER_STATUS_ACTIVE) {
    return absl::PermissionDeniedError(
        "you have not joined this team yet: accept the invitation first");
  }
  return me;
}

absl::Status CareTeams::MayPost(const TeamRecord& team, const store::AccountId& caller,
                                v1::Channel channel) const {
  absl::Status s = CheckChannel(channel);
  if (!s.ok()) return s;
  auto me = ActiveMember(team, caller);
  if (!me.ok()) return me.status();
  s = CheckOpen(team);
  if (!s.ok()) return s;
  const auto role = static_cast<v1::Role>((*me)->role());
  if (!matrix_->ForMember(team, **me, channel).post) {
    return absl::PermissionDeniedError(absl::StrCat("a ", RoleName(role), " may not post on #",
                                                    ChannelName(channel), " on this team"));
  }
  return absl::OkStatus();
}

absl::Status CareTeams::MayRead(const TeamRecord& team, const store::AccountId& caller,
                                v1::Channel channel) const {
  absl::Status s = CheckChannel(channel);
  if (!s.ok()) return s;
  auto me = ActiveMember(team, caller);
  if (!me.ok()) return me.status();
  const auto role = static_cast<v1::Role>((*me)->role());
  if (!matrix_->ForMember(team, **me, channel).read) {
    return absl::PermissionDeniedError(absl::StrCat("a ", RoleName(role), " may not read #",
                                                    ChannelName(channel), " on this team"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const std::vector<ChannelReader>>> CareTeams::ReadersForSend(
    const store::DeviceRef& sender, const store::TeamId& id, v1::Channel channel,
    uint64_t gate_version) const {
  // Read before the devices are, as gate_version was before the team.
  const uint64_t device_generation = accounts_->device_generation();
  std::shared_ptr<const TeamRecord> team;
  std::shared_ptr<const std::vector<ChannelReader>> readers;
  {
    absl::MutexLock lock(&readers_mu_);
    auto it = readers_cache_.find(id);
    if (it != readers_cache_.end() && it->second.gate_version == gate_version &&
        it->second.device_generation == device_generation) {
      team = it->second.team;
      if (static_cast<size_t>(channel) < it->second.readers.size()) {
        readers = it->second.readers[channel];
      }
    }
  }
  if (!team) {
    auto read = teams_->Get(id);
    if (absl::IsNotFound(read.status())) return NotOnTeam(id.Hex());
    if (!read.ok()) return read.status();
    team = std::make_shared<const TeamRecord>(*std::move(read));
  }
  absl::Status s = MayPost(*team, sender.account, channel);
  if (!s.ok()) return s;
  if (readers) return readers;

  auto computed = std::make_shared<std::vector<ChannelReader>>();
  for (const auto& m : team->members()) {
    if (m.status() != v1::MEMBER_STATUS_ACTIVE || !matrix_->ForMember(*team, m, channel).read) {
      continue;
    }
    auto account = store::AccountId::FromBytes(m.account_id());
    if (!account.ok()) return account.status();
    auto devices = accounts_->AllDevices(*account);
    if (!devices.ok()) return devices.status();
    computed->push_back({*account, *std::move(devices)});
    auto staff = StaffActingFor(*team, m);
    if (!staff.ok()) return staff.status();
    for (const store::AccountId& a : *staff) {
      auto theirs = accounts_->AllDevices(a);
      if (!theirs.ok()) return theirs.status();
      computed->push_back({a, *std::move(theirs)});
    }
  }
  readers = std::move(computed);
  absl::MutexLock lock(&readers_mu_);
  if (readers_cache_.size() >= kMaxCachedTeams) readers_cache_.clear();
  CachedTeam& entry = readers_cache_[id];
  if (entry.gate_version != gate_version || entry.device_generation != device_generation ||
      !entry.team) {
    entry = CachedTeam{gate_version, device_generation, team, {}};
  }
  // MayPost accepted the channel, so it indexes the array.
  entry.readers[channel] = readers;
  return readers;
}

absl::Status CareTeams::CheckMayPost(const store::DeviceRef& caller, const store::TeamId& id,
                                     v1::Channel channel) const {
  auto team = teams_->Get(id);
  if (absl::IsNotFound(team.status())) return NotOnTeam(id.Hex());
  if (!team.ok()) return team.status();
  return MayPost(*team, caller.account, channel);
}

absl::Status CareTeams::CheckMayRead(const store::DeviceRef& caller, const store::TeamId& id,
                                     v1::Channel channel) const {
  auto team = teams_->Get(id);
  if (absl::IsNotFound(team.status())) return NotOnTeam(id.Hex());
  if (!team.ok()) return team.status();
  return MayRead(*team, caller.account, channel);
}

absl::Status CareTeams::RecordDownload(const store::DeviceRef& caller, const store::TeamId& id,
                                       v1::Channel channel, absl::string_view detail) {
  auto applied = Apply(&caller, id.Hex(), Caller::kOnTeamOrStaff, [&](Change& c) -> absl::Status {
    absl::Status s = MayRead(c.team, caller.account, channel);
    if (!s.ok()) return s;
    c.notify = false;
    // Staff on duty download for their organisation: the entry names both.
    v1::TeamEvent& e = c.Event(v1::TeamEvent::KIND_ATTACHMENT_DOWNLOADED,
                               c.for_organisation ? c.me->account_id() : "");
    e.set_channel(channel);
    e.set_role(static_cast<v1::Role>(c.me->role()));
    e.set_detail(std::string(detail));
    return absl::OkStatus();
  });
  return applied.status();
}

const TeamMemberRecord* CareTeams::ActingAs(const TeamRecord& team,
                                            const store::AccountId& account) const {
  // A store error reads as "not on the team": the caller is refused, never
  // let in.
  absl::StatusOr<const TeamMemberRecord*> acting = ActingMember(team, *accounts_, account);
  return acting.ok() ? *acting : nullptr;
}

absl::StatusOr<std::vector<store::AccountId>> CareTeams::StaffActingFor(
    const TeamRecord& team, const TeamMemberRecord& m) const {
  auto org = store::AccountId::FromBytes(m.account_id());
  if (!org.ok()) return org.status();
  auto on_duty = accounts_->StaffOnDuty(*org);
  if (absl::IsNotFound(on_duty.status())) return std::vector<store::AccountId>{};
  if (!on_duty.ok()) return on_duty.status();
  std::vector<store::AccountId> out;
  for (const store::AccountId& a : *on_duty) {
    if (!FindPerson(team, a.Bytes())) out.push_back(a);
  }
  return out;
}

absl::StatusOr<int> CareTeams::RecordRosterChange(const store::DeviceRef& by,
                                                  const store::AccountId& organisation,
                                                  const store::AccountId& staff,
                                                  v1::ChangeRosterRequest::Action action) {
  auto ids = teams_->TeamsOf(organisation);
  if (!ids.ok()) return ids.status();
  const char* what = action == v1::ChangeRosterRequest::ACTION_ADD       ? "added"
                     : action == v1::ChangeRosterRequest::ACTION_REMOVE  ? "removed"
                     : action == v1::ChangeRosterRequest::ACTION_ON_DUTY ? "on duty"
                                                                         : "off duty";
  int told = 0;
  for (const store::TeamId& id : *ids) {
    auto applied = Apply(&by, id.Hex(), Caller::kAnyone, [&](Change& c) -> absl::Status {
      const TeamMemberRecord* org = FindPerson(c.team, organisation.Bytes());
      if (!org) return NotOnTeam(id.Hex());
      v1::TeamEvent& e = c.Event(v1::TeamEvent::KIND_ROSTER_CHANGED, organisation.Bytes());
      e.set_role(static_cast<v1::Role>(org->role()));
      e.set_detail(absl::StrCat(staff.Hex(), " ", what));
      // The staff member hears it even when they stop reading the team.
      if (!FindPerson(c.team, staff.Bytes())) {
        c.also_tell.emplace_back(staff.Bytes());
        if (action == v1::ChangeRosterRequest::ACTION_REMOVE) c.dropped.emplace_back(staff.Bytes());
      }
      return absl::OkStatus();
    });
    if (absl::IsNotFound(applied.status())) continue;  // erased meanwhile
    if (!applied.ok()) return applied.status();
    ++told;
  }
  return told;
}

absl::StatusOr<bool> CareTeams::ShareOpenTeam(const store::AccountId& a,
                                              const store::AccountId& b) const {
  // Each one, and the organisations whose roster lists them (ActingAs
  // below checks they are on duty).
  auto with_organisations =
      [&](const store::AccountId& account) -> absl::StatusOr<std::vector<store::AccountId>> {
    std::vector<store::AccountId> out{account};
    auto person = accounts_->GetAccount(account);
    if (absl::IsNotFound(person.status())) return out;
    if (!person.ok()) return person.status();
    for (const std::string& raw : person->staff_of()) {
      auto org = store::AccountId::FromBytes(raw);
      if (!org.ok()) return org.status();
      out.push_back(*org);
    }
    return out;
  };
  auto as_a = with_organisations(a);
  if (!as_a.ok()) return as_a.status();
  auto as_b = with_organisations(b);
  if (!as_b.ok()) return as_b.status();
  for (const store::AccountId& x : *as_a) {
    auto teams = teams_->TeamsOf(x);
    if (!teams.ok()) return teams.status();
    for (const auto& id : *teams) {
      bool b_on = false;
      for (const store::AccountId& y : *as_b) {
        auto on = teams_->IsOn(y, id);
        if (!on.ok()) return on.status();
        b_on = b_on || *on;
      }
      if (!b_on) continue;
      auto team = teams_->Get(id);
      if (absl::IsNotFound(team.status())) continue;
      if (!team.ok()) return team.status();
      if (team->status() == v1::TEAM_STATUS_OPEN && Active(ActingAs(*team, a)) &&
          Active(ActingAs(*team, b))) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace carerelay::core
