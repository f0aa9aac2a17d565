// Attachments: the server's side of document sharing. It holds ciphertext
// it cannot read (the key travels end-to-end, content.proto), decides who may
// upload and download it, and deletes it on time. attachments.proto is the
// contract; this is where its rules are decided.
//
// Upload. CreateUpload checks that the caller may post on the team channel
// and that the declared size is within Limits::max_attachment_bytes, before
// any byte is stored. An UploadWriter then appends ciphertext; it commits
// whole blocks (store/attachment_table.h) about every megabyte, so a cut
// stream keeps what was committed and the client resumes from
// `received_bytes`. When the last byte is in, the stored bytes' SHA-256 must
// be the declared digest: then the attachment is complete and its retention
// starts; otherwise its bytes are discarded (DATA_LOSS) and the upload
// starts over from 0.
//
// Upload rate. Each account has a budget of ciphertext bytes
// (Limits::upload_bytes_per_second, upload_byte_burst), shared by its
// devices, charged for each upload message as it arrives. Charged then, not
// at CreateUpload for the declared size: a resumed upload pays only for the
// bytes it sends again, an abandoned one only for what it sent, and what
// loads the store (and so everyone else's sends) is the bytes written, when
// they are written. A message the budget cannot pay is refused with
// RESOURCE_EXHAUSTED and ErrorDetail.retry_after_seconds; the whole blocks
// received before it are committed first, exactly as for a cut stream, so
// the client waits and resumes from `received_bytes`.
//
// Download. Only active members whose role may read the channel now; every
// download is written to the team's audit log before the first byte goes.
//
// Deletion. Unfinished uploads after Limits::attachment_upload_timeout,
// complete ones after Limits::attachment_retention (RunExpiry), all of a
// team's when it is erased (TeamData, called by CareTeams inside the erase
// transaction). Deleted bytes are purged from the store's files.
//
// Errors: as listed in attachments.proto.
//
// Thread-safety: thread-safe. An UploadWriter belongs to one thread (one
// stream); two streams on one attachment are serialised by the record's
// lock, and the second to commit is told where the first left it.
#ifndef CARERELAY_SERVER_CORE_ATTACHMENTS_H_
#define CARERELAY_SERVER_CORE_ATTACHMENTS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "carerelay/v1/attachments.pb.h"
#include "server/core/care_teams.h"
#include "server/core/clock.h"
#include "server/core/limits.h"
#include "server/core/rate_limiter.h"
#include "server/store/attachment_table.h"
#include "server/store/database.h"

namespace carerelay::core {

class Attachments;

// One upload stream. Append as bytes arrive, then Finish when the client
// closes the stream; destroying it without Finish (a cut stream) keeps the
// whole blocks committed so far and drops the rest.
class UploadWriter {
 private:
  // Only Attachments::BeginUpload makes one (public for std::make_unique).
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  UploadWriter(PrivateTag, Attachments* owner, store::AttachmentRecord record);
  UploadWriter(const UploadWriter&) = delete;
  UploadWriter& operator=(const UploadWriter&) = delete;
  ~UploadWriter() = default;

  // RESOURCE_EXHAUSTED past the declared size (no retry-after: the request
  // is wrong); RESOURCE_EXHAUSTED with ErrorDetail.retry_after_seconds when
  // the account's upload byte budget cannot pay for `data`: then `data` is
  // not kept, the whole blocks before it are committed (the client resumes
  // from `received_bytes` after the wait) and the part block after them is
  // dropped, as on a cut; INVALID_ARGUMENT for a piece above 4 MiB; the
  // store's errors. After an error the writer is done: later calls return
  // it.
  absl::Status Append(absl::string_view data);
  // Commits what is whole and, if every byte is in, checks the digest and
  // completes the attachment. Returns where the upload stands (not complete
  // if the client stopped early). DATA_LOSS on a digest mismatch.
  absl::StatusOr<v1::AttachmentInfo> Finish();
  // Commits the whole blocks received (a cut stream). Idempotent.
  absl::Status Abandon();

 private:
  friend class Attachments;
  absl::Status CommitWholeBlocks(bool last);
  // The refusal of a piece the upload byte budget cannot pay for `wait`,
  // after committing the whole blocks received before it.
  absl::Status RefuseOverBudget(absl::Duration wait);

  Attachments* owner_;
  store::AttachmentRecord record_;  // as committed
  std::string pending_;             // bytes after record_.received_bytes()
  absl::Status failure_;
};

class Attachments : public TeamData {
 public:
  // All pointers must outlive this object.
  Attachments(store::Database* db, store::AttachmentTable* table, CareTeams* teams,
              const Clock* clock, const Limits& limits);

