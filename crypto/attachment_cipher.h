// Attachment encryption: how a client encrypts a document (discharge letter,
// scan, assessment) before uploading it, and decrypts it after downloading.
//
// The server stores and relays only the ciphertext. The sender puts the
// AttachmentSecrets (key, digest, sizes) inside an end-to-end encrypted
// (Signal) message to the team, so only team devices can decrypt, and the
// secrets arrive authenticated by the sender's session.
//
// Format, version 1 (what another client implementation must reproduce):
//
//   key       32 random bytes (RAND_bytes), fresh for every attachment and
//             never used for anything else.
//   chunks    the plaintext is cut into chunks of kChunkSize bytes; the last
//             chunk holds the remainder (1..kChunkSize bytes). A 0-byte file
//             is one final chunk with empty plaintext, so that a stream cut
//             down to nothing still fails to open instead of reading as an
//             empty document.
//   nonce i   4 zero bytes || chunk index i as 8 bytes big-endian.
//   AAD i     "carerelay attachment v1" (23 ASCII bytes)
//             || plaintext size as 8 bytes big-endian
//             || 0x01 for the last chunk, 0x00 for every other one.
//   sealed i  AES-256-GCM(key, nonce i, AAD i, chunk i) = ciphertext || tag
//             (16 bytes), so a sealed chunk is its plaintext size + kTagSize.
//   stream    sealed 0 || sealed 1 || ... || sealed n-1, no header.
//   digest    SHA-256 of the whole stream.
//
// Why this detects what it must:
//   - a modified byte fails the chunk's GCM tag;
//   - a chunk moved, dropped or duplicated is opened under the nonce of the
//     position it landed on, which is not the one it was sealed with;
//   - a chunk from another attachment was sealed under another key (every
//     attachment has its own), so it fails even at the same index;
//   - a stream cut short lacks its last chunk, which Finish reports; and as
//     every chunk carries the last-chunk flag and the plaintext size, a
//     decryptor told a smaller size fails at once instead of taking a prefix
//     for the whole document;
//   - the digest, carried in the authenticated message, pins the exact
//     ciphertext, so the recipient (and the server, which may be given the
//     digest to check an upload) can tell a damaged download from a good one.
//
// Why a counter nonce is safe here: GCM breaks if one key seals two
// different plaintexts under one nonce. The key is generated inside
// AttachmentEncryptor::Create and there is deliberately no way to give it
// one, so a key seals exactly one attachment, and within it each index (so
// each nonce) is sealed once: the encryptor only moves forward. A counter
// also makes sealing deterministic for a given key, which lets tests check
// this format byte for byte against an independent implementation.
//
// Errors, for every function below:
//   InvalidArgument    the caller's input is unusable: a key or digest of
//                      the wrong size, a plaintext chunk of the wrong size,
//                      inconsistent sizes, a size above kMaxPlaintextSize, a
//                      path that is not a regular file.
//   DataLoss           the ciphertext is not what was sealed: a byte changed,
//                      a chunk missing, moved, duplicated or from another
//                      attachment, the stream truncated or extended, the wrong
//                      key, or a digest mismatch. The message names the chunk
//                      and tells the person to ask for the document again.
//   FailedPrecondition a call out of sequence (sealing after the last chunk,
//                      a digest before it).
//   NotFound, PermissionDenied  a file that does not exist or cannot be opened.
//   ResourceExhausted  the disk is full, or OpenSSL could not allocate.
//   Aborted            an input file changed size while it was being read.
//   Internal           OpenSSL or the operating system failed otherwise.

#ifndef CARERELAY_CRYPTO_ATTACHMENT_CIPHER_H_
#define CARERELAY_CRYPTO_ATTACHMENT_CIPHER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace carerelay::crypto {

