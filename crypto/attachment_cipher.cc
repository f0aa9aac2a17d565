#include "crypto/attachment_cipher.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "crypto/openssl_ptr.h"

namespace carerelay::crypto {

namespace attachment {

uint64_t ChunkCount(uint64_t plaintext_size) {
  if (plaintext_size == 0) return 1;
  return (plaintext_size + kChunkSize - 1) / kChunkSize;
}

uint64_t CiphertextSize(uint64_t plaintext_size) {
  return plaintext_size + ChunkCount(plaintext_size) * kTagSize;
}

size_t PlaintextChunkSize(uint64_t plaintext_size, uint64_t index) {
  const uint64_t count = ChunkCount(plaintext_size);
  if (index >= count) return 0;
  if (index + 1 < count) return kChunkSize;
  return static_cast<size_t>(plaintext_size - (count - 1) * kChunkSize);
}

size_t SealedChunkSize(uint64_t plaintext_size, uint64_t index) {
  if (index >= ChunkCount(plaintext_size)) return 0;
  return PlaintextChunkSize(plaintext_size, index) + kTagSize;
}

}  // namespace attachment

namespace {

using attachment::kChunkSize;
using attachment::kDigestSize;
using attachment::kKeySize;
using attachment::kNonceSize;
using attachment::kTagSize;

// The AAD's fixed part: names the format and its version, so that a key can
// never open anything sealed for another purpose or a later format.
constexpr char kAadLabel[] = "carerelay attachment v1";
constexpr size_t kAadLabelSize = sizeof(kAadLabel) - 1;
constexpr size_t kAadSize = kAadLabelSize + 8 + 1;

const unsigned char* U8(absl::string_view bytes) {
  return reinterpret_cast<const unsigned char*>(bytes.data());
}
unsigned char* U8(std::string& bytes) { return reinterpret_cast<unsigned char*>(bytes.data()); }

// Fetched once: EVP_aes_256_gcm() and EVP_sha256() would re-fetch the
// implementation on every init.
const EVP_CIPHER* Aes256Gcm() {
  static const EvpCipherPtr cipher(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
  return cipher.get();
}
const EVP_MD* Sha256() {
  static const EvpMdPtr md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  return md.get();
}

void PutBigEndian64(uint64_t value, unsigned char* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<unsigned char>(value & 0xff);
    value >>= 8;
  }
}

struct ChunkParams {
  unsigned char nonce[kNonceSize];
  unsigned char aad[kAadSize];
};

// The nonce and associated data of chunk `index` (see the format in the
// header).
ChunkParams ParamsFor(uint64_t plaintext_size, uint64_t index, bool last) {
  ChunkParams params;
  for (size_t i = 0; i < 4; ++i) params.nonce[i] = 0;
  PutBigEndian64(index, params.nonce + 4);
  for (size_t i = 0; i < kAadLabelSize; ++i) {
    params.aad[i] = static_cast<unsigned char>(kAadLabel[i]);
  }
  PutBigEndian64(plaintext_size, params.aad + kAadLabelSize);
  params.aad[kAadLabelSize + 8] = last ? 1 : 0;
  return params;
}

// One message for every integrity failure, saying what a person can do
// about it: GCM cannot tell damage from tampering from a wrong key, and the
// remedy is the same.
absl::Status Damaged(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("the attachment is damaged or was tampered with: ", what,
                                          "; ask the sender to send it again"));
}

std::string ChunkName(uint64_t index) {
  return absl::StrCat("chunk ", index, " (at ciphertext offset ",
                      attachment::CiphertextChunkOffset(index), ")");
}

// A cipher context keyed once for the whole attachment (each chunk then only
// sets its nonce, which skips the AES key schedule) and a SHA-256 context
// over the sealed stream.
absl::Status InitContexts(const std::string& key, int encrypt, EvpCipherCtxPtr* cipher,
                          EvpMdCtxPtr* sha256) {
  if (Aes256Gcm() == nullptr) return absl::InternalError("OpenSSL has no AES-256-GCM");
  if (Sha256() == nullptr) return absl::InternalError("OpenSSL has no SHA-256");
  cipher->reset(EVP_CIPHER_CTX_new());
  sha256->reset(EVP_MD_CTX_new());
  if (!*cipher || !*sha256) return absl::ResourceExhaustedError("cannot allocate OpenSSL contexts");
  // The default GCM nonce length is 12 bytes, which is kNonceSize.
  if (EVP_CipherInit_ex2(cipher->get(), Aes256Gcm(), U8(key), nullptr, encrypt, nullptr) != 1) {
    return absl::InternalError("AES-256-GCM initialisation failed");
  }
  if (EVP_DigestInit_ex2(sha256->get(), Sha256(), nullptr) != 1) {
    return absl::InternalError("SHA-256 initialisation failed");
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------
// AttachmentEncryptor

struct AttachmentEncryptor::Contexts {
  EvpCipherCtxPtr cipher;
  EvpMdCtxPtr sha256;
};

absl::StatusOr<std::unique_ptr<AttachmentEncryptor>> AttachmentEncryptor::Create(
    uint64_t plaintext_size) {
  if (plaintext_size > attachment::kMaxPlaintextSize) {
    return absl::InvalidArgumentError(absl::StrCat("an attachment of ", plaintext_size,
                                                   " bytes is above the format's limit of ",
                                                   attachment::kMaxPlaintextSize));
  }
  std::string key(kKeySize, '\0');
  if (RAND_bytes(U8(key), static_cast<int>(key.size())) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  // Moving hands over the key's heap buffer: no copy is left to wipe.
  auto encryptor =
      std::make_unique<AttachmentEncryptor>(PrivateTag(), plaintext_size, std::move(key));
  encryptor->contexts_ = std::make_unique<Contexts>();
  if (absl::Status s = InitContexts(encryptor->key_, /*encrypt=*/1, &encryptor->contexts_->cipher,
                                    &encryptor->contexts_->sha256);
      !s.ok()) {
    return s;
  }
  return encryptor;
}

AttachmentEncryptor::AttachmentEncryptor(PrivateTag, uint64_t plaintext_size, std::string key)
    : plaintext_size_(plaintext_size),
      chunk_count_(attachment::ChunkCount(plaintext_size)),
      key_(std::move(key)) {}

AttachmentEncryptor::~AttachmentEncryptor() { OPENSSL_cleanse(key_.data(), key_.size()); }

absl::StatusOr<std::string> AttachmentEncryptor::SealChunk(absl::string_view plaintext_chunk) {
  if (failed_) {
    return absl::FailedPreconditionError("this attachment's encryption already failed");
  }
  if (next_index_ >= chunk_count_) {
    return absl::FailedPreconditionError(
        absl::StrCat("all ", chunk_count_, " chunks of this attachment are already sealed"));
  }
  const size_t size = attachment::PlaintextChunkSize(plaintext_size_, next_index_);
  if (plaintext_chunk.size() != size) {
    return absl::InvalidArgumentError(absl::StrCat("chunk ", next_index_, " of ", chunk_count_,
                                                   " must be ", size, " bytes, got ",
                                                   plaintext_chunk.size()));
  }
  const bool last = next_index_ + 1 == chunk_count_;
  const ChunkParams params = ParamsFor(plaintext_size_, next_index_, last);
  std::string sealed(size + kTagSize, '\0');
  unsigned char* out = U8(sealed);
  EVP_CIPHER_CTX* ctx = contexts_->cipher.get();
  int len = 0;
  // size <= kChunkSize, so the int conversions are exact.
  const bool ok =
      EVP_EncryptInit_ex2(ctx, nullptr, nullptr, params.nonce, nullptr) == 1 &&
      EVP_EncryptUpdate(ctx, nullptr, &len, params.aad, static_cast<int>(kAadSize)) == 1 &&
      (size == 0 ||
       EVP_EncryptUpdate(ctx, out, &len, U8(plaintext_chunk), static_cast<int>(size)) == 1) &&
      EVP_EncryptFinal_ex(ctx, out + size, &len) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize), out + size) == 1 &&
      EVP_DigestUpdate(contexts_->sha256.get(), out, sealed.size()) == 1;
  if (!ok) {
    // The cipher or digest state is unknown now: this attachment cannot go on.
    failed_ = true;
    return absl::InternalError(absl::StrCat("AES-256-GCM failed to seal chunk ", next_index_));
  }
  if (last) {
    digest_.assign(kDigestSize, '\0');
    unsigned int digest_len = 0;
    if (EVP_DigestFinal_ex(contexts_->sha256.get(), U8(digest_), &digest_len) != 1 ||
        digest_len != kDigestSize) {
      failed_ = true;
      digest_.clear();
      return absl::InternalError("SHA-256 of the attachment failed");
    }
  }
  ++next_index_;
  return sealed;
}

absl::StatusOr<std::string> AttachmentEncryptor::Digest() const {
  if (digest_.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("the digest exists once all ", chunk_count_,
                                                      " chunks are sealed (", next_index_,
                                                      " so far)"));
  }
  return digest_;
}

// ---------------------------------------------------------------------------
// AttachmentDecryptor

struct AttachmentDecryptor::Contexts {
  EvpCipherCtxPtr cipher;
  EvpMdCtxPtr sha256;
};

absl::StatusOr<std::unique_ptr<AttachmentDecryptor>> AttachmentDecryptor::Create(
    absl::string_view key, uint64_t plaintext_size, absl::string_view expected_digest) {
  if (key.size() != kKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("an attachment key is ", kKeySize, " bytes, got ", key.size()));
  }
  if (expected_digest.size() != kDigestSize) {
    return absl::InvalidArgumentError(absl::StrCat("an attachment digest is ", kDigestSize,
                                                   " bytes, got ", expected_digest.size()));
  }
  if (plaintext_size > attachment::kMaxPlaintextSize) {
    return absl::InvalidArgumentError(absl::StrCat("an attachment of ", plaintext_size,
                                                   " bytes is above the format's limit of ",
                                                   attachment::kMaxPlaintextSize));
  }
  auto decryptor = std::make_unique<AttachmentDecryptor>(
      PrivateTag(), std::string(key), plaintext_size, std::string(expected_digest));
  decryptor->contexts_ = std::make_unique<Contexts>();
  if (absl::Status s = InitContexts(decryptor->key_, /*encrypt=*/0, &decryptor->contexts_->cipher,
                                    &decryptor->contexts_->sha256);
      !s.ok()) {
    return s;
  }
  return decryptor;
}

