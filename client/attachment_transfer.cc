#include "client/attachment_transfer.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "client/attachment_pointer.h"
#include "crypto/attachment_cipher.h"
#include "proto/error_detail.h"

namespace carerelay::client {
namespace {

namespace fs = std::filesystem;

// Uploads waiting for their message, by file fingerprint -> AttachmentPointer.
constexpr char kPendingUploadRecord[] = "pending_upload";
// Bytes per upload message: a few blocks, few enough to lose little on a cut.
constexpr size_t kUploadPieceBytes = 256 * 1024;

// The longest wait the upload sits out for the relay's byte budget; past it
// (a quota, not a rate) the user is told.
constexpr uint32_t kLongestPacingWaitSeconds = 60;

// What is worth another try: the connection, not the request.
bool Transient(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kInternal:
      return true;
    default:
      return false;
  }
}

// How long the relay asked to wait before the next piece, when it refused
// one for a budget (RESOURCE_EXHAUSTED with ErrorDetail.retry_after_seconds)
// and the wait is short enough to sit out; nullopt otherwise.
std::optional<absl::Duration> PacingWait(const absl::Status& s) {
  if (!absl::IsResourceExhausted(s)) return std::nullopt;
  std::optional<v1::ErrorDetail> detail = GetDetail(s);
  if (!detail || detail->retry_after_seconds() == 0 ||
      detail->retry_after_seconds() > kLongestPacingWaitSeconds) {
    return std::nullopt;
  }
  return absl::Seconds(detail->retry_after_seconds());
}

void Wait(const TransferOptions& options, int attempt) {
  absl::Duration d = options.retry_wait;
  for (int i = 0; i < attempt && d < absl::Seconds(8); ++i) d *= 2;
  absl::SleepFor(std::min(d, absl::Seconds(8)));
}

// `call()` again while it fails transiently, up to options.attempts times.
template <typename Fn>
auto Retrying(const TransferOptions& options, Fn call) -> decltype(call()) {
  auto result = call();
  for (int attempt = 1; attempt < options.attempts && !result.ok() && Transient(result.status());
       ++attempt) {
    Wait(options, attempt - 1);
    result = call();
  }
  return result;
}

absl::Status Errno(absl::string_view what, const std::string& path) {
  const int e = errno;
  std::string msg = absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(e));
  if (e == ENOENT) return absl::NotFoundError(msg);
  if (e == EACCES || e == EPERM) return absl::PermissionDeniedError(msg);
  if (e == ENOSPC) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

absl::Status MakePrivateDir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  ::chmod(dir.c_str(), 0700);
  return absl::OkStatus();
}