// The format's constants and the sizes that follow from them.
namespace attachment {

// 64 KiB: large enough that the per-chunk tag (0.02%) and per-call overhead
// vanish, small enough that a resumed download re-fetches little and a phone
// holds one chunk at a time.
inline constexpr size_t kChunkSize = 64 * 1024;
inline constexpr size_t kTagSize = 16;
inline constexpr size_t kSealedChunkSize = kChunkSize + kTagSize;
inline constexpr size_t kKeySize = 32;
inline constexpr size_t kNonceSize = 12;
inline constexpr size_t kDigestSize = 32;
// 1 TiB: far above any configured attachment limit; it keeps every size
// computation far from overflowing.
inline constexpr uint64_t kMaxPlaintextSize = uint64_t{1} << 40;

// The functions below expect plaintext_size <= kMaxPlaintextSize and
// index < ChunkCount(plaintext_size) (they return 0 for an index past the
// end).

// Number of chunks: at least 1 (an empty file is one empty final chunk).
uint64_t ChunkCount(uint64_t plaintext_size);
// Size of the whole ciphertext stream: the plaintext plus one tag per chunk.
uint64_t CiphertextSize(uint64_t plaintext_size);
// Plaintext bytes in chunk `index`: kChunkSize except in the last chunk.
size_t PlaintextChunkSize(uint64_t plaintext_size, uint64_t index);
// Sealed bytes of chunk `index`: PlaintextChunkSize + kTagSize.
size_t SealedChunkSize(uint64_t plaintext_size, uint64_t index);
// Where chunk `index` starts in the ciphertext stream. A download that was
// cut off resumes from CiphertextChunkOffset(decryptor.next_chunk_index()):
// every chunk before it is opened already; a partly received one is fetched
// again.
inline uint64_t CiphertextChunkOffset(uint64_t index) { return index * kSealedChunkSize; }

}  // namespace attachment

// What a recipient needs to fetch, check and decrypt one attachment. `key` is
// secret: send it only inside an end-to-end encrypted message, never to the
// server, and never log it.
struct AttachmentSecrets {
  std::string key;     // attachment::kKeySize bytes
  std::string digest;  // attachment::kDigestSize bytes: SHA-256 of the ciphertext
  uint64_t plaintext_size = 0;
  uint64_t ciphertext_size = 0;  // attachment::CiphertextSize(plaintext_size)
};

// Seals one attachment, chunk after chunk, under a key it generates.
//
// Use: Create(size), then SealChunk for chunks 0, 1, ... in order, each
// exactly attachment::PlaintextChunkSize bytes, storing or uploading each
// sealed chunk in that order; after the last one, Digest(). The recipients
// get key(), Digest() and the sizes (AttachmentSecrets) end-to-end encrypted.
//
// Thread-safety: not thread-safe; one thread at a time per encryptor.
// Distinct encryptors are independent. The key is wiped from memory on
// destruction.
class AttachmentEncryptor {
 private:
  // Only Create constructs (the constructor is public for std::make_unique).
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  // A fresh random key for an attachment of `plaintext_size` bytes.
  // InvalidArgument above attachment::kMaxPlaintextSize; Internal if
  // RAND_bytes or OpenSSL fails.
  static absl::StatusOr<std::unique_ptr<AttachmentEncryptor>> Create(uint64_t plaintext_size);

  AttachmentEncryptor(PrivateTag, uint64_t plaintext_size, std::string key);
  AttachmentEncryptor(const AttachmentEncryptor&) = delete;
  AttachmentEncryptor& operator=(const AttachmentEncryptor&) = delete;
  ~AttachmentEncryptor();

  // Seals the next chunk (chunk next_chunk_index()) and returns it:
  // ciphertext || tag, plaintext_chunk.size() + attachment::kTagSize bytes.
  // InvalidArgument if `plaintext_chunk` is not
  // attachment::PlaintextChunkSize(plaintext_size(), next_chunk_index())
  // bytes (nothing is sealed; the encryptor stays usable). FailedPrecondition
  // once the last chunk is sealed, or after an Internal error.
  absl::StatusOr<std::string> SealChunk(absl::string_view plaintext_chunk);

  // SHA-256 of the whole ciphertext stream (attachment::kDigestSize bytes).
  // FailedPrecondition until the last chunk is sealed.
  absl::StatusOr<std::string> Digest() const;

  // The attachment key (attachment::kKeySize bytes), for the encryptor's life.
  const std::string& key() const { return key_; }
  uint64_t plaintext_size() const { return plaintext_size_; }
  uint64_t ciphertext_size() const { return attachment::CiphertextSize(plaintext_size_); }
  uint64_t chunk_count() const { return chunk_count_; }
  uint64_t next_chunk_index() const { return next_index_; }

 private:
  struct Contexts;  // the OpenSSL state, kept out of this header

  const uint64_t plaintext_size_;
  const uint64_t chunk_count_;
  std::string key_;
  std::unique_ptr<Contexts> contexts_;
  uint64_t next_index_ = 0;
  std::string digest_;  // set when the last chunk is sealed
  bool failed_ = false;
};

