// Attachments' records and their ciphertext, stored in blocks.
//
// Key encodings:
//   attachments:        'a' | attachment_id (16)                -> AttachmentRecord
//                       't' | team_id (16) | attachment_id (16)  -> "" (a team's attachments)
//                       'x' | expires_at_ms (8, BE) | attachment_id (16) -> "" (expiry order)
//   attachment_blocks:  team_id (16) | attachment_id (16) | block index (8, BE)
//                       -> ciphertext bytes
// Blocks are keyed by team first so that all of a team's bytes are one key
// range: erasing a team deletes and purges that range.
// Block i holds ciphertext bytes [i * kBlockBytes, (i + 1) * kBlockBytes);
// every block is full except the last block of a complete attachment, so an
// offset maps to its block by division and a resumed upload appends whole
// blocks. The 't' and 'x' keys are derived from the record and rewritten
// with it (Put), so they cannot drift from it.
//
// Thread-safety: thread-safe (stateless over Database).
#ifndef CARERELAY_SERVER_STORE_ATTACHMENT_TABLE_H_
#define CARERELAY_SERVER_STORE_ATTACHMENT_TABLE_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "server/store/database.h"
#include "server/store/ids.h"
#include "server/store/records.pb.h"

namespace carerelay::store {

class AttachmentTable {
 public:
  // One sealed attachment chunk (64 KiB + a 16-byte tag, see
  // crypto/attachment_cipher.h): a resumed download that restarts at a
  // chunk boundary starts at a block boundary too.
  static constexpr uint64_t kBlockBytes = 64 * 1024 + 16;

  explicit AttachmentTable(Database* db) : db_(db) {}

  // NOT_FOUND if there is no such attachment.
  absl::StatusOr<AttachmentRecord> Get(const AttachmentId& id) const;
  // Reads and locks the record until the transaction ends.
  absl::StatusOr<AttachmentRecord> GetForUpdate(Transaction& txn, const AttachmentId& id);
  // Writes `after` and its index keys; `before` is the record as read in this
  // transaction (nullptr for a new attachment).
  absl::Status Put(Transaction& txn, const AttachmentRecord* before, const AttachmentRecord& after);
  // Deletes the record, its index keys and every block.
  absl::Status Delete(Transaction& txn, const AttachmentRecord& record);

  absl::Status PutBlock(Transaction& txn, const AttachmentRecord& record, uint64_t index,
                        absl::string_view data);
  // Deletes every block (an upload whose digest did not match starts over).
  absl::Status DeleteBlocks(Transaction& txn, const AttachmentRecord& record);
  // Calls fn(index, data) for the blocks from `first`, in order, until fn
  // returns false. A consistent snapshot of the blocks.
  absl::Status ScanBlocks(const AttachmentRecord& record, uint64_t first,
                          const std::function<bool(uint64_t, absl::string_view)>& fn) const;

  // Deletes every attachment of `team`, records and blocks; returns how many.
  absl::StatusOr<uint64_t> DeleteTeam(Transaction& txn, const TeamId& team);
  // Attachments whose expiry is at or before `now_ms`, oldest first, at most
  // `limit`.
  absl::StatusOr<std::vector<AttachmentId>> ExpiredBy(int64_t now_ms, size_t limit) const;
  // Every attachment's record, in id order, until fn returns false.
  absl::Status ForEach(const std::function<bool(const AttachmentRecord&)>& fn) const;

  // Removes the deleted blocks of these attachments (or of every attachment
  // of a team) from the store's files (Database::Purge): call after the
  // deletion committed, once for the batch.
  absl::Status Purge(const std::vector<AttachmentRecord>& deleted);
  absl::Status PurgeTeams(const std::vector<TeamId>& teams);

 private:
  Database* db_;
};

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_ATTACHMENT_TABLE_H_
