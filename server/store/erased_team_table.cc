#include "server/store/erased_team_table.h"

#include "absl/strings/str_cat.h"

namespace carerelay::store {
namespace {

constexpr absl::string_view kPrefix = "erased_team/";

std::string Key(const TeamId& team) { return absl::StrCat(kPrefix, team.Bytes()); }

}  // namespace

absl::Status ErasedTeamTable::Put(Transaction& txn, const ErasedTeamRecord& record) {
  absl::StatusOr<TeamId> team = TeamId::FromBytes(record.team_id());
  if (!team.ok()) return team.status();
  return txn.Put(Table::kMeta, Key(*team), record.SerializeAsString());
}

absl::StatusOr<ErasedTeamRecord> ErasedTeamTable::Get(const TeamId& team) const {
  absl::StatusOr<std::string> value = db_->Get(Table::kMeta, Key(team));
  if (!value.ok()) return value.status();
  ErasedTeamRecord record;
  if (!record.ParseFromString(*value)) {
    return absl::DataLossError("store: malformed erased-team record");
  }
  return record;
}

absl::Status ErasedTeamTable::Delete(Transaction& txn, const TeamId& team) {
  return txn.Delete(Table::kMeta, Key(team));
}

absl::Status ErasedTeamTable::ForEach(
    const std::function<bool(const ErasedTeamRecord&)>& fn) const {
  absl::Status parse = absl::OkStatus();
  absl::Status s =
      db_->Scan(Table::kMeta, kPrefix, "", [&](absl::string_view, absl::string_view v) {
        ErasedTeamRecord record;
        if (!record.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
          parse = absl::DataLossError("store: malformed erased-team record");
          return true;
        }
        return fn(record);
      });
  if (!s.ok()) return s;
  return parse;
}

}  // namespace carerelay::store
