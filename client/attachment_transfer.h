// Sending and fetching documents on a team channel: the client side of
// attachments.proto, on top of the attachment cipher (crypto/) and the
// messenger (which carries the pointer end-to-end encrypted).
//
// SendFile: encrypt the file under a fresh key into the work directory,
// reserve the upload (the relay checks the size limit and the right to post
// before any byte), stream the ciphertext, then send the pointer (key,
// digest, name, type) on the channel. A cut connection is retried from where
// the relay is; if every attempt fails, running SendFile again with the same
// file resumes the same upload (the encrypted copy and the upload id are
// kept in the work directory and the key store until the message is sent).
// Past the account's upload byte budget the relay refuses a piece with a
// retry-after and keeps the whole blocks before it: SendFile waits as told
// (up to a minute per wait, as long as each wait brings bytes) and goes on,
// so a long upload is paced, not failed.
//
// GetFile: fetch the ciphertext into the work directory (resuming a cut
// download from the bytes already there), then decrypt it and check every
// chunk and the digest before the document appears under its name (written
// to a temporary name, then renamed). A damaged download leaves nothing
// under that name.
//
// Errors: those of RelayClient (the relay's statuses, attachments.proto),
// of Messenger (sending the pointer) and of crypto/attachment_cipher.h, and:
//   NOT_FOUND       GetFile: this device holds no pointer by that id
//   ALREADY_EXISTS  GetFile: the target file exists and `overwrite` is false
//   DATA_LOSS       GetFile: the document failed its integrity check
//                   (nothing is saved; ask the sender to send it again)
//   UNAVAILABLE     the relay could not be reached in `attempts` tries; run
//                   the same command again to resume
//
// Thread-safety: not thread-safe (it drives a Messenger, which is not).
// Ownership: borrows everything; all must outlive it.
#ifndef CARERELAY_CLIENT_ATTACHMENT_TRANSFER_H_
#define CARERELAY_CLIENT_ATTACHMENT_TRANSFER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "carerelay/v1/content.pb.h"
#include "client/messenger.h"
#include "client/relay_client.h"
#include "crypto/profile_store.h"

namespace carerelay::client {

struct TransferOptions {
  // Called as bytes move: (ciphertext bytes done, bytes in all).
  std::function<void(uint64_t done, uint64_t total)> progress;
  // Tries before giving up when the connection fails; the wait between
  // tries doubles from `retry_wait` up to 8 s.
  int attempts = 5;
  absl::Duration retry_wait = absl::Milliseconds(500);
};

struct SendFileRequest {
  std::string team_id;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  std::string path;
  std::string caption;
  std::string media_type;  // guessed from the file name when empty
  // A held document (any of its versions' attachment ids): the file is its
  // next version, on the same team and channel (team_id and channel may be
  // left empty: they are the document's). NOT_FOUND if this device holds
  // no such document; INVALID_ARGUMENT if it is another team's or
  // channel's than the ones given.
  std::string new_version_of;
};

struct SentFile {
  v1::AttachmentPointer pointer;
  std::string message_id;
  // Ciphertext bytes the relay already held when this call began (a resumed
  // upload), 0 for a fresh one.
  uint64_t resumed_from = 0;
};

struct FetchedFile {
  std::string path;  // where the document now is
  v1::AttachmentPointer pointer;
  // Ciphertext bytes already downloaded when this call began.
  uint64_t resumed_from = 0;
};

class AttachmentTransfer {
 public:
  // `work_dir` (the profile directory) holds the encrypted copies of uploads
  // and the partial downloads, in "outbox/" and "downloads/" (mode 0700).
  AttachmentTransfer(RelayClient* relay, Messenger* messenger, crypto::ProfileStore* profile,
                     std::string work_dir);

  absl::StatusOr<SentFile> SendFile(const SendFileRequest& request,
                                    const TransferOptions& options = {});

  // Saves the document `attachment_id` to `out`: a directory (then under
  // the sender's file name, made safe), a file path, or the current
  // directory when empty.
  absl::StatusOr<FetchedFile> GetFile(const std::string& attachment_id, const std::string& out,
                                      bool overwrite, const TransferOptions& options = {});

  // A blob held in memory (a history bundle, history_handover.h): encrypted
  // under a fresh key and uploaded as a document of `channel` of `team_id`,
  // but sent to nobody; the caller sends the returned pointer where it must
  // go. Only ciphertext touches the disk (the work directory, until it is
  // uploaded). Not resumable across runs: a failed upload is built again.
  absl::StatusOr<v1::AttachmentPointer> UploadBlob(const std::string& team_id, v1::Channel channel,
                                                   const std::string& plaintext,
                                                   const std::string& file_name,
                                                   const std::string& media_type,
                                                   const TransferOptions& options = {});
  // Fetches and decrypts the blob `pointer` names, into memory. DATA_LOSS
  // if it fails its integrity check.
  absl::StatusOr<std::string> FetchBlob(const v1::AttachmentPointer& pointer,
                                        const TransferOptions& options = {});

 private:
  // Uploads the encrypted copy from where the relay is; OK when complete.
  absl::Status UploadCiphertext(const v1::AttachmentPointer& pointer, const std::string& path,
                                const TransferOptions& options, uint64_t* resumed_from);
  // Fetches the ciphertext into `partial` from its current size.
  absl::Status DownloadCiphertext(const v1::AttachmentPointer& pointer, const std::string& partial,
                                  const TransferOptions& options);

  RelayClient* relay_;
  Messenger* messenger_;
  crypto::ProfileStore* profile_;
  std::string work_dir_;
};

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_ATTACHMENT_TRANSFER_H_