absl::StatusOr<std::unique_ptr<AttachmentDecryptor>> AttachmentDecryptor::Create(
    const AttachmentSecrets& secrets) {
  if (secrets.plaintext_size <= attachment::kMaxPlaintextSize &&
      secrets.ciphertext_size != attachment::CiphertextSize(secrets.plaintext_size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inconsistent attachment sizes: ", secrets.plaintext_size, " bytes of plaintext make ",
        attachment::CiphertextSize(secrets.plaintext_size), " of ciphertext, not ",
        secrets.ciphertext_size));
  }
  return Create(secrets.key, secrets.plaintext_size, secrets.digest);
}

AttachmentDecryptor::AttachmentDecryptor(PrivateTag, std::string key, uint64_t plaintext_size,
                                         std::string expected_digest)
    : plaintext_size_(plaintext_size),
      chunk_count_(attachment::ChunkCount(plaintext_size)),
      key_(std::move(key)),
      expected_digest_(std::move(expected_digest)) {}

AttachmentDecryptor::~AttachmentDecryptor() { OPENSSL_cleanse(key_.data(), key_.size()); }

absl::Status AttachmentDecryptor::Fail(absl::Status status) {
  if (failure_.ok()) failure_ = status;
  return status;
}

absl::StatusOr<std::string> AttachmentDecryptor::OpenChunk(absl::string_view sealed) {
  if (!failure_.ok()) return failure_;
  const uint64_t index = next_index_;
  if (index >= chunk_count_) {
    return Fail(Damaged(absl::StrCat("data continues after the last chunk (", chunk_count_,
                                     " chunks for ", plaintext_size_, " bytes)")));
  }
  const size_t expected = attachment::SealedChunkSize(plaintext_size_, index);
  if (sealed.size() != expected) {
    return Fail(Damaged(absl::StrCat(ChunkName(index), " is ", sealed.size(), " bytes instead of ",
                                     expected, sealed.size() < expected ? " (truncated)" : "")));
  }
  const size_t size = expected - kTagSize;
  const bool last = index + 1 == chunk_count_;
  const ChunkParams params = ParamsFor(plaintext_size_, index, last);
  std::string plaintext(size, '\0');
  unsigned char* out = U8(plaintext);
  EVP_CIPHER_CTX* ctx = contexts_->cipher.get();
  int len = 0;
  // OpenSSL takes the expected tag through a non-const pointer but only reads it.
  unsigned char* tag = const_cast<unsigned char*>(U8(sealed)) + size;
  const bool started =
      EVP_DecryptInit_ex2(ctx, nullptr, nullptr, params.nonce, nullptr) == 1 &&
      EVP_DecryptUpdate(ctx, nullptr, &len, params.aad, static_cast<int>(kAadSize)) == 1 &&
      (size == 0 || EVP_DecryptUpdate(ctx, out, &len, U8(sealed), static_cast<int>(size)) == 1) &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize), tag) == 1 &&
      EVP_DigestUpdate(contexts_->sha256.get(), sealed.data(), sealed.size()) == 1;
  if (!started) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return Fail(absl::InternalError(absl::StrCat("AES-256-GCM failed to open chunk ", index)));
  }
  if (EVP_DecryptFinal_ex(ctx, out + size, &len) != 1) {
    // Modified, moved, from another attachment, or the wrong key: GCM cannot
    // tell which.
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return Fail(Damaged(absl::StrCat(ChunkName(index), " failed authentication")));
  }
  if (last) {
    unsigned char digest[kDigestSize];
    unsigned int digest_len = 0;
    if (EVP_DigestFinal_ex(contexts_->sha256.get(), digest, &digest_len) != 1 ||
        digest_len != kDigestSize) {
      OPENSSL_cleanse(plaintext.data(), plaintext.size());
      return Fail(absl::InternalError("SHA-256 of the attachment failed"));
    }
    if (CRYPTO_memcmp(digest, expected_digest_.data(), kDigestSize) != 0) {
      // Every chunk authenticated under the key, yet the bytes are not the
      // ones the sender's message describes.
      OPENSSL_cleanse(plaintext.data(), plaintext.size());
      return Fail(Damaged("its ciphertext does not match the digest it was sent with"));
    }
  }
  ++next_index_;
  return plaintext;
}

