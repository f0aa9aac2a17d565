// History: what this device has received and sent, kept so that a care
// team remembers — every team channel's messages, document pointers and
// liaison-notebook entries, and the direct conversations, in order, with who
// wrote them and in which role (content.proto, HistoryEntry).
//
// Where it lives. In the profile's store (crypto/profile_store.h), one
// application record per entry, sealed at rest under the passphrase-derived
// key like the Signal keys. What RocksDB needs in clear is the record key:
// the team id (or the other person's account id), the channel, the sender's
// send time and the message id, never a word of the content. That is why
// search does not keep a word index: its keys would be the words. It reads
// the conversation's entries and matches them instead, which takes a few
// milliseconds for the thousands of entries a team gathers in a year.
//
// Order. Entries of a conversation are ordered by the sender's send time
// (Content.sent_at_ms), then message id: the same on every device, so an
// entry kept twice (a message shown again after a crash, or handed over by
// two devices) is one record, and every device lists a thread alike.
//
// Durability. Keep writes through the profile, so inside
// ProfileStore::WriteAtomically it commits with the rest of the write. The
// messenger keeps an entry before it drops the envelope from its inbox
// (messenger.h, Receive): an acknowledged message is in the history or
// still in the inbox, never lost.
//
// Thread-safety: as the profile store (all methods thread-safe).
// Ownership: borrows the profile, which must outlive it.
#ifndef CARERELAY_CLIENT_HISTORY_H_
#define CARERELAY_CLIENT_HISTORY_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "carerelay/v1/content.pb.h"
#include "crypto/profile_store.h"

namespace carerelay::client {

// Which entries to list.
struct HistoryQuery {
  // A team's history, or (when empty) the conversation with `peer_account_id`.
  std::string team_id;
  std::string peer_account_id;
  // Only these channels of the team (v1::Channel values); every channel when
  // empty.
  std::vector<int> channels;
  // Every word (folded: "deces" finds "décès") must appear in the entry's
  // text, notebook entry, document name or caption, or sender's name.
  std::string search;
  // Entries sent at or after this time (Unix ms); 0: from the start.
  int64_t since_ms = 0;
  // The last `limit` entries of what matches, oldest first; 0: all.
  size_t limit = 0;
};

class History {
 public:
  explicit History(crypto::ProfileStore* profile);

  // Keeps `entry`. It must name a team and a channel, or a peer, and its
  // content must have a message id and a body (text, attachment or notebook
  // entry): INVALID_ARGUMENT otherwise. Keeping the same entry again (same
  // conversation, send time and message id) replaces it: harmless.
  // ALREADY_EXISTS if the entry held there is another sender's (a forged
  // message id); the held one stays.
  // Errors of the profile store (INTERNAL, DATA_LOSS).
  absl::Status Keep(const v1::HistoryEntry& entry);
  // Keeps `entry` unless one is held under its key already (an entry handed
  // over by another device never replaces what this one received itself).
  // True if kept; errors as Keep, never ALREADY_EXISTS.
  absl::StatusOr<bool> KeepIfNew(const v1::HistoryEntry& entry);

  // The entries `query` asks for, oldest first. INVALID_ARGUMENT when it
  // names neither a team nor a peer; DATA_LOSS when a record does not
  // decrypt or parse (the profile is damaged).
  absl::StatusOr<std::vector<v1::HistoryEntry>> List(const HistoryQuery& query) const;

  // The entry of `team_id` whose content has `message_id`; nullopt if none.
  absl::StatusOr<std::optional<v1::HistoryEntry>> Find(const std::string& team_id,
                                                       const std::string& message_id) const;

  // Forgets everything kept of `team_id` (this account left it, or it was
  // erased). OK if there was nothing.
  absl::Status ForgetTeam(const std::string& team_id);

  // Whether `content` is something a history keeps: a text, a document or a
  // notebook entry (not a receipt, a sender key, a team profile...).
  static bool Keeps(const v1::Content& content);

 private:
  // Keep and KeepIfNew: `replace` says what to do with an entry of the
  // same sender held under the key.
  absl::StatusOr<bool> Put(const v1::HistoryEntry& entry, bool replace);

  crypto::ProfileStore* profile_;
};

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_HISTORY_H_