  absl::StatusOr<v1::AttachmentInfo> CreateUpload(const store::DeviceRef& caller,
                                                  const v1::CreateUploadRequest& request);
  // The uploader sees their upload in any state; readers of the channel see
  // a complete attachment. NOT_FOUND otherwise.
  absl::StatusOr<v1::AttachmentInfo> Get(const store::DeviceRef& caller,
                                         absl::string_view attachment_id) const;
  // Starts a stream at `offset`, which must be the upload's received_bytes
  // (FAILED_PRECONDITION naming it otherwise). The uploader only.
  absl::StatusOr<std::unique_ptr<UploadWriter>> BeginUpload(const store::DeviceRef& caller,
                                                            absl::string_view attachment_id,
                                                            uint64_t offset);
  // Checks access, records the download in the audit log (a device's first
  // download of an attachment each day: resumed and repeated downloads
  // the same day add no entry, so a download loop cannot fill the log),
  // then calls
  // `send(offset, bytes)` with the ciphertext from `offset` to the end, in
  // pieces of at most one block, until send returns false (the client went
  // away). OUT_OF_RANGE for an offset past the end.
  absl::Status Download(const store::DeviceRef& caller, absl::string_view attachment_id,
                        uint64_t offset,
                        const std::function<bool(uint64_t, absl::string_view)>& send);

  // Deletes expired uploads and attachments and purges their bytes; returns
  // how many.
  absl::StatusOr<uint64_t> DeleteExpired();

  // TeamData.
  // Deletes the team's attachments; counts them in attachments_deleted.
  absl::Status DeleteForErasure(store::Transaction& txn, const store::TeamId& team,
                                v1::EraseTeamResponse* counts) override;
  // Queues the purge of the team's bytes, if it had any, for PurgeErased:
  // a purge flushes the whole store and compacts, which has no place in a
  // request (a loop of create and erase would stall every write).
  void PurgeAfterErasure(const store::TeamId& team) override;
  // Purges the bytes of every team erased since the last call, in one
  // flush and one non-exclusive compaction per team's range (the server's
  // expiry loop runs it, every --expiry-interval). Returns how many teams.
  absl::StatusOr<size_t> PurgeErased();
  // Erased teams whose bytes wait for PurgeErased.
  size_t pending_purges() const;

 private:
  friend class UploadWriter;
  // RESOURCE_EXHAUSTED if `caller` has too many unfinished uploads, or its
  // account would hold more than its quota with `size` more bytes.
  absl::Status CheckQuota(const store::DeviceRef& caller, uint64_t size, int64_t now_ms) const;
  absl::StatusOr<store::AttachmentRecord> Find(absl::string_view attachment_id) const;
  v1::AttachmentInfo Info(const store::AttachmentRecord& record) const;
  // The SHA-256 of the stored blocks.
  absl::StatusOr<std::string> StoredDigest(const store::AttachmentRecord& record) const;

  store::Database* db_;
  store::AttachmentTable* table_;
  CareTeams* teams_;
  const Clock* clock_;
  const Limits limits_;
  // Upload byte budgets (Limits::upload_bytes_per_second, upload_byte_burst),
  // keyed by the uploader's account id (raw bytes).
  RateLimiter upload_bytes_;
  // Whether `caller`'s download of `attachment_id` is already in today's
  // audit log; if not, notes that it now is (after RecordDownload).
  bool RecordedToday(const store::DeviceRef& caller, absl::string_view attachment_id) const;
  void NoteRecorded(const store::DeviceRef& caller, absl::string_view attachment_id);

  mutable absl::Mutex recorded_mu_;
  // Downloads recorded in the audit log on day `recorded_day_` (UTC days
  // since the epoch); emptied when the day turns. In memory: a restart
  // records a download again, which costs one entry, never a missing one.
  int64_t recorded_day_ ABSL_GUARDED_BY(recorded_mu_) = 0;
  absl::flat_hash_set<std::pair<store::DeviceRef, std::string>> recorded_
      ABSL_GUARDED_BY(recorded_mu_);
  mutable absl::Mutex purge_mu_;
  // Teams whose erasure deleted attachments, until their erasure committed.
  absl::flat_hash_set<store::TeamId> erased_with_bytes_ ABSL_GUARDED_BY(purge_mu_);
  std::vector<store::TeamId> to_purge_ ABSL_GUARDED_BY(purge_mu_);
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_ATTACHMENTS_H_
