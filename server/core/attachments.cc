#include "server/core/attachments.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace carerelay::core {
namespace {

using store::AttachmentRecord;
using store::AttachmentTable;

constexpr size_t kDigestSize = 32;
// Bytes buffered before a commit: 16 blocks. Larger means fewer synced
// commits per upload; smaller means less lost (and re-sent) when a stream is
// cut.
constexpr size_t kCommitBytes = 16 * AttachmentTable::kBlockBytes;
// Bytes in one upload message (attachments.proto): what one stream may hold
// in memory beyond a commit's worth.
constexpr size_t kMaxPieceBytes = 4 << 20;
// Attachments deleted per expiry transaction batch.
constexpr size_t kExpiryBatch = 256;

std::string Mib(uint64_t bytes) {
  return absl::StrCat(bytes >> 20, ".", ((bytes & ((1 << 20) - 1)) * 10) >> 20, " MiB");
}

absl::Status Deleted() {
  return absl::NotFoundError(
      "this attachment no longer exists (its upload expired or its team was erased): send "
      "the file again");
}

struct EvpMdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

}  // namespace

Attachments::Attachments(store::Database* db, store::AttachmentTable* table, CareTeams* teams,
                         const Clock* clock, const Limits& limits)
    : db_(db),
      table_(table),
      teams_(teams),
      clock_(clock),
      limits_(limits),
      upload_bytes_(clock, "upload bytes of this account", limits.upload_bytes_per_second,
                    limits.upload_byte_burst) {}

absl::StatusOr<AttachmentRecord> Attachments::Find(absl::string_view attachment_id) const {
  auto id = store::AttachmentId::FromHex(attachment_id);
  if (!id.ok()) return id.status();
  auto record = table_->Get(*id);
  if (absl::IsNotFound(record.status())) {
    return absl::NotFoundError(
        absl::StrCat("no attachment ", attachment_id, " (or you may not see it)"));
  }
  return record;
}

v1::AttachmentInfo Attachments::Info(const AttachmentRecord& r) const {
  v1::AttachmentInfo info;
  info.set_attachment_id(absl::BytesToHexString(r.attachment_id()));
  info.set_team_id(absl::BytesToHexString(r.team_id()));
  info.set_channel(static_cast<v1::Channel>(r.channel()));
  info.set_ciphertext_size(r.ciphertext_size());
  info.set_digest(r.digest());
  info.set_received_bytes(r.received_bytes());
  info.set_state(r.complete() ? v1::UPLOAD_STATE_COMPLETE : v1::UPLOAD_STATE_UPLOADING);
  info.set_uploader_account_id(absl::BytesToHexString(r.uploader_account_id()));
  info.set_created_at_ms(r.created_at_ms());
  info.set_expires_at_ms(r.expires_at_ms());
  return info;
}

