#include "server/store/team_table.h"

#include <set>

namespace carerelay::store {
namespace {

absl::StatusOr<TeamRecord> Parse(absl::StatusOr<std::string> bytes) {
  if (!bytes.ok()) return bytes.status();
  TeamRecord team;
  if (!team.ParseFromString(*bytes)) return absl::DataLossError("store: unreadable team record");
  return team;
}

std::string MembershipKey(absl::string_view account, absl::string_view team) {
  return absl::StrCat(account, team);
}

std::set<std::string> MembershipKeys(const TeamRecord& team) {
  std::set<std::string> keys;
  for (const auto& m : team.members()) keys.insert(MembershipKey(m.account_id(), team.team_id()));
  return keys;
}

std::set<std::string> BlindIndexKeys(const TeamRecord& team) {
  std::set<std::string> keys;
  for (const auto& b : team.blind_indexes()) keys.insert(absl::StrCat(b.index(), team.team_id()));
  return keys;
}

std::string KeyVersionOf(const TeamRecord& team, absl::string_view key) {
  for (const auto& b : team.blind_indexes()) {
    if (absl::StrCat(b.index(), team.team_id()) == key) return b.key_version();
  }
  return "";
}

}  // namespace

absl::StatusOr<TeamRecord> TeamTable::Get(const TeamId& id) const {
  return Parse(db_->Get(Table::kTeams, id.Bytes()));
}

absl::StatusOr<TeamRecord> TeamTable::GetForUpdate(Transaction& txn, const TeamId& id) {
  return Parse(txn.GetForUpdate(Table::kTeams, id.Bytes()));
}

absl::Status TeamTable::Put(Transaction& txn, const TeamRecord* before, const TeamRecord& after) {
  const TeamRecord empty;
  const TeamRecord& old = before ? *before : empty;
  absl::Status s = txn.Put(Table::kTeams, after.team_id(), after.SerializeAsString());
  // Membership and index keys: delete those no longer derived, add the new.
  std::set<std::string> old_members = MembershipKeys(old), new_members = MembershipKeys(after);
  for (const auto& k : old_members) {
    if (s.ok() && !new_members.count(k)) s = txn.Delete(Table::kMemberships, k);
  }
  for (const auto& k : new_members) {
    if (s.ok() && !old_members.count(k)) s = txn.Put(Table::kMemberships, k, "");
  }
  std::set<std::string> old_indexes = BlindIndexKeys(old), new_indexes = BlindIndexKeys(after);
  for (const auto& k : old_indexes) {
    if (s.ok() && !new_indexes.count(k)) s = txn.Delete(Table::kBlindIndexes, k);
  }
  for (const auto& k : new_indexes) {
    if (s.ok()) s = txn.Put(Table::kBlindIndexes, k, KeyVersionOf(after, k));
  }
  return s;
}

absl::Status TeamTable::Delete(Transaction& txn, const TeamRecord& team) {
  absl::Status s = txn.Delete(Table::kTeams, team.team_id());
  for (const auto& k : MembershipKeys(team)) {
    if (s.ok()) s = txn.Delete(Table::kMemberships, k);
  }
  for (const auto& k : BlindIndexKeys(team)) {
    if (s.ok()) s = txn.Delete(Table::kBlindIndexes, k);
  }
  return s;
}

absl::StatusOr<std::vector<TeamId>> TeamTable::TeamsOf(const AccountId& account) const {
  std::vector<TeamId> teams;
  absl::Status bad = absl::OkStatus();
  absl::Status s = db_->Scan(Table::kMemberships, account.Bytes(), "",
                             [&](absl::string_view key, absl::string_view) {
                               auto team = TeamId::FromBytes(key.substr(AccountId::kSize));
                               if (!team.ok()) {
                                 bad = absl::DataLossError("store: malformed membership key");
                                 return false;
                               }
                               teams.push_back(*team);
                               return true;
                             });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  return teams;
}

absl::StatusOr<bool> TeamTable::IsOn(const AccountId& account, const TeamId& team) const {
  absl::StatusOr<std::string> v =
      db_->Get(Table::kMemberships, MembershipKey(account.Bytes(), team.Bytes()));
  if (absl::IsNotFound(v.status())) return false;
  if (!v.ok()) return v.status();
  return true;
}

absl::StatusOr<std::vector<std::pair<TeamId, std::string>>> TeamTable::FindByBlindIndex(
    absl::string_view index) const {
  std::vector<std::pair<TeamId, std::string>> found;
  if (index.size() != kBlindIndexSize) return found;
  absl::Status bad = absl::OkStatus();
  absl::Status s =
      db_->Scan(Table::kBlindIndexes, index, "", [&](absl::string_view key, absl::string_view v) {
        auto team = TeamId::FromBytes(key.substr(kBlindIndexSize));
        if (!team.ok()) {
          bad = absl::DataLossError("store: malformed blind index key");
          return false;
        }
        found.emplace_back(*team, std::string(v));
        return true;
      });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  return found;
}

absl::Status TeamTable::ForEach(const std::function<bool(const TeamRecord&)>& fn) const {
  absl::Status bad = absl::OkStatus();
  absl::Status s = db_->Scan(Table::kTeams, "", "", [&](absl::string_view, absl::string_view v) {
    TeamRecord team;
    if (!team.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      bad = absl::DataLossError("store: unreadable team record");
      return false;
    }
    return fn(team);
  });
  if (!s.ok()) return s;
  return bad;
}

}  // namespace carerelay::store