// The same file sent to the same channel again, unchanged since: resume.
std::string Fingerprint(const SendFileRequest& r, const std::string& canonical,
                        const struct stat& st) {
  const std::string id =
      absl::StrCat(r.team_id, "\n", static_cast<int>(r.channel), "\n", canonical, "\n", st.st_size,
                   "\n", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, "\n", r.new_version_of);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(id.data()), id.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

AttachmentTransfer::AttachmentTransfer(RelayClient* relay, Messenger* messenger,
                                       crypto::ProfileStore* profile, std::string work_dir)
    : relay_(relay), messenger_(messenger), profile_(profile), work_dir_(std::move(work_dir)) {}

absl::StatusOr<SentFile> AttachmentTransfer::SendFile(const SendFileRequest& given,
                                                      const TransferOptions& options) {
  SendFileRequest request = given;
  // A new version: the document's team, channel, id and next number.
  std::string document_id;
  uint32_t version = 0;
  if (!request.new_version_of.empty()) {
    auto held = messenger_->GetAttachment(request.new_version_of);
    if (!held.ok()) return held.status();
    if (!held->has_value()) {
      return absl::NotFoundError(absl::StrCat("this profile holds no document ",
                                              request.new_version_of,
                                              " (`carerelay files` lists what you have)"));
    }
    const v1::AttachmentPointer& earlier = **held;
    if ((!request.team_id.empty() && request.team_id != earlier.team_id()) ||
        (request.channel != v1::CHANNEL_UNSPECIFIED &&
         static_cast<uint32_t>(request.channel) != earlier.channel())) {
      return absl::InvalidArgumentError(
          "a new version goes on the team and channel of the document it replaces");
    }
    request.team_id = earlier.team_id();
    request.channel = static_cast<v1::Channel>(earlier.channel());
    document_id = DocumentIdOf(earlier);
    auto versions = messenger_->ListAttachments(earlier.team_id());
    if (!versions.ok()) return versions.status();
    for (const auto& v : *versions) {
      if (DocumentIdOf(v) == document_id) version = std::max(version, VersionOf(v));
    }
    ++version;
  }
  struct stat st;
  if (::stat(request.path.c_str(), &st) != 0) return Errno("read", request.path);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(request.path + " is not a regular file");
  }
  std::error_code ec;
  const std::string canonical = fs::canonical(request.path, ec).string();
  const std::string fingerprint = Fingerprint(request, canonical, st);
  const std::string outbox = work_dir_ + "/outbox";
  absl::Status s = MakePrivateDir(outbox);
  if (!s.ok()) return s;
  const std::string encrypted = absl::StrCat(outbox, "/", fingerprint, ".enc");

  SentFile sent;
  auto pending = profile_->GetRecord(kPendingUploadRecord, fingerprint);
  if (!pending.ok()) return pending.status();
  if (pending->has_value() && sent.pointer.ParseFromString(**pending) &&
      FileSize(encrypted) == sent.pointer.ciphertext_size()) {
    auto info = Retrying(options, [&] { return relay_->GetUpload(sent.pointer.attachment_id()); });
    if (info.ok()) {
      sent.resumed_from = info->received_bytes();
    } else if (absl::IsNotFound(info.status())) {
      pending->reset();  // expired on the relay: start over
    } else {
      return info.status();
    }
  } else {
    pending->reset();
  }

  if (!pending->has_value()) {
    auto secrets = crypto::EncryptFile(request.path, encrypted);
    if (!secrets.ok()) return secrets.status();
    auto info = Retrying(options, [&] {
      return relay_->CreateUpload(request.team_id, request.channel, secrets->ciphertext_size,
                                  secrets->digest);
    });
    if (!info.ok()) {
      fs::remove(encrypted, ec);
      return info.status();
    }
    v1::AttachmentPointer& p = sent.pointer;
    p.Clear();
    p.set_attachment_id(info->attachment_id());
    p.set_key(secrets->key);
    p.set_digest(secrets->digest);
    p.set_plaintext_size(secrets->plaintext_size);
    p.set_ciphertext_size(secrets->ciphertext_size);
    p.set_file_name(SafeFileName(fs::path(request.path).filename().string()));
    p.set_media_type(request.media_type.empty() ? GuessMediaType(p.file_name())
                                                : request.media_type);
    p.set_caption(request.caption);
    p.set_team_id(request.team_id);
    p.set_channel(request.channel);
    p.set_document_id(document_id);
    p.set_version(version);
    s = profile_->PutRecord(kPendingUploadRecord, fingerprint, p.SerializeAsString());
    if (!s.ok()) return s;
  }

  uint64_t resumed = 0;
  s = UploadCiphertext(sent.pointer, encrypted, options, &resumed);
  if (!s.ok()) return s;

  v1::Content content;
  *content.mutable_attachment() = sent.pointer;
  auto message_id = messenger_->SendTeamContent(request.team_id, request.channel, content);
  if (!message_id.ok()) {
    return absl::Status(
        message_id.status().code(),
        absl::StrCat(message_id.status().message(),
                     " (the document is uploaded: run the same command again to send it)"));
  }
  sent.message_id = *message_id;
  // The sender keeps the pointer too, to fetch its own document later.
  s = messenger_->KeepAttachment(sent.pointer);
  if (s.ok()) s = profile_->DeleteRecord(kPendingUploadRecord, fingerprint);
  fs::remove(encrypted, ec);
  if (!s.ok()) return s;
  return sent;
}