absl::Status Attachments::CheckQuota(const store::DeviceRef& caller, uint64_t size,
                                     int64_t now_ms) const {
  // A scan of the records (not the blocks): uploads are rare next to
  // messages, and this keeps no counter to get wrong across expiry and
  // erasure.
  uint64_t held = 0;
  size_t open = 0;
  absl::Status s = table_->ForEach([&](const AttachmentRecord& r) {
    if (r.uploader_account_id() != caller.account.Bytes() || r.expires_at_ms() <= now_ms) {
      return true;
    }
    held += r.ciphertext_size();
    if (!r.complete() && r.uploader_device_id() == caller.device_id) ++open;
    return true;
  });
  if (!s.ok()) return s;
  if (open >= limits_.max_open_uploads_per_device) {
    return absl::ResourceExhaustedError(
        absl::StrCat("this device already has ", open, " unfinished uploads (the limit is ",
                     limits_.max_open_uploads_per_device, "): finish or let them expire first"));
  }
  if (held + size > limits_.max_attachment_bytes_per_account) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "your documents on the server already take ", Mib(held), "; with this one (", Mib(size),
        ") they would pass your quota of ", Mib(limits_.max_attachment_bytes_per_account),
        " (--max-attachment-mib-per-account); they free up as they expire"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::AttachmentInfo> Attachments::CreateUpload(
    const store::DeviceRef& caller, const v1::CreateUploadRequest& request) {
  auto team = store::TeamId::FromHex(request.team_id());
  if (!team.ok()) return team.status();
  if (request.digest().size() != kDigestSize) {
    return absl::InvalidArgumentError(absl::StrCat("the digest is the SHA-256 of the ciphertext, ",
                                                   kDigestSize, " bytes; got ",
                                                   request.digest().size()));
  }
  if (request.ciphertext_size() == 0) {
    return absl::InvalidArgumentError("an attachment's ciphertext is never empty");
  }
  absl::Status s = teams_->CheckMayPost(caller, *team, request.channel());
  if (!s.ok()) return s;
  // Before anything is stored: a file the relay will not take is refused
  // before its first byte crosses a slow connection.
  if (request.ciphertext_size() > limits_.max_attachment_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "this file is ", Mib(request.ciphertext_size()), " encrypted; attachments are ",
        "limited to ", Mib(limits_.max_attachment_bytes),
        " (--max-attachment-mib): split or compress it"));
  }
  const int64_t now = clock_->NowMs();
  s = CheckQuota(caller, request.ciphertext_size(), now);
  if (!s.ok()) return s;
  AttachmentRecord record;
  record.set_attachment_id(std::string(store::AttachmentId::Random().Bytes()));
  record.set_team_id(std::string(team->Bytes()));
  record.set_channel(request.channel());
  record.set_uploader_account_id(std::string(caller.account.Bytes()));
  record.set_uploader_device_id(caller.device_id);
  record.set_ciphertext_size(request.ciphertext_size());
  record.set_digest(request.digest());
  record.set_created_at_ms(now);
  record.set_expires_at_ms(now + absl::ToInt64Milliseconds(limits_.attachment_upload_timeout));
  auto txn = db_->Begin();
  s = table_->Put(*txn, nullptr, record);
  if (s.ok()) s = txn->Commit();
  if (!s.ok()) return s;
  return Info(record);
}

absl::StatusOr<v1::AttachmentInfo> Attachments::Get(const store::DeviceRef& caller,
                                                    absl::string_view attachment_id) const {
  auto record = Find(attachment_id);
  if (!record.ok()) return record.status();
  if (record->uploader_account_id() == caller.account.Bytes()) return Info(*record);
  auto team = store::TeamId::FromBytes(record->team_id());
  if (!team.ok()) return team.status();
  absl::Status s = teams_->CheckMayRead(caller, *team, static_cast<v1::Channel>(record->channel()));
  if (!record->complete() || absl::IsNotFound(s)) {
    return absl::NotFoundError(
        absl::StrCat("no attachment ", attachment_id, " (or you may not see it)"));
  }
  if (!s.ok()) return s;
  return Info(*record);
}

absl::StatusOr<std::unique_ptr<UploadWriter>> Attachments::BeginUpload(
    const store::DeviceRef& caller, absl::string_view attachment_id, uint64_t offset) {
  auto record = Find(attachment_id);
  if (!record.ok()) return record.status();
  if (record->uploader_account_id() != caller.account.Bytes()) {
    return absl::NotFoundError(
        absl::StrCat("no attachment ", attachment_id, " (or you may not see it)"));
  }
  if (record->complete()) {
    return absl::FailedPreconditionError("this upload is complete already: nothing to send");
  }
  if (offset != record->received_bytes()) {
    // ABORTED, not FAILED_PRECONDITION: a stream cut a moment ago may still
    // be committing its last blocks; asking again gives the answer.
    return absl::AbortedError(absl::StrCat("the relay holds ", record->received_bytes(),
                                           " bytes of this upload: continue from offset ",
                                           record->received_bytes()));
  }
  // The uploader may have lost the right to post since the upload began.
  auto team = store::TeamId::FromBytes(record->team_id());
  if (!team.ok()) return team.status();
  absl::Status s = teams_->CheckMayPost(caller, *team, static_cast<v1::Channel>(record->channel()));
  if (!s.ok()) return s;
  return std::make_unique<UploadWriter>(UploadWriter::PrivateTag(), this, *std::move(record));
}