// Opens one attachment, chunk after chunk, in stream order.
//
// Use: Create, then OpenChunk for every sealed chunk in order (each
// attachment::SealedChunkSize bytes), then Finish(). A chunk's plaintext is
// authentic as that chunk of that attachment when OpenChunk returns it, but
// the document is complete, and exactly the one the sender sealed, only when
// Finish() returns OK: until then keep what was opened out of the user's
// sight (DecryptFile writes it to a temporary file).
//
// After a DataLoss (or Internal) error, every later call returns that same
// error, so a caller cannot skip a bad chunk and carry on.
//
// Thread-safety: not thread-safe; one thread at a time per decryptor. The key
// is wiped from memory on destruction.
class AttachmentDecryptor {
 private:
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  // InvalidArgument if `key` is not attachment::kKeySize bytes,
  // `expected_digest` is not attachment::kDigestSize bytes, or
  // `plaintext_size` is above attachment::kMaxPlaintextSize (and, for the
  // second form, if secrets.ciphertext_size does not follow from
  // secrets.plaintext_size). Internal if OpenSSL fails.
  static absl::StatusOr<std::unique_ptr<AttachmentDecryptor>> Create(
      absl::string_view key, uint64_t plaintext_size, absl::string_view expected_digest);
  static absl::StatusOr<std::unique_ptr<AttachmentDecryptor>> Create(
      const AttachmentSecrets& secrets);

  AttachmentDecryptor(PrivateTag, std::string key, uint64_t plaintext_size,
                      std::string expected_digest);
  AttachmentDecryptor(const AttachmentDecryptor&) = delete;
  AttachmentDecryptor& operator=(const AttachmentDecryptor&) = delete;
  ~AttachmentDecryptor();

  // Opens the next chunk of the stream (chunk next_chunk_index()) and returns
  // its plaintext. There is no index argument: the digest runs over the
  // stream in order, so the next chunk is the only one that can be opened.
  // DataLoss if `sealed` is not attachment::SealedChunkSize bytes for this
  // chunk, fails authentication, comes after the last chunk, or is the last
  // chunk of a stream whose SHA-256 is not the expected digest (then its
  // plaintext is withheld).
  absl::StatusOr<std::string> OpenChunk(absl::string_view sealed);

  // OK once every chunk was opened and the digest matched. DataLoss if the
  // stream ended early (truncated), or the error an earlier call returned.
  absl::Status Finish() const;

  uint64_t plaintext_size() const { return plaintext_size_; }
  uint64_t chunk_count() const { return chunk_count_; }
  uint64_t next_chunk_index() const { return next_index_; }

 private:
  struct Contexts;

  // Records the first failure and returns it.
  absl::Status Fail(absl::Status status);

  const uint64_t plaintext_size_;
  const uint64_t chunk_count_;
  std::string key_;
  const std::string expected_digest_;
  std::unique_ptr<Contexts> contexts_;
  uint64_t next_index_ = 0;
  absl::Status failure_;
};

// Encrypts the file at `plaintext_path` into `ciphertext_path` under a fresh
// key, reading and writing one chunk at a time (memory use does not grow with
// the file), and returns what the recipients need. The ciphertext goes to a
// temporary file (mode 0600) beside `ciphertext_path`, renamed over it only
// when complete: on any error nothing appears at `ciphertext_path` (an
// existing file there is replaced only on success). Aborted if the input
// changes size while it is read.
absl::StatusOr<AttachmentSecrets> EncryptFile(const std::string& plaintext_path,
                                              const std::string& ciphertext_path);

// Decrypts the ciphertext file at `ciphertext_path` into `plaintext_path`,
// one chunk at a time. The plaintext goes to a temporary file (mode 0600)
// beside `plaintext_path`, which is synced and renamed to `plaintext_path`
// only after every chunk and the digest verified: on any error no file, and
// in particular no partial document, appears under `plaintext_path` (an
// existing file there is replaced only on success, and stays untouched
// otherwise). The temporary file is removed on every error; only a crash
// can leave one behind, named `<plaintext_path>.partial-XXXXXX`.
// DataLoss if the file's size is not secrets.ciphertext_size or anything
// fails to verify; InvalidArgument if `secrets` is inconsistent; Aborted if
// the file changes size while it is read.
absl::Status DecryptFile(const std::string& ciphertext_path, const AttachmentSecrets& secrets,
                         const std::string& plaintext_path);

// The same two in memory, for blobs small enough to hold (a history
// bundle): the ciphertext stream is byte for byte what EncryptFile writes.
// DecryptBytes returns the plaintext only once every chunk and the digest
// verified: DataLoss otherwise (a wrong size, a bad chunk, a wrong digest).
struct SealedBytes {
  AttachmentSecrets secrets;
  std::string ciphertext;
};
absl::StatusOr<SealedBytes> EncryptBytes(absl::string_view plaintext);
absl::StatusOr<std::string> DecryptBytes(absl::string_view ciphertext,
                                         const AttachmentSecrets& secrets);

}  // namespace carerelay::crypto

#endif  // CARERELAY_CRYPTO_ATTACHMENT_CIPHER_H_