absl::Status AttachmentTransfer::UploadCiphertext(const v1::AttachmentPointer& pointer,
                                                  const std::string& path,
                                                  const TransferOptions& options,
                                                  uint64_t* resumed_from) {
  const uint64_t total = pointer.ciphertext_size();
  const int attempts = std::max(1, options.attempts);
  absl::Status last;
  bool restarted = false;
  bool first = true;
  int failures = 0;
  // Where the upload stood when the relay last asked to wait (the account's
  // upload byte budget): each wait must bring bytes, or it is not pacing.
  std::optional<uint64_t> paced_from;
  while (failures < attempts) {
    auto info = relay_->GetUpload(pointer.attachment_id());
    if (!info.ok()) {
      last = info.status();
      if (!Transient(last)) return last;
      if (++failures < attempts) Wait(options, failures - 1);
      continue;
    }
    if (info->state() == v1::UPLOAD_STATE_COMPLETE) {
      if (options.progress) options.progress(total, total);
      return absl::OkStatus();
    }
    if (first) *resumed_from = info->received_bytes();
    first = false;
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError("the encrypted copy " + path + " is gone: send again");
    const uint64_t from = info->received_bytes();
    uint64_t at = from;
    in.seekg(static_cast<std::streamoff>(at));
    std::string buffer;
    auto uploaded =
        relay_->Upload(pointer.attachment_id(), at, [&]() -> absl::StatusOr<std::string> {
          if (options.progress) options.progress(at, total);
          if (at >= total) return std::string();
          buffer.resize(std::min<uint64_t>(kUploadPieceBytes, total - at));
          in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
          if (static_cast<size_t>(in.gcount()) != buffer.size()) {
            return absl::DataLossError("the encrypted copy " + path + " is shorter than it was");
          }
          at += buffer.size();
          return buffer;
        });
    if (uploaded.ok() && uploaded->state() == v1::UPLOAD_STATE_COMPLETE) return absl::OkStatus();
    last = uploaded.ok() ? absl::UnavailableError("the upload stopped before its end")
                         : uploaded.status();
    if (absl::IsDataLoss(last) && !restarted) {
      restarted = true;  // the relay discarded the bytes: one fresh start
      continue;
    }
    if (std::optional<absl::Duration> wait = PacingWait(last); wait && paced_from != from) {
      // Past the budget the relay kept every whole block: wait as told and
      // go on from there (a retry sooner would only be held until then).
      paced_from = from;
      absl::SleepFor(*wait);
      continue;
    }
    if (!Transient(last)) return last;
    if (++failures < attempts) Wait(options, failures - 1);
  }
  return absl::Status(last.code(), absl::StrCat(last.message(),
                                                " (the upload stopped; run the same command "
                                                "again to resume it)"));
}

absl::StatusOr<FetchedFile> AttachmentTransfer::GetFile(const std::string& attachment_id,
                                                        const std::string& out, bool overwrite,
                                                        const TransferOptions& options) {
  auto held = messenger_->GetAttachment(attachment_id);
  if (!held.ok()) return held.status();
  if (!held->has_value()) {
    return absl::NotFoundError(absl::StrCat(
        "this profile has received no document ", attachment_id,
        ": run `carerelay receive` first (`carerelay files` lists what you have); a document "
        "shared on a channel your role does not read never reaches you"));
  }
  FetchedFile fetched;
  fetched.pointer = **held;
  const v1::AttachmentPointer& p = fetched.pointer;

  std::error_code ec;
  fs::path target = out.empty() ? fs::path(p.file_name()) : fs::path(out);
  if (fs::is_directory(target, ec)) target /= p.file_name();
  fetched.path = target.string();
  if (fs::exists(target, ec) && !overwrite) {
    return absl::AlreadyExistsError(
        absl::StrCat(fetched.path, " exists: choose another place with --out, or --force"));
  }

  const std::string downloads = work_dir_ + "/downloads";
  absl::Status s = MakePrivateDir(downloads);
  if (!s.ok()) return s;
  const std::string partial = absl::StrCat(downloads, "/", attachment_id, ".part");
  const uint64_t have = FileSize(partial);
  if (have > p.ciphertext_size()) fs::remove(partial, ec);
  fetched.resumed_from = have > p.ciphertext_size() ? 0 : have;

  s = DownloadCiphertext(p, partial, options);
  if (absl::IsDataLoss(s)) fs::remove(partial, ec);  // the relay's copy is damaged
  if (!s.ok()) return s;
  crypto::AttachmentSecrets secrets;
  secrets.key = p.key();
  secrets.digest = p.digest();
  secrets.plaintext_size = p.plaintext_size();
  secrets.ciphertext_size = p.ciphertext_size();
  s = crypto::DecryptFile(partial, secrets, fetched.path);
  if (absl::IsDataLoss(s)) {
    fs::remove(partial, ec);  // damaged: the next try starts afresh
    return absl::DataLossError(absl::StrCat("the document ", p.file_name(),
                                            " failed its integrity check and was not saved (",
                                            s.message(), "): ask the sender to send it again"));
  }
  if (!s.ok()) return s;
  fs::remove(partial, ec);
  return fetched;
}