UploadWriter::UploadWriter(PrivateTag, Attachments* owner, AttachmentRecord record)
    : owner_(owner), record_(std::move(record)) {}

absl::Status UploadWriter::Append(absl::string_view data) {
  if (!failure_.ok()) return failure_;
  if (data.size() > kMaxPieceBytes) {
    return failure_ = absl::InvalidArgumentError(absl::StrCat("an upload message carries at most ",
                                                              kMaxPieceBytes >> 20,
                                                              " MiB; send smaller pieces"));
  }
  const uint64_t have = record_.received_bytes() + pending_.size();
  if (data.size() > record_.ciphertext_size() - have) {
    failure_ = absl::ResourceExhaustedError(absl::StrCat("the stream carries more than the ",
                                                         record_.ciphertext_size(),
                                                         " bytes declared for this attachment"));
    return failure_;
  }
  // Charged per account, after the checks above (a piece that is refused
  // anyway costs nothing) and before the bytes are kept. A piece larger
  // than the whole burst (only with Limits set in code: the configuration
  // keeps the burst at least the largest document) costs the burst, or it
  // could never pass.
  if (!data.empty()) {
    const double cost = std::min(static_cast<double>(data.size()), owner_->upload_bytes_.burst());
    if (auto wait = owner_->upload_bytes_.TryTake(record_.uploader_account_id(), cost)) {
      return RefuseOverBudget(*wait);
    }
  }
  pending_.append(data.data(), data.size());
  if (pending_.size() >= kCommitBytes) return CommitWholeBlocks(/*last=*/false);
  return absl::OkStatus();
}

absl::Status UploadWriter::CommitWholeBlocks(bool last) {
  if (!failure_.ok()) return failure_;
  const uint64_t block = AttachmentTable::kBlockBytes;
  const bool ends = record_.received_bytes() + pending_.size() == record_.ciphertext_size();
  size_t take = pending_.size() / block * block;
  if (last && ends) take = pending_.size();
  if (take == 0) return absl::OkStatus();

  auto id = store::AttachmentId::FromBytes(record_.attachment_id());
  if (!id.ok()) return failure_ = id.status();
  auto txn = owner_->db_->Begin();
  auto current = owner_->table_->GetForUpdate(*txn, *id);
  if (absl::IsNotFound(current.status())) return failure_ = Deleted();
  if (!current.ok()) return failure_ = current.status();
  if (current->complete() || current->received_bytes() != record_.received_bytes()) {
    return failure_ = absl::AbortedError(
               absl::StrCat("another upload stream of this attachment moved it to ",
                            current->received_bytes(), " bytes: continue from there"));
  }
  AttachmentRecord after = *current;
  uint64_t index = record_.received_bytes() / block;
  for (size_t at = 0; at < take; at += block, ++index) {
    const size_t n = std::min<size_t>(block, take - at);
    absl::Status s =
        owner_->table_->PutBlock(*txn, after, index, absl::string_view(pending_).substr(at, n));
    if (!s.ok()) return failure_ = s;
  }
  after.set_received_bytes(after.received_bytes() + take);
  absl::Status s = owner_->table_->Put(*txn, &*current, after);
  if (s.ok()) s = txn->Commit();
  if (!s.ok()) return failure_ = s;
  record_ = std::move(after);
  pending_.erase(0, take);
  return absl::OkStatus();
}

absl::Status UploadWriter::RefuseOverBudget(absl::Duration wait) {
  // What was received before this piece is kept as on a cut, so that the
  // wait costs the client nothing but the part block it sends again.
  absl::Status s = CommitWholeBlocks(/*last=*/false);
  if (!s.ok()) return s;  // failure_ already
  pending_.clear();
  return failure_ = RetryAfterError(
             absl::StrCat("this account is uploading faster than its budget of ",
                          Mib(static_cast<uint64_t>(owner_->upload_bytes_.rate_per_second())),
                          " a second (after ",
                          Mib(static_cast<uint64_t>(owner_->upload_bytes_.burst())),
                          " at once; --upload-mib-per-second, --upload-burst-mib); the relay "
                          "holds ",
                          record_.received_bytes(), " bytes of this upload: continue from offset ",
                          record_.received_bytes(), " after the wait"),
             wait);
}

