#include "client/history_handover.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/notebook.h"
#include "client/team_view.h"

namespace carerelay::client {
namespace {

// Which (team, person) this device has handed history to: key team id,
// "/", account id; no value.
constexpr char kHandedOverRecord[] = "history_handed_over";

bool IsActive(const v1::Member* m) {
  return m != nullptr && m->status() == v1::MEMBER_STATUS_ACTIVE;
}

}  // namespace

HistoryHandover::HistoryHandover(Messenger* messenger, AttachmentTransfer* transfer,
                                 RelayClient* relay, crypto::ProfileStore* profile)
    : messenger_(messenger),
      transfer_(transfer),
      relay_(relay),
      profile_(profile),
      history_(profile) {}

absl::StatusOr<int> HistoryHandover::OfferTo(const std::string& team_id,
                                             const std::string& account_id, bool again) {
  const std::string self = messenger_->self().account_id;
  if (account_id == self) return 0;
  const std::string handed_key = team_id + "/" + account_id;
  auto handed = profile_->GetRecord(kHandedOverRecord, handed_key);
  if (!handed.ok()) return handed.status();
  if (handed->has_value() && !again) return 0;
  auto team = messenger_->FetchTeam(team_id);
  if (!team.ok()) return team.status();
  // As the team profile: the team's conveners hand history over.
  if (team->coordinator_account_id() != self && team->case_manager_account_id() != self) return 0;
  const v1::Member* me = ActingMember(*team, self);
  const v1::Member* them = ActingMember(*team, account_id);
  if (!IsActive(me) || !IsActive(them)) return 0;

  const v1::HistoryVisibility& visibility = team->history_visibility();
  HistoryQuery query;
  query.team_id = team_id;
  switch (visibility.scope()) {
    case v1::HistoryVisibility::SCOPE_FROM_JOINING:
      return 0;
    case v1::HistoryVisibility::SCOPE_LAST_DAYS:
      query.since_ms = absl::ToUnixMillis(absl::Now() - absl::Hours(24) * visibility.days());
      break;
    default:
      break;  // the whole pathway
  }
  // Only what both read: the builder cannot give what it does not hold,
  // nor anything the newcomer's role may not read (the server checks the
  // same when the hand-over is recorded).
  std::vector<v1::Channel> channels;
  for (v1::Channel c : kTeamChannels) {
    if (CanRead(*me, c) && CanRead(*them, c)) {
      channels.push_back(c);
      query.channels.push_back(c);
    }
  }
  if (channels.empty()) return 0;
  auto entries = history_.List(query);
  if (!entries.ok()) return entries.status();
  if (entries->empty()) return 0;

  v1::HistoryBundle bundle;
  bundle.set_team_id(team_id);
  bundle.set_recipient_account_id(account_id);
  bundle.set_built_at_ms(absl::ToUnixMillis(absl::Now()));
  for (v1::HistoryEntry& e : *entries) *bundle.add_entries() = std::move(e);
  absl::Status s = Send(bundle, account_id, /*for_device_id=*/0);
  if (!s.ok()) return s;

  v1::RecordHistorySharedRequest record;
  record.set_team_id(team_id);
  record.set_recipient_account_id(account_id);
  record.set_entry_count(bundle.entries_size());
  record.set_from_ms(bundle.entries(0).content().sent_at_ms());
  for (v1::Channel c : channels) record.add_channels(c);
  s = relay_->RecordHistoryShared(record);
  if (!s.ok()) return s;
  s = profile_->PutRecord(kHandedOverRecord, handed_key, "");
  if (!s.ok()) return s;
  return bundle.entries_size();
}

absl::Status HistoryHandover::Send(const v1::HistoryBundle& bundle, const std::string& account_id,
                                   uint32_t for_device_id) {
  // A document of #team, which every member reads: the blob is useless
  // without its key, which goes to the recipient's devices only.
  auto pointer =
      transfer_->UploadBlob(bundle.team_id(), v1::CHANNEL_TEAM, bundle.SerializeAsString(),
                            "history.bundle", kHistoryBundleMediaType);
  if (!pointer.ok()) return pointer.status();
  v1::Content content;
  v1::HistoryShare* share = content.mutable_history_share();
  share->set_team_id(bundle.team_id());
  *share->mutable_bundle() = *pointer;
  share->set_for_device_id(for_device_id);
  return messenger_->SendContent(account_id, content).status();
}

absl::StatusOr<int> HistoryHandover::OfferToNewDevice(uint32_t device_id) {
  const crypto::Address& self = messenger_->self();
  if (device_id == self.device_id) return 0;
  auto teams = relay_->ListTeams();
  if (!teams.ok()) return teams.status();
  int handed = 0;
  for (const v1::Team& team : *teams) {
    const std::string handed_key = absl::StrCat("device/", device_id, "/", team.team_id());
    auto done = profile_->GetRecord(kHandedOverRecord, handed_key);
    if (!done.ok()) return done.status();
    const v1::Member* me = ActingMember(team, self.account_id);
    if (done->has_value() || !IsActive(me)) continue;
    HistoryQuery query;
    query.team_id = team.team_id();
    for (v1::Channel c : kTeamChannels) {
      if (CanRead(*me, c)) query.channels.push_back(c);
    }
    if (query.channels.empty()) continue;
    auto entries = history_.List(query);
    if (!entries.ok()) return entries.status();
    if (!entries->empty()) {
      v1::HistoryBundle bundle;
      bundle.set_team_id(team.team_id());
      bundle.set_recipient_account_id(self.account_id);
      bundle.set_built_at_ms(absl::ToUnixMillis(absl::Now()));
      for (v1::HistoryEntry& e : *entries) *bundle.add_entries() = std::move(e);
      absl::Status s = Send(bundle, self.account_id, device_id);
      if (!s.ok()) return s;
      handed += bundle.entries_size();
    }
    absl::Status s = profile_->PutRecord(kHandedOverRecord, handed_key, "");
    if (!s.ok()) return s;
  }
  return handed;
}

absl::StatusOr<int> HistoryHandover::Take(const ReceivedMessage& m) {
  const v1::HistoryShare& share = m.content.history_share();
  const std::string self = messenger_->self().account_id;
  // This account's copy of a bundle it handed over from another device.
  if (m.sender.account_id == self && !m.content.sync_for_account_id().empty()) return 0;
  // From one of this account's devices to a new one: only that one takes
  // it; from anyone else, it is not theirs to address to a device.
  const bool own_device = share.for_device_id() != 0;
  if (own_device && m.sender.account_id != self) {
    return absl::InvalidArgumentError(
        "history addressed to one of this account's devices came from another account");
  }
  if (own_device && share.for_device_id() != messenger_->self().device_id) return 0;
  if (m.envelope.type() == v1::ENVELOPE_TYPE_SENDER_KEY_MESSAGE || !m.content.group_id().empty()) {
    return absl::InvalidArgumentError(
        "history came in a group message and was ignored: it must come over a pairwise session");
  }
  if (share.team_id().empty() || share.bundle().team_id() != share.team_id()) {
    return absl::InvalidArgumentError("history that does not name its team was ignored");
  }
  auto team = messenger_->FetchTeam(share.team_id());
  if (!team.ok()) return team.status();
  const v1::Member* sender = ActingMember(*team, m.sender.account_id);
  const v1::Member* me = ActingMember(*team, self);
  if ((!own_device && !IsActive(sender)) || !IsActive(me)) {
    return absl::PermissionDeniedError(
        "history from someone who is not an active member of the team was ignored");
  }
  auto blob = transfer_->FetchBlob(share.bundle());
  if (!blob.ok()) return blob.status();
  v1::HistoryBundle bundle;
  if (!bundle.ParseFromString(*blob) || bundle.team_id() != share.team_id()) {
    return absl::DataLossError("a history bundle that does not parse was ignored");
  }
  std::string sender_name = sender != nullptr ? sender->display_name() : "";
  if (const v1::StaffOnDuty* staff = sender ? OnDuty(*sender, m.sender.account_id) : nullptr) {
    sender_name = absl::StrCat(staff->display_name(), " (", sender->display_name(), ")");
  }
  int kept = 0;
  for (v1::HistoryEntry& e : *bundle.mutable_entries()) {
    // Whatever the builder put in: this team, channels this role reads.
    if (e.team_id() != share.team_id() || !CanRead(*me, static_cast<v1::Channel>(e.channel())) ||
        !History::Keeps(e.content())) {
      continue;
    }
    if (e.content().has_notebook_entry() && !CheckNotebookEntry(history_, e).ok()) continue;
    if (e.content().has_attachment()) {
      const v1::AttachmentPointer& a = e.content().attachment();
      if (a.team_id() != e.team_id() || a.channel() != e.channel()) continue;
      absl::Status s = messenger_->KeepAttachment(a);
      if (!s.ok() && !absl::IsAlreadyExists(s) && !absl::IsInvalidArgument(s)) return s;
      if (!s.ok()) continue;
    }
    // The same person's history, from another of their devices, is theirs;
    // anyone else's hand-over is marked as such.
    if (!own_device) {
      e.set_shared_by_account_id(m.sender.account_id);
      e.set_shared_by_name(sender_name);
    }
    auto fresh = history_.KeepIfNew(e);
    if (!fresh.ok()) return fresh.status();
    if (*fresh) ++kept;
  }
  return kept;
}

}  // namespace carerelay::client