absl::StatusOr<v1::AttachmentPointer> AttachmentTransfer::UploadBlob(
    const std::string& team_id, v1::Channel channel, const std::string& plaintext,
    const std::string& file_name, const std::string& media_type, const TransferOptions& options) {
  auto sealed = crypto::EncryptBytes(plaintext);
  if (!sealed.ok()) return sealed.status();
  const std::string outbox = work_dir_ + "/outbox";
  absl::Status s = MakePrivateDir(outbox);
  if (!s.ok()) return s;
  auto info = Retrying(options, [&] {
    return relay_->CreateUpload(team_id, channel, sealed->secrets.ciphertext_size,
                                sealed->secrets.digest);
  });
  if (!info.ok()) return info.status();
  v1::AttachmentPointer p;
  p.set_attachment_id(info->attachment_id());
  p.set_key(sealed->secrets.key);
  p.set_digest(sealed->secrets.digest);
  p.set_plaintext_size(sealed->secrets.plaintext_size);
  p.set_ciphertext_size(sealed->secrets.ciphertext_size);
  p.set_file_name(file_name);
  p.set_media_type(media_type);
  p.set_team_id(team_id);
  p.set_channel(channel);
  const std::string encrypted = absl::StrCat(outbox, "/", p.attachment_id(), ".blob");
  {
    std::ofstream out(encrypted, std::ios::binary | std::ios::trunc);
    out.write(sealed->ciphertext.data(), static_cast<std::streamsize>(sealed->ciphertext.size()));
    if (!out.flush()) return Errno("write", encrypted);
  }
  uint64_t resumed = 0;
  s = UploadCiphertext(p, encrypted, options, &resumed);
  std::error_code ec;
  fs::remove(encrypted, ec);
  if (!s.ok()) return s;
  return p;
}

absl::StatusOr<std::string> AttachmentTransfer::FetchBlob(const v1::AttachmentPointer& pointer,
                                                          const TransferOptions& options) {
  if (absl::Status s = ValidAttachmentPointer(pointer); !s.ok()) return s;
  const std::string downloads = work_dir_ + "/downloads";
  absl::Status s = MakePrivateDir(downloads);
  if (!s.ok()) return s;
  const std::string partial = absl::StrCat(downloads, "/", pointer.attachment_id(), ".part");
  std::error_code ec;
  if (FileSize(partial) > pointer.ciphertext_size()) fs::remove(partial, ec);
  s = DownloadCiphertext(pointer, partial, options);
  if (!s.ok()) {
    if (absl::IsDataLoss(s)) fs::remove(partial, ec);
    return s;
  }
  std::string ciphertext;
  {
    std::ifstream in(partial, std::ios::binary);
    ciphertext.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  fs::remove(partial, ec);
  crypto::AttachmentSecrets secrets;
  secrets.key = pointer.key();
  secrets.digest = pointer.digest();
  secrets.plaintext_size = pointer.plaintext_size();
  secrets.ciphertext_size = pointer.ciphertext_size();
  return crypto::DecryptBytes(ciphertext, secrets);
}

absl::Status AttachmentTransfer::DownloadCiphertext(const v1::AttachmentPointer& pointer,
                                                    const std::string& partial,
                                                    const TransferOptions& options) {
  const uint64_t total = pointer.ciphertext_size();
  absl::Status last;
  for (int attempt = 0; attempt < std::max(1, options.attempts); ++attempt) {
    if (attempt > 0) Wait(options, attempt - 1);
    uint64_t have = FileSize(partial);
    if (have == total) return absl::OkStatus();
    const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return Errno("write", partial);
    if (options.progress) options.progress(have, total);
    last = relay_->Download(pointer.attachment_id(), have,
                            [&](uint64_t offset, absl::string_view data) -> absl::Status {
                              if (offset != have || data.size() > total - have) {
                                return absl::DataLossError("the relay sent bytes out of place");
                              }
                              for (size_t done = 0; done < data.size();) {
                                const ssize_t n =
                                    ::write(fd, data.data() + done, data.size() - done);
                                if (n < 0 && errno == EINTR) continue;
                                if (n < 0) return Errno("write", partial);
                                done += static_cast<size_t>(n);
                              }
                              have += data.size();
                              if (options.progress) options.progress(have, total);
                              return absl::OkStatus();
                            });
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (last.ok() && !synced) return Errno("write", partial);
    if (last.ok() && have == total) return absl::OkStatus();
    if (last.ok()) last = absl::UnavailableError("the download ended early");
    if (!Transient(last)) return last;
  }
  return absl::Status(last.code(),
                      absl::StrCat(last.message(),
                                   " (the download stopped; run the same command again to resume "
                                   "it)"));
}

}  // namespace carerelay::client
