#include "server/core/erased_teams.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace carerelay::core {
namespace {

// Pages of the audit log read for the administrator (all of it is returned).
constexpr uint32_t kAuditPage = 1000;

v1::ErasedTeam ToProto(const store::ErasedTeamRecord& r) {
  v1::ErasedTeam out;
  auto id = store::TeamId::FromBytes(r.team_id());
  if (id.ok()) out.set_team_id(id->Hex());
  out.set_created_at_ms(r.created_at_ms());
  out.set_erased_at_ms(r.erased_at_ms());
  out.set_reason(r.reason());
  out.set_audit_entries(r.audit_sequence());
  out.set_audit_head_hash(r.audit_hash());
  out.set_audit_kept_until_ms(r.audit_delete_after_ms());
  return out;
}

}  // namespace

absl::StatusOr<store::ErasedTeamRecord> ErasedTeams::Keep(store::Transaction& txn,
                                                          const store::TeamRecord& team,
                                                          absl::string_view reason,
                                                          int64_t now_ms) {
  store::ErasedTeamRecord r;
  r.set_team_id(team.team_id());
  r.set_created_at_ms(team.created_at_ms());
  r.set_erased_at_ms(now_ms);
  r.set_reason(std::string(reason));
  r.set_audit_sequence(team.audit_sequence());
  r.set_audit_hash(team.audit_hash());
  r.set_audit_delete_after_ms(now_ms + absl::ToInt64Milliseconds(retention_));
  absl::Status s = table_->Put(txn, r);
  if (!s.ok()) return s;
  return r;
}

absl::StatusOr<std::vector<v1::ErasedTeam>> ErasedTeams::List() const {
  std::vector<v1::ErasedTeam> out;
  absl::Status s = table_->ForEach([&](const store::ErasedTeamRecord& r) {
    out.push_back(ToProto(r));
    return true;
  });
  if (!s.ok()) return s;
  std::stable_sort(out.begin(), out.end(), [](const v1::ErasedTeam& a, const v1::ErasedTeam& b) {
    return a.erased_at_ms() < b.erased_at_ms();
  });
  return out;
}

absl::StatusOr<v1::ReadErasedTeamAuditResponse> ErasedTeams::ReadAudit(
    absl::string_view team_id) const {
  auto id = store::TeamId::FromHex(team_id);
  if (!id.ok()) return id.status();
  absl::StatusOr<store::ErasedTeamRecord> record = table_->Get(*id);
  if (absl::IsNotFound(record.status())) {
    return absl::NotFoundError(absl::StrCat(
        "no erased team's audit log is kept under ", team_id,
        " (never erased, still a team, or its retention ended: carerelayd admin erased-teams "
        "lists those kept)"));
  }
  if (!record.ok()) return record.status();
  v1::ReadErasedTeamAuditResponse out;
  *out.mutable_team() = ToProto(*record);
  absl::StatusOr<v1::VerifyAuditResponse> verified =
      audit_->Verify(*id, record->audit_sequence(), record->audit_hash());
  if (!verified.ok()) return verified.status();
  *out.mutable_verified() = *std::move(verified);
  // Every entry that can be read, even past a break the check names: the
  // administrator answers a legal request with what is there.
  for (uint64_t after = 0;;) {
    v1::ReadAuditResponse page;
    absl::Status s = audit_->Read(*id, after, kAuditPage, &page);
    for (auto& e : *page.mutable_entries()) {
      after = e.sequence();
      *out.add_entries() = std::move(e);
    }
    if (!s.ok()) {
      if (out.verified().intact()) return s;
      break;  // damaged: the check says where
    }
    if (!page.more()) break;
  }
  return out;
}

absl::StatusOr<uint64_t> ErasedTeams::DeleteExpired() {
  const int64_t now = clock_->NowMs();
  std::vector<store::TeamId> due;
  absl::Status s = table_->ForEach([&](const store::ErasedTeamRecord& r) {
    if (r.audit_delete_after_ms() <= now) {
      auto id = store::TeamId::FromBytes(r.team_id());
      if (id.ok()) due.push_back(*id);
    }
    return true;
  });
  // A record that does not parse (DATA_LOSS, which `admin check` names)
  // holds back no other: the due ones go, then the error is reported.
  if (!s.ok() && !absl::IsDataLoss(s)) return s;
  uint64_t deleted = 0;
  for (const store::TeamId& id : due) {
    auto txn = db_->Begin();
    absl::StatusOr<uint64_t> entries = audit_->DeleteTeam(*txn, id);
    if (!entries.ok()) return entries.status();
    absl::Status written = table_->Delete(*txn, id);
    if (written.ok()) written = txn->Commit();
    if (!written.ok()) return written;
    ++deleted;
  }
  if (!s.ok()) return s;
  return deleted;
}

}  // namespace carerelay::core