absl::Status AttachmentDecryptor::Finish() const {
  if (!failure_.ok()) return failure_;
  if (next_index_ < chunk_count_) {
    return Damaged(absl::StrCat("it ends after ", next_index_, " of its ", chunk_count_,
                                " chunks (truncated)"));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Files

namespace {

absl::Status ErrnoStatus(int error, absl::string_view what, absl::string_view path) {
  const std::string message = absl::StrCat(
      what, " ", path, ": ", std::error_code(error, std::generic_category()).message());
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(message);
    case EISDIR:
    case ENAMETOOLONG:
    case ELOOP:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

class ScopedFd {
 public:
  ScopedFd() = default;
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() { Reset(-1); }

  int get() const { return fd_; }
  void Reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  // Closes now, reporting what close(2) says (a delayed write error may
  // surface only here).
  int Close() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd);
  }

 private:
  int fd_ = -1;
};

// A regular file open for reading; sets its size.
absl::Status OpenInput(const std::string& path, ScopedFd* fd, uint64_t* size) {
  // O_NONBLOCK so that a FIFO at `path` is refused below instead of blocking
  // the open; it changes nothing for a regular file.
  fd->Reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd->get() < 0) return ErrnoStatus(errno, "cannot open", path);
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return ErrnoStatus(errno, "cannot stat", path);
  if (!S_ISREG(st.st_mode)) return absl::InvalidArgumentError(path + " is not a regular file");
  *size = static_cast<uint64_t>(st.st_size);
  return absl::OkStatus();
}

// Reads up to `size` bytes, fewer only at the end of the file.
absl::Status ReadUpTo(int fd, char* out, size_t size, const std::string& path, size_t* got) {
  *got = 0;
  while (*got < size) {
    const ssize_t n = ::read(fd, out + *got, size - *got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot read", path);
    }
    if (n == 0) break;
    *got += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Plaintext bytes, wiped when they go out of scope on every path.
struct WipedString {
  ~WipedString() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
  std::string bytes;
};

// A temporary file beside `final_path` that becomes `final_path` only on
// Commit, and is removed otherwise, so no reader ever sees a partial file
// under the final name. Same directory, so the rename is atomic.
class PendingFile {
 public:
  PendingFile() = default;
  PendingFile(const PendingFile&) = delete;
  PendingFile& operator=(const PendingFile&) = delete;
  ~PendingFile() {
    if (!temp_path_.empty()) {
      fd_.Reset(-1);
      ::unlink(temp_path_.c_str());
    }
  }

  absl::Status Open(const std::string& final_path) {
    final_path_ = final_path;
    std::string pattern = final_path + ".partial-XXXXXX";
    // mkostemp creates the file with mode 0600: a decrypted medical
    // document is for this user only.
    const int fd = ::mkostemp(pattern.data(), O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "cannot create a temporary file for", final_path);
    fd_.Reset(fd);
    temp_path_ = std::move(pattern);
    return absl::OkStatus();
  }

  absl::Status Write(absl::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_.get(), bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "cannot write", temp_path_);
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  // Syncs, closes and renames. The sync comes first so that after a crash
  // the final name holds the whole file or is absent, never a prefix.
  absl::Status Commit() {
    if (::fsync(fd_.get()) != 0) return ErrnoStatus(errno, "cannot sync", temp_path_);
    if (fd_.Close() != 0) return ErrnoStatus(errno, "cannot close", temp_path_);
    if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
      return ErrnoStatus(errno, "cannot rename the temporary file to", final_path_);
    }
    temp_path_.clear();
    return absl::OkStatus();
  }

 private:
  std::string final_path_;
  std::string temp_path_;  // empty once committed
  ScopedFd fd_;
};

}  // namespace

absl::StatusOr<AttachmentSecrets> EncryptFile(const std::string& plaintext_path,
                                              const std::string& ciphertext_path) {
  ScopedFd in;
  uint64_t plaintext_size = 0;
  if (absl::Status s = OpenInput(plaintext_path, &in, &plaintext_size); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<AttachmentEncryptor>> encryptor =
      AttachmentEncryptor::Create(plaintext_size);
  if (!encryptor.ok()) return encryptor.status();
  PendingFile out;
  if (absl::Status s = out.Open(ciphertext_path); !s.ok()) return s;

  WipedString chunk;
  chunk.bytes.resize(kChunkSize);
  size_t got = 0;
  for (uint64_t i = 0; i < (*encryptor)->chunk_count(); ++i) {
    const size_t size = attachment::PlaintextChunkSize(plaintext_size, i);
    if (absl::Status s = ReadUpTo(in.get(), chunk.bytes.data(), size, plaintext_path, &got);
        !s.ok()) {
      return s;
    }
    if (got != size) {
      return absl::AbortedError(
          absl::StrCat(plaintext_path, " shrank while it was being encrypted; try again"));
    }
    absl::StatusOr<std::string> sealed =
        (*encryptor)->SealChunk(absl::string_view(chunk.bytes.data(), size));
    if (!sealed.ok()) return sealed.status();
    if (absl::Status s = out.Write(*sealed); !s.ok()) return s;
  }
  // The size came from fstat before reading: a byte more means the file grew
  // meanwhile, and what was sealed is not the whole document.
  if (absl::Status s = ReadUpTo(in.get(), chunk.bytes.data(), 1, plaintext_path, &got); !s.ok()) {
    return s;
  }
  if (got != 0) {
    return absl::AbortedError(
        absl::StrCat(plaintext_path, " grew while it was being encrypted; try again"));
  }
  absl::StatusOr<std::string> digest = (*encryptor)->Digest();
  if (!digest.ok()) return digest.status();
  if (absl::Status s = out.Commit(); !s.ok()) return s;

  AttachmentSecrets secrets;
  secrets.key = (*encryptor)->key();
  secrets.digest = *std::move(digest);
  secrets.plaintext_size = plaintext_size;
  secrets.ciphertext_size = (*encryptor)->ciphertext_size();
  return secrets;
}

absl::StatusOr<SealedBytes> EncryptBytes(absl::string_view plaintext) {
  absl::StatusOr<std::unique_ptr<AttachmentEncryptor>> encryptor =
      AttachmentEncryptor::Create(plaintext.size());
  if (!encryptor.ok()) return encryptor.status();
  SealedBytes out;
  out.ciphertext.reserve((*encryptor)->ciphertext_size());
  uint64_t at = 0;
  for (uint64_t i = 0; i < (*encryptor)->chunk_count(); ++i) {
    const size_t size = attachment::PlaintextChunkSize(plaintext.size(), i);
    absl::StatusOr<std::string> sealed = (*encryptor)->SealChunk(plaintext.substr(at, size));
    if (!sealed.ok()) return sealed.status();
    out.ciphertext += *sealed;
    at += size;
  }
  absl::StatusOr<std::string> digest = (*encryptor)->Digest();
  if (!digest.ok()) return digest.status();
  out.secrets.key = (*encryptor)->key();
  out.secrets.digest = *std::move(digest);
  out.secrets.plaintext_size = plaintext.size();
  out.secrets.ciphertext_size = (*encryptor)->ciphertext_size();
  return out;
}

absl::StatusOr<std::string> DecryptBytes(absl::string_view ciphertext,
                                         const AttachmentSecrets& secrets) {
  absl::StatusOr<std::unique_ptr<AttachmentDecryptor>> decryptor =
      AttachmentDecryptor::Create(secrets);
  if (!decryptor.ok()) return decryptor.status();
  if (ciphertext.size() != secrets.ciphertext_size) {
    return absl::DataLossError("the ciphertext is not the size its sender gave");
  }
  std::string plaintext;
  uint64_t at = 0;
  for (uint64_t i = 0; i < (*decryptor)->chunk_count(); ++i) {
    const size_t size = attachment::SealedChunkSize(secrets.plaintext_size, i);
    absl::StatusOr<std::string> opened = (*decryptor)->OpenChunk(ciphertext.substr(at, size));
    if (!opened.ok()) return opened.status();
    plaintext += *opened;
    at += size;
  }
  if (absl::Status s = (*decryptor)->Finish(); !s.ok()) return s;
  return plaintext;
}

absl::Status DecryptFile(const std::string& ciphertext_path, const AttachmentSecrets& secrets,
                         const std::string& plaintext_path) {
  absl::StatusOr<std::unique_ptr<AttachmentDecryptor>> decryptor =
      AttachmentDecryptor::Create(secrets);
  if (!decryptor.ok()) return decryptor.status();
  ScopedFd in;
  uint64_t ciphertext_size = 0;
  if (absl::Status s = OpenInput(ciphertext_path, &in, &ciphertext_size); !s.ok()) return s;
  // Refused before any work or any temporary file: the commonest damage is a
  // download cut short.
  if (ciphertext_size != secrets.ciphertext_size) {
    return Damaged(absl::StrCat(ciphertext_path, " is ", ciphertext_size, " bytes instead of ",
                                secrets.ciphertext_size,
                                ciphertext_size < secrets.ciphertext_size ? " (truncated)" : ""));
  }
  PendingFile out;
  if (absl::Status s = out.Open(plaintext_path); !s.ok()) return s;

  std::string sealed(attachment::kSealedChunkSize, '\0');
  size_t got = 0;
  for (uint64_t i = 0; i < (*decryptor)->chunk_count(); ++i) {
    const size_t size = attachment::SealedChunkSize(secrets.plaintext_size, i);
    if (absl::Status s = ReadUpTo(in.get(), sealed.data(), size, ciphertext_path, &got); !s.ok()) {
      return s;
    }
    if (got != size) {
      return absl::AbortedError(
          absl::StrCat(ciphertext_path, " shrank while it was being decrypted; try again"));
    }
    absl::StatusOr<std::string> opened =
        (*decryptor)->OpenChunk(absl::string_view(sealed.data(), size));
    if (!opened.ok()) return opened.status();
    WipedString plaintext{*std::move(opened)};
    if (absl::Status s = out.Write(plaintext.bytes); !s.ok()) return s;
  }
  if (absl::Status s = ReadUpTo(in.get(), sealed.data(), 1, ciphertext_path, &got); !s.ok()) {
    return s;
  }
  if (got != 0) {
    return absl::AbortedError(
        absl::StrCat(ciphertext_path, " grew while it was being decrypted; try again"));
  }
  if (absl::Status s = (*decryptor)->Finish(); !s.ok()) return s;
  return out.Commit();
}

}  // namespace carerelay::crypto