absl::Status UploadWriter::Abandon() {
  if (!failure_.ok()) return failure_;
  absl::Status s = CommitWholeBlocks(/*last=*/false);
  pending_.clear();
  return s;
}

absl::StatusOr<v1::AttachmentInfo> UploadWriter::Finish() {
  absl::Status s = CommitWholeBlocks(/*last=*/true);
  if (!s.ok()) return s;
  pending_.clear();  // a part block the client left: sent again on resume
  if (record_.received_bytes() < record_.ciphertext_size()) return owner_->Info(record_);

  // Every byte is in: only the declared digest makes it an attachment.
  auto digest = owner_->StoredDigest(record_);
  if (!digest.ok()) return digest.status();
  auto id = store::AttachmentId::FromBytes(record_.attachment_id());
  if (!id.ok()) return id.status();
  auto txn = owner_->db_->Begin();
  auto current = owner_->table_->GetForUpdate(*txn, *id);
  if (absl::IsNotFound(current.status())) return Deleted();
  if (!current.ok()) return current.status();
  if (current->complete()) return owner_->Info(*current);
  AttachmentRecord after = *current;
  const bool intact = *digest == current->digest();
  if (intact) {
    after.set_complete(true);
    after.set_expires_at_ms(owner_->clock_->NowMs() +
                            absl::ToInt64Milliseconds(owner_->limits_.attachment_retention));
  } else {
    s = owner_->table_->DeleteBlocks(*txn, after);
    if (!s.ok()) return s;
    after.set_received_bytes(0);
  }
  s = owner_->table_->Put(*txn, &*current, after);
  if (s.ok()) s = txn->Commit();
  if (!s.ok()) return s;
  record_ = after;
  if (!intact) {
    return failure_ = absl::DataLossError(
               "the uploaded bytes do not match the declared digest, so the relay discarded "
               "them: upload the file again");
  }
  return owner_->Info(record_);
}

absl::StatusOr<std::string> Attachments::StoredDigest(const AttachmentRecord& record) const {
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("OpenSSL: cannot start SHA-256");
  }
  uint64_t expected = 0;
  bool ok = true;
  absl::Status s = table_->ScanBlocks(record, 0, [&](uint64_t index, absl::string_view data) {
    ok = index == expected++ && EVP_DigestUpdate(ctx.get(), data.data(), data.size()) == 1;
    return ok;
  });
  if (!s.ok()) return s;
  if (!ok) return absl::DataLossError("a stored block of this attachment is missing");
  std::string digest(kDigestSize, '\0');
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(digest.data()), &n) != 1) {
    return absl::InternalError("OpenSSL: cannot finish SHA-256");
  }
  return digest;
}

namespace {
constexpr int64_t kDayMs = 24 * 60 * 60 * 1000;
}  // namespace

bool Attachments::RecordedToday(const store::DeviceRef& caller,
                                absl::string_view attachment_id) const {
  absl::MutexLock lock(&recorded_mu_);
  return recorded_day_ == clock_->NowMs() / kDayMs &&
         recorded_.contains(std::make_pair(caller, std::string(attachment_id)));
}

void Attachments::NoteRecorded(const store::DeviceRef& caller, absl::string_view attachment_id) {
  absl::MutexLock lock(&recorded_mu_);
  const int64_t today = clock_->NowMs() / kDayMs;
  if (recorded_day_ != today) {
    recorded_.clear();
    recorded_day_ = today;
  }
  recorded_.emplace(caller, std::string(attachment_id));
}

absl::Status Attachments::Download(const store::DeviceRef& caller, absl::string_view attachment_id,
                                   uint64_t offset,
                                   const std::function<bool(uint64_t, absl::string_view)>& send) {
  auto record = Find(attachment_id);
  if (!record.ok()) return record.status();
  auto team = store::TeamId::FromBytes(record->team_id());
  if (!team.ok()) return team.status();
  const auto channel = static_cast<v1::Channel>(record->channel());
  absl::Status s = teams_->CheckMayRead(caller, *team, channel);
  if (!s.ok()) return s;
  if (!record->complete()) {
    return absl::FailedPreconditionError(
        absl::StrCat("this attachment is still being uploaded (", record->received_bytes(), " of ",
                     record->ciphertext_size(), " bytes): try again later"));
  }
  if (offset > record->ciphertext_size()) {
    return absl::OutOfRangeError(absl::StrCat("offset ", offset, " is past the end of this ",
                                              record->ciphertext_size(), "-byte attachment"));
  }
  // Written (and access checked again, atomically) before the first byte.
  if (!RecordedToday(caller, attachment_id)) {
    s = teams_->RecordDownload(caller, *team, channel,
                               absl::StrCat("attachment ", attachment_id, " from byte ", offset));
    if (!s.ok()) return s;
    NoteRecorded(caller, attachment_id);
  }

  const uint64_t block = AttachmentTable::kBlockBytes;
  const uint64_t size = record->ciphertext_size();
  uint64_t at = offset;  // the next byte to send
  bool gap = false;
  bool gone = false;
  if (at == size) return absl::OkStatus();
  s = table_->ScanBlocks(*record, offset / block, [&](uint64_t index, absl::string_view data) {
    const uint64_t start = index * block;
    if (start > at || start + data.size() <= at) {
      gap = true;
      return false;
    }
    const absl::string_view piece = data.substr(at - start);
    if (!send(at, piece)) {
      gone = true;
      return false;
    }
    at += piece.size();
    return at < size;
  });
  if (!s.ok()) return s;
  if (gone) return absl::CancelledError("the download stream ended before the last byte");
  if (gap || at != size) {
    return absl::DataLossError(
        absl::StrCat("the relay lost part of this attachment (byte ", at, "): send it again"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Attachments::DeleteExpired() {
  const int64_t now = clock_->NowMs();
  uint64_t total = 0;
  while (true) {
    auto due = table_->ExpiredBy(now, kExpiryBatch);
    if (!due.ok()) return due.status();
    std::vector<AttachmentRecord> deleted;
    for (const auto& id : *due) {
      auto txn = db_->Begin();
      auto record = table_->GetForUpdate(*txn, id);
      if (absl::IsNotFound(record.status())) continue;
      if (!record.ok()) return record.status();
      if (record->expires_at_ms() > now) continue;  // completed meanwhile
      absl::Status s = table_->Delete(*txn, *record);
      if (s.ok()) s = txn->Commit();
      if (!s.ok()) return s;
      deleted.push_back(*std::move(record));
    }
    absl::Status s = table_->Purge(deleted);
    if (!s.ok()) return s;
    total += deleted.size();
    if (due->size() < kExpiryBatch || deleted.empty()) return total;
  }
}

absl::Status Attachments::DeleteForErasure(store::Transaction& txn, const store::TeamId& team,
                                           v1::EraseTeamResponse* counts) {
  auto deleted = table_->DeleteTeam(txn, team);
  if (!deleted.ok()) return deleted.status();
  counts->set_attachments_deleted(*deleted);
  if (*deleted > 0) {
    absl::MutexLock lock(&purge_mu_);
    erased_with_bytes_.insert(team);
  }
  return absl::OkStatus();
}

void Attachments::PurgeAfterErasure(const store::TeamId& team) {
  absl::MutexLock lock(&purge_mu_);
  if (erased_with_bytes_.erase(team) > 0) to_purge_.push_back(team);
}

absl::StatusOr<size_t> Attachments::PurgeErased() {
  std::vector<store::TeamId> teams;
  {
    absl::MutexLock lock(&purge_mu_);
    teams.swap(to_purge_);
  }
  if (teams.empty()) return 0;
  absl::Status s = table_->PurgeTeams(teams);
  if (!s.ok()) {
    // Deleted already; only the bytes linger. Tried again next time.
    absl::MutexLock lock(&purge_mu_);
    to_purge_.insert(to_purge_.end(), teams.begin(), teams.end());
    return s;
  }
  return teams.size();
}

size_t Attachments::pending_purges() const {
  absl::MutexLock lock(&purge_mu_);
  return to_purge_.size();
}

}  // namespace carerelay::core
