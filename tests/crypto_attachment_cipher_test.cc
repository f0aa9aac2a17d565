// Tests of crypto/attachment_cipher: real OpenSSL, real files in temporary
// directories. The same source builds two executables: the default one, and
// with CARERELAY_ATTACHMENT_LARGE_TESTS the slow 40 MiB file test (ctest
// label "large", skipped by `ctest -LE large`).

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/attachment_cipher.h"
#include "crypto/openssl_ptr.h"
#include "tests/crypto_test_util.h"

namespace carerelay::crypto {
namespace {

using attachment::kChunkSize;
using attachment::kDigestSize;
using attachment::kKeySize;
using attachment::kTagSize;
using testing::TempDir;

// Distinct bytes everywhere, so that no two chunks are alike by accident.
std::string PseudoRandom(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(rng() & 0xff);
  return bytes;
}

#ifndef CARERELAY_ATTACHMENT_LARGE_TESTS

// SHA-256 through OpenSSL's one-shot legacy entry point, independent of the
// incremental EVP_MD_CTX path the cipher uses.
std::string Sha256(absl::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr), 1);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string Concat(const std::vector<std::string>& chunks) {
  std::string all;
  for (const std::string& chunk : chunks) all += chunk;
  return all;
}

// An independent implementation of the header's documented format, for one
// chunk: a fresh context per chunk, the legacy cipher getter, the nonce and
// associated data spelled out byte by byte.
std::string ReferenceSeal(absl::string_view key, uint64_t plaintext_size, uint64_t index, bool last,
                          absl::string_view chunk) {
  unsigned char nonce[12] = {0, 0, 0, 0};
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<unsigned char>(index >> (56 - 8 * i));
  std::string aad = "carerelay attachment v1";
  for (int i = 0; i < 8; ++i) aad.push_back(static_cast<char>(plaintext_size >> (56 - 8 * i)));
  aad.push_back(last ? '\x01' : '\x00');

  std::string sealed(chunk.size() + 16, '\0');
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int total = 0;
  EXPECT_EQ(EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                               reinterpret_cast<const unsigned char*>(key.data()), nonce),
            1);
  EXPECT_EQ(EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())),
            1);
  if (!chunk.empty()) {
    EXPECT_EQ(EVP_EncryptUpdate(ctx.get(), out, &len,
                                reinterpret_cast<const unsigned char*>(chunk.data()),
                                static_cast<int>(chunk.size())),
              1);
    total = len;
  }
  EXPECT_EQ(EVP_EncryptFinal_ex(ctx.get(), out + total, &len), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, out + chunk.size()), 1);
  return sealed;
}

// One attachment sealed in memory.
struct Sealed {
  AttachmentSecrets secrets;
  std::vector<std::string> chunks;
};

absl::StatusOr<Sealed> Seal(absl::string_view plaintext) {
  absl::StatusOr<std::unique_ptr<AttachmentEncryptor>> encryptor =
      AttachmentEncryptor::Create(plaintext.size());
  if (!encryptor.ok()) return encryptor.status();
  Sealed sealed;
  size_t offset = 0;
  for (uint64_t i = 0; i < (*encryptor)->chunk_count(); ++i) {
    const size_t size = attachment::PlaintextChunkSize(plaintext.size(), i);
    absl::StatusOr<std::string> chunk = (*encryptor)->SealChunk(plaintext.substr(offset, size));
    if (!chunk.ok()) return chunk.status();
    sealed.chunks.push_back(*std::move(chunk));
    offset += size;
  }
  absl::StatusOr<std::string> digest = (*encryptor)->Digest();
  if (!digest.ok()) return digest.status();
  sealed.secrets.key = (*encryptor)->key();
  sealed.secrets.digest = *digest;
  sealed.secrets.plaintext_size = plaintext.size();
  sealed.secrets.ciphertext_size = (*encryptor)->ciphertext_size();
  return sealed;
}

// Opens `chunks` in order and finishes: the whole plaintext, or the first
// error.
absl::StatusOr<std::string> Open(const AttachmentSecrets& secrets,
                                 const std::vector<std::string>& chunks) {
  absl::StatusOr<std::unique_ptr<AttachmentDecryptor>> decryptor =
      AttachmentDecryptor::Create(secrets);
  if (!decryptor.ok()) return decryptor.status();
  std::string plaintext;
  for (const std::string& chunk : chunks) {
    absl::StatusOr<std::string> opened = (*decryptor)->OpenChunk(chunk);
    if (!opened.ok()) return opened.status();
    plaintext += *opened;
  }
  if (absl::Status s = (*decryptor)->Finish(); !s.ok()) return s;
  return plaintext;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, absl::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(AttachmentSizesTest, ChunkCountsSizesAndOffsets) {
  EXPECT_EQ(kChunkSize, 65536u);
  EXPECT_EQ(attachment::ChunkCount(0), 1u);
  EXPECT_EQ(attachment::ChunkCount(1), 1u);
  EXPECT_EQ(attachment::ChunkCount(kChunkSize), 1u);
  EXPECT_EQ(attachment::ChunkCount(kChunkSize + 1), 2u);
  EXPECT_EQ(attachment::ChunkCount(3 * kChunkSize), 3u);

  EXPECT_EQ(attachment::CiphertextSize(0), 16u);
  EXPECT_EQ(attachment::CiphertextSize(1), 17u);
  EXPECT_EQ(attachment::CiphertextSize(kChunkSize), 65552u);
  EXPECT_EQ(attachment::CiphertextSize(kChunkSize + 1), 65537u + 32u);

  EXPECT_EQ(attachment::PlaintextChunkSize(0, 0), 0u);
  EXPECT_EQ(attachment::PlaintextChunkSize(kChunkSize + 1, 0), kChunkSize);
  EXPECT_EQ(attachment::PlaintextChunkSize(kChunkSize + 1, 1), 1u);
  EXPECT_EQ(attachment::PlaintextChunkSize(kChunkSize + 1, 2), 0u);  // past the end
  EXPECT_EQ(attachment::SealedChunkSize(kChunkSize + 1, 1), 17u);
  EXPECT_EQ(attachment::SealedChunkSize(kChunkSize + 1, 2), 0u);

  EXPECT_EQ(attachment::CiphertextChunkOffset(0), 0u);
  EXPECT_EQ(attachment::CiphertextChunkOffset(3), 3u * 65552u);
  // The offset of the chunk after the last one is the stream's size.
  const uint64_t size = 5 * kChunkSize + 100;
  EXPECT_EQ(attachment::CiphertextChunkOffset(attachment::ChunkCount(size) - 1) +
                attachment::SealedChunkSize(size, attachment::ChunkCount(size) - 1),
            attachment::CiphertextSize(size));
  // The limit's arithmetic does not overflow.
  EXPECT_EQ(attachment::CiphertextSize(attachment::kMaxPlaintextSize),
            attachment::kMaxPlaintextSize + (attachment::kMaxPlaintextSize / kChunkSize) * 16);
}

class AttachmentRoundTripTest : public ::testing::TestWithParam<size_t> {};

TEST_P(AttachmentRoundTripTest, SealsAndOpens) {
  const size_t size = GetParam();
  const std::string plaintext = PseudoRandom(size, size);
  CR_ASSERT_OK_AND_ASSIGN(Sealed sealed, Seal(plaintext));

  ASSERT_EQ(sealed.chunks.size(), attachment::ChunkCount(size));
  for (size_t i = 0; i < sealed.chunks.size(); ++i) {
    EXPECT_EQ(sealed.chunks[i].size(), attachment::SealedChunkSize(size, i)) << i;
  }
  const std::string stream = Concat(sealed.chunks);
  EXPECT_EQ(stream.size(), attachment::CiphertextSize(size));
  EXPECT_EQ(sealed.secrets.ciphertext_size, stream.size());
  EXPECT_EQ(sealed.secrets.key.size(), kKeySize);
  EXPECT_EQ(sealed.secrets.digest, Sha256(stream));
  if (size >= 16) {
    EXPECT_EQ(stream.find(plaintext.substr(0, 16)), std::string::npos) << "not encrypted";
  }

  CR_ASSERT_OK_AND_ASSIGN(std::string opened, Open(sealed.secrets, sealed.chunks));
  EXPECT_EQ(opened, plaintext);
}

INSTANTIATE_TEST_SUITE_P(Sizes, AttachmentRoundTripTest,
                         ::testing::Values(0, 1, kChunkSize - 1, kChunkSize, kChunkSize + 1,
                                           3 * kChunkSize + 17, 5 * kChunkSize),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return "Bytes" + std::to_string(info.param);
                         });

TEST(AttachmentCipherTest, MatchesTheDocumentedFormatByteForByte) {
  const std::string plaintext = PseudoRandom(2 * kChunkSize + 1000, 7);
  CR_ASSERT_OK_AND_ASSIGN(Sealed sealed, Seal(plaintext));
  ASSERT_EQ(sealed.chunks.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    const std::string chunk =
        plaintext.substr(i * kChunkSize, attachment::PlaintextChunkSize(plaintext.size(), i));
    EXPECT_EQ(sealed.chunks[i],
              ReferenceSeal(sealed.secrets.key, plaintext.size(), i, i == 2, chunk))
        << "chunk " << i;
  }
  // An empty attachment is one final chunk: the bare tag.
  CR_ASSERT_OK_AND_ASSIGN(Sealed empty, Seal(""));
  ASSERT_EQ(empty.chunks.size(), 1u);
  EXPECT_EQ(empty.chunks[0], ReferenceSeal(empty.secrets.key, 0, 0, true, ""));
}

TEST(AttachmentCipherTest, EveryAttachmentGetsAFreshKey) {
  const std::string plaintext = PseudoRandom(1000, 1);
  CR_ASSERT_OK_AND_ASSIGN(Sealed a, Seal(plaintext));
  CR_ASSERT_OK_AND_ASSIGN(Sealed b, Seal(plaintext));
  EXPECT_NE(a.secrets.key, b.secrets.key);
  EXPECT_NE(a.chunks, b.chunks);
  EXPECT_NE(a.secrets.digest, b.secrets.digest);
}

// A four-chunk attachment to damage.
class AttachmentTamperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plaintext_ = PseudoRandom(3 * kChunkSize + 500, 42);
    CR_ASSERT_OK_AND_ASSIGN(sealed_, Seal(plaintext_));
    ASSERT_EQ(sealed_.chunks.size(), 4u);
    // The intact attachment opens: each test below fails only by its damage.
    CR_ASSERT_OK_AND_ASSIGN(std::string opened, Open(sealed_.secrets, sealed_.chunks));
    ASSERT_EQ(opened, plaintext_);
  }

  // DataLoss, with the damage message and `detail` in it.
  static void ExpectDamaged(const absl::Status& status, absl::string_view detail) {
    EXPECT_TRUE(absl::IsDataLoss(status)) << status;
    EXPECT_NE(status.message().find("the attachment is damaged or was tampered with"),
              absl::string_view::npos)
        << status;
    EXPECT_NE(status.message().find(detail), absl::string_view::npos) << status;
  }

  std::string plaintext_;
  Sealed sealed_;
};

TEST_F(AttachmentTamperTest, FlippedByteAnywhere) {
  // First and last byte of each chunk (ciphertext and tag), and one in the middle.
  for (size_t chunk = 0; chunk < sealed_.chunks.size(); ++chunk) {
    const size_t size = sealed_.chunks[chunk].size();
    for (size_t at : {size_t{0}, size / 2, size - kTagSize - 1, size - kTagSize, size - 1}) {
      std::vector<std::string> chunks = sealed_.chunks;
      chunks[chunk][at] ^= 0x01;
      ExpectDamaged(Open(sealed_.secrets, chunks).status(),
                    "chunk " + std::to_string(chunk) + " (at ciphertext offset");
    }
  }
}

TEST_F(AttachmentTamperTest, DroppedChunk) {
  std::vector<std::string> chunks = sealed_.chunks;
  chunks.erase(chunks.begin() + 1);
  ExpectDamaged(Open(sealed_.secrets, chunks).status(), "chunk 1 (at ciphertext offset 65552)");
}

TEST_F(AttachmentTamperTest, ReorderedChunks) {
  std::vector<std::string> chunks = sealed_.chunks;
  std::swap(chunks[1], chunks[2]);
  ExpectDamaged(Open(sealed_.secrets, chunks).status(), "chunk 1 ");
}

TEST_F(AttachmentTamperTest, DuplicatedChunk) {
  std::vector<std::string> inserted = sealed_.chunks;
  inserted.insert(inserted.begin() + 2, sealed_.chunks[1]);  // 0 1 1 2 3
  ExpectDamaged(Open(sealed_.secrets, inserted).status(), "chunk 2 ");
  std::vector<std::string> replaced = sealed_.chunks;
  replaced[2] = sealed_.chunks[1];  // 0 1 1 3
  ExpectDamaged(Open(sealed_.secrets, replaced).status(), "chunk 2 ");
}

TEST_F(AttachmentTamperTest, TruncatedStream) {
  // The final chunk removed: every remaining chunk is genuine, Finish knows.
  std::vector<std::string> chunks = sealed_.chunks;
  chunks.pop_back();
  ExpectDamaged(Open(sealed_.secrets, chunks).status(), "ends after 3 of its 4 chunks");
  // Everything removed.
  ExpectDamaged(Open(sealed_.secrets, {}).status(), "ends after 0 of its 4 chunks");
  // Cut inside the last chunk.
  chunks = sealed_.chunks;
  chunks.back().pop_back();
  ExpectDamaged(Open(sealed_.secrets, chunks).status(), "(truncated)");
  // An empty document cut down to nothing is not an empty document.
  CR_ASSERT_OK_AND_ASSIGN(Sealed empty, Seal(""));
  ExpectDamaged(Open(empty.secrets, {}).status(), "ends after 0 of its 1 chunks");
}

TEST_F(AttachmentTamperTest, TruncatedStreamWithAMatchingSizeAndDigest) {
  // Whoever cuts the stream after chunk 2 and also controls the size and
  // digest the recipient is told: the chunks carry the true size and the
  // last-chunk flag, so the prefix is refused at its first chunk.
  std::vector<std::string> prefix(sealed_.chunks.begin(), sealed_.chunks.begin() + 2);
  AttachmentSecrets lie = sealed_.secrets;
  lie.plaintext_size = 2 * kChunkSize;
  lie.ciphertext_size = attachment::CiphertextSize(lie.plaintext_size);
  lie.digest = Sha256(Concat(prefix));
  ExpectDamaged(Open(lie, prefix).status(), "chunk 0 ");
}

TEST_F(AttachmentTamperTest, LastChunkFlagIsChecked) {
  // Streams built with the real key by the reference implementation, with a
  // matching digest, so only the flag is wrong.
  const std::string& key = sealed_.secrets.key;
  const uint64_t size = plaintext_.size();
  auto chunk = [&](uint64_t i) {
    return plaintext_.substr(i * kChunkSize, attachment::PlaintextChunkSize(size, i));
  };
  std::vector<std::string> reference;
  for (uint64_t i = 0; i < 4; ++i)
    reference.push_back(ReferenceSeal(key, size, i, i == 3, chunk(i)));
  ASSERT_EQ(reference, sealed_.chunks);

  std::vector<std::string> unflagged = reference;
  unflagged[3] = ReferenceSeal(key, size, 3, /*last=*/false, chunk(3));
  AttachmentSecrets secrets = sealed_.secrets;
  secrets.digest = Sha256(Concat(unflagged));
  ExpectDamaged(Open(secrets, unflagged).status(), "chunk 3 ");

  std::vector<std::string> early_flag = reference;
  early_flag[1] = ReferenceSeal(key, size, 1, /*last=*/true, chunk(1));
  secrets.digest = Sha256(Concat(early_flag));
  ExpectDamaged(Open(secrets, early_flag).status(), "chunk 1 ");
}

TEST_F(AttachmentTamperTest, ChunkFromAnotherAttachmentOfTheSameSize) {
  CR_ASSERT_OK_AND_ASSIGN(Sealed other, Seal(PseudoRandom(plaintext_.size(), 43)));
  std::vector<std::string> chunks = sealed_.chunks;
  chunks[2] = other.chunks[2];  // same index, same size, another key
  ExpectDamaged(Open(sealed_.secrets, chunks).status(), "chunk 2 ");
  // Even the same plaintext sealed again does not mix.
  CR_ASSERT_OK_AND_ASSIGN(Sealed again, Seal(plaintext_));
  chunks = sealed_.chunks;
  chunks[0] = again.chunks[0];
  ExpectDamaged(Open(sealed_.secrets, chunks).status(), "chunk 0 ");
}

TEST_F(AttachmentTamperTest, WrongKey) {
  AttachmentSecrets wrong = sealed_.secrets;
  wrong.key = PseudoRandom(kKeySize, 99);
  ExpectDamaged(Open(wrong, sealed_.chunks).status(), "chunk 0 ");
}

TEST_F(AttachmentTamperTest, WrongDigest) {
  AttachmentSecrets wrong = sealed_.secrets;
  wrong.digest[5] ^= 0x80;
  CR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<AttachmentDecryptor> decryptor,
                          AttachmentDecryptor::Create(wrong));
  for (size_t i = 0; i < 3; ++i) CR_ASSERT_OK(decryptor->OpenChunk(sealed_.chunks[i]));
  // The last chunk authenticates, but its plaintext is withheld.
  ExpectDamaged(decryptor->OpenChunk(sealed_.chunks[3]).status(), "does not match the digest");
  ExpectDamaged(decryptor->Finish(), "does not match the digest");
}

TEST_F(AttachmentTamperTest, DataAfterTheLastChunk) {
  std::vector<std::string> chunks = sealed_.chunks;
  chunks.push_back(sealed_.chunks[3]);
  ExpectDamaged(Open(sealed_.secrets, chunks).status(), "after the last chunk");
}

TEST_F(AttachmentTamperTest, FailureIsSticky) {
  CR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<AttachmentDecryptor> decryptor,
                          AttachmentDecryptor::Create(sealed_.secrets));
  CR_ASSERT_OK(decryptor->OpenChunk(sealed_.chunks[0]));
  std::string bad = sealed_.chunks[1];
  bad[100] ^= 0x01;
  ExpectDamaged(decryptor->OpenChunk(bad).status(), "chunk 1 ");
  // The genuine chunk 1 (or 2, skipping ahead) is refused now too.
  ExpectDamaged(decryptor->OpenChunk(sealed_.chunks[1]).status(), "chunk 1 ");
  ExpectDamaged(decryptor->OpenChunk(sealed_.chunks[2]).status(), "chunk 1 ");
  ExpectDamaged(decryptor->Finish(), "chunk 1 ");
}

TEST(AttachmentCipherTest, SealChunkChecksSizesAndSequence) {
  CR_ASSERT_OK_AND_ASSIGN(std::unique_ptr<AttachmentEncryptor> encryptor,
                          AttachmentEncryptor::Create(kChunkSize + 10));
  EXPECT_EQ(encryptor->chunk_count(), 2u);
  EXPECT_TRUE(absl::IsFailedPrecondition(encryptor->Digest().status()));
  EXPECT_TRUE(absl::IsInvalidArgument(encryptor->SealChunk(std::string(10, 'x')).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(encryptor->SealChunk(std::string(kChunkSize + 1, 'x')).status()));
  EXPECT_EQ(encryptor->next_chunk_index(), 0u) << "a refused chunk is not sealed";
  CR_ASSERT_OK(encryptor->SealChunk(std::string(kChunkSize, 'x')));
  EXPECT_TRUE(absl::IsInvalidArgument(encryptor->SealChunk(std::string(kChunkSize, 'x')).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(encryptor->SealChunk("").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(encryptor->Digest().status()));
  CR_ASSERT_OK(encryptor->SealChunk(std::string(10, 'x')));
  CR_ASSERT_OK_AND_ASSIGN(std::string digest, encryptor->Digest());
  EXPECT_EQ(digest.size(), kDigestSize);
  EXPECT_TRUE(absl::IsFailedPrecondition(encryptor->SealChunk(std::string(10, 'x')).status()));

  EXPECT_TRUE(absl::IsInvalidArgument(
      AttachmentEncryptor::Create(attachment::kMaxPlaintextSize + 1).status()));
  EXPECT_TRUE(AttachmentEncryptor::Create(attachment::kMaxPlaintextSize).ok());
}

TEST(AttachmentCipherTest, DecryptorRejectsBadSecrets) {
  const std::string key(kKeySize, 'k');
  const std::string digest(kDigestSize, 'd');
  EXPECT_TRUE(AttachmentDecryptor::Create(key, 10, digest).ok());
  EXPECT_TRUE(
      absl::IsInvalidArgument(AttachmentDecryptor::Create(key.substr(1), 10, digest).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(AttachmentDecryptor::Create(key + "k", 10, digest).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(AttachmentDecryptor::Create("", 10, digest).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(AttachmentDecryptor::Create(key, 10, digest.substr(1)).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      AttachmentDecryptor::Create(key, attachment::kMaxPlaintextSize + 1, digest).status()));
  AttachmentSecrets secrets{key, digest, 10, 26};
  EXPECT_TRUE(AttachmentDecryptor::Create(secrets).ok());
  secrets.ciphertext_size = 10;
  EXPECT_TRUE(absl::IsInvalidArgument(AttachmentDecryptor::Create(secrets).status()));
}

// ---------------------------------------------------------------------------
// Files

class AttachmentFileTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }

  // Encrypts `plaintext` from in.bin to enc.bin.
  AttachmentSecrets EncryptBytes(absl::string_view plaintext) {
    WriteFile(dir_.Sub("in.bin"), plaintext);
    absl::StatusOr<AttachmentSecrets> secrets =
        EncryptFile(dir_.Sub("in.bin"), dir_.Sub("enc.bin"));
    EXPECT_TRUE(secrets.ok()) << secrets.status();
    return secrets.ok() ? *secrets : AttachmentSecrets{};
  }

  // Expects DataLoss from DecryptFile and nothing left behind: no out.bin, no
  // temporary file.
  void ExpectRefused(const AttachmentSecrets& secrets) {
    const std::vector<std::string> before = FilesIn(dir_.path());
    const absl::Status status = DecryptFile(dir_.Sub("enc.bin"), secrets, dir_.Sub("out.bin"));
    EXPECT_TRUE(absl::IsDataLoss(status)) << status;
    EXPECT_FALSE(std::filesystem::exists(dir_.Sub("out.bin")));
    EXPECT_EQ(FilesIn(dir_.path()), before);
  }

  TempDir dir_;
};

TEST_F(AttachmentFileTest, RoundTrips) {
  for (size_t size : {size_t{0}, size_t{1}, kChunkSize, kChunkSize + 1, 3 * kChunkSize + 5}) {
    SCOPED_TRACE(size);
    const std::string plaintext = PseudoRandom(size, size + 1);
    const AttachmentSecrets secrets = EncryptBytes(plaintext);
    const std::string ciphertext = ReadFile(dir_.Sub("enc.bin"));
    EXPECT_EQ(secrets.plaintext_size, size);
    EXPECT_EQ(ciphertext.size(), attachment::CiphertextSize(size));
    EXPECT_EQ(secrets.ciphertext_size, ciphertext.size());
    EXPECT_EQ(secrets.digest, Sha256(ciphertext));

    CR_ASSERT_OK(DecryptFile(dir_.Sub("enc.bin"), secrets, dir_.Sub("out.bin")));
    EXPECT_EQ(ReadFile(dir_.Sub("out.bin")), plaintext);
    // Nothing else was left in the directory (no temporary files).
    EXPECT_EQ(FilesIn(dir_.path()), (std::vector<std::string>{"enc.bin", "in.bin", "out.bin"}));
    struct stat st;
    ASSERT_EQ(::stat(dir_.Sub("out.bin").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "a decrypted document is for its user only";
    std::filesystem::remove(dir_.Sub("out.bin"));
  }
}

TEST_F(AttachmentFileTest, DamagedCiphertextLeavesNoPlaintextFile) {
  const AttachmentSecrets secrets = EncryptBytes(PseudoRandom(4 * kChunkSize + 9, 5));
  const std::string good = ReadFile(dir_.Sub("enc.bin"));

  // A byte flipped in the last chunk: the first four chunks were decrypted
  // into the temporary file before the failure.
  std::string damaged = good;
  damaged[damaged.size() - 3] ^= 0x04;
  WriteFile(dir_.Sub("enc.bin"), damaged);
  ExpectRefused(secrets);

  // Chunks 1 and 2 swapped.
  const size_t sealed = attachment::kSealedChunkSize;
  damaged = good.substr(0, sealed) + good.substr(2 * sealed, sealed) + good.substr(sealed, sealed) +
            good.substr(3 * sealed);
  WriteFile(dir_.Sub("enc.bin"), damaged);
  ExpectRefused(secrets);

  // Truncated (the download cut short), and the final chunk dropped.
  WriteFile(dir_.Sub("enc.bin"), good.substr(0, good.size() - 1));
  ExpectRefused(secrets);
  WriteFile(dir_.Sub("enc.bin"), good.substr(0, 4 * sealed));
  ExpectRefused(secrets);
  // Extended.
  WriteFile(dir_.Sub("enc.bin"), good + "x");
  ExpectRefused(secrets);

  // Intact ciphertext, wrong digest or key.
  WriteFile(dir_.Sub("enc.bin"), good);
  AttachmentSecrets wrong = secrets;
  wrong.digest[0] ^= 0x01;
  ExpectRefused(wrong);
  wrong = secrets;
  wrong.key[31] ^= 0x01;
  ExpectRefused(wrong);

  // And the intact file with the right secrets still decrypts.
  CR_EXPECT_OK(DecryptFile(dir_.Sub("enc.bin"), secrets, dir_.Sub("out.bin")));
}

TEST_F(AttachmentFileTest, AnExistingFileIsReplacedOnlyOnSuccess) {
  const std::string plaintext = PseudoRandom(2 * kChunkSize, 8);
  const AttachmentSecrets secrets = EncryptBytes(plaintext);
  WriteFile(dir_.Sub("out.bin"), "the previous version");
  AttachmentSecrets wrong = secrets;
  wrong.digest[0] ^= 0x01;
  EXPECT_TRUE(absl::IsDataLoss(DecryptFile(dir_.Sub("enc.bin"), wrong, dir_.Sub("out.bin"))));
  EXPECT_EQ(ReadFile(dir_.Sub("out.bin")), "the previous version");
  CR_ASSERT_OK(DecryptFile(dir_.Sub("enc.bin"), secrets, dir_.Sub("out.bin")));
  EXPECT_EQ(ReadFile(dir_.Sub("out.bin")), plaintext);
}

TEST_F(AttachmentFileTest, UnreadableInputsAndBadSecrets) {
  EXPECT_TRUE(absl::IsNotFound(EncryptFile(dir_.Sub("missing"), dir_.Sub("enc.bin")).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(EncryptFile(dir_.path(), dir_.Sub("enc.bin")).status()));
  WriteFile(dir_.Sub("in.bin"), "letter");
  EXPECT_TRUE(
      absl::IsNotFound(EncryptFile(dir_.Sub("in.bin"), dir_.Sub("no/such/dir/enc.bin")).status()));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("enc.bin")));

  const AttachmentSecrets secrets = EncryptBytes("letter");
  EXPECT_TRUE(absl::IsNotFound(DecryptFile(dir_.Sub("missing"), secrets, dir_.Sub("out.bin"))));
  EXPECT_TRUE(absl::IsInvalidArgument(DecryptFile(dir_.path(), secrets, dir_.Sub("out.bin"))));
  AttachmentSecrets short_key = secrets;
  short_key.key.pop_back();
  EXPECT_TRUE(
      absl::IsInvalidArgument(DecryptFile(dir_.Sub("enc.bin"), short_key, dir_.Sub("out.bin"))));
  AttachmentSecrets inconsistent = secrets;
  inconsistent.ciphertext_size += 1;
  EXPECT_TRUE(
      absl::IsInvalidArgument(DecryptFile(dir_.Sub("enc.bin"), inconsistent, dir_.Sub("out.bin"))));
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("out.bin")));
  EXPECT_EQ(FilesIn(dir_.path()), (std::vector<std::string>{"enc.bin", "in.bin"}));
}

#else  // CARERELAY_ATTACHMENT_LARGE_TESTS

// AddressSanitizer keeps freed memory in quarantine (256 MiB by default), so
// under it the peak grows with every chunk freed and says nothing about the
// cipher.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPeakMemoryIsMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kPeakMemoryIsMeaningful = false;
#else
constexpr bool kPeakMemoryIsMeaningful = true;
#endif
#else
constexpr bool kPeakMemoryIsMeaningful = true;
#endif

long MaxRssKiB() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// 40 MiB and a partial chunk through EncryptFile and DecryptFile, written and
// compared piecewise so that this test holds no whole file either: the
// process's peak memory then shows whether the cipher streams.
TEST(AttachmentLargeFileTest, FortyMebibytesStreamThrough) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  constexpr size_t kPieces = 40 * 16;  // of 64 KiB each
  constexpr size_t kTail = 12345;
  const uint64_t size = kPieces * kChunkSize + kTail;
  auto piece = [](size_t i) { return PseudoRandom(i < kPieces ? kChunkSize : kTail, i); };
  {
    std::ofstream out(dir.Sub("scan.pdf"), std::ios::binary);
    for (size_t i = 0; i <= kPieces; ++i) {
      const std::string bytes = piece(i);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    ASSERT_TRUE(out.good());
  }
  const long rss_before = MaxRssKiB();

  CR_ASSERT_OK_AND_ASSIGN(AttachmentSecrets secrets,
                          EncryptFile(dir.Sub("scan.pdf"), dir.Sub("scan.enc")));
  EXPECT_EQ(secrets.plaintext_size, size);
  EXPECT_EQ(std::filesystem::file_size(dir.Sub("scan.enc")), attachment::CiphertextSize(size));
  CR_ASSERT_OK(DecryptFile(dir.Sub("scan.enc"), secrets, dir.Sub("scan.out.pdf")));

  // A file this size held in memory would have raised the peak by 40 MiB.
  if (kPeakMemoryIsMeaningful) {
    EXPECT_LT(MaxRssKiB() - rss_before, 8 * 1024) << "KiB of peak memory added";
  }

  std::ifstream in(dir.Sub("scan.out.pdf"), std::ios::binary);
  for (size_t i = 0; i <= kPieces; ++i) {
    const std::string expected = piece(i);
    std::string got(expected.size(), '\0');
    in.read(got.data(), static_cast<std::streamsize>(got.size()));
    ASSERT_EQ(got, expected) << "piece " << i;
  }
  EXPECT_EQ(in.peek(), std::ifstream::traits_type::eof());

  // Damage in the middle of the large file is still caught, and leaves nothing.
  {
    const auto at = static_cast<std::streamoff>(attachment::CiphertextChunkOffset(320) + 10);
    std::fstream f(dir.Sub("scan.enc"), std::ios::binary | std::ios::in | std::ios::out);
    f.seekg(at);
    const char byte = static_cast<char>(f.get());
    f.seekp(at);
    f.put(static_cast<char>(byte ^ 0x01));
    ASSERT_TRUE(f.good());
  }
  const absl::Status damaged = DecryptFile(dir.Sub("scan.enc"), secrets, dir.Sub("again.pdf"));
  EXPECT_TRUE(absl::IsDataLoss(damaged)) << damaged;
  EXPECT_NE(damaged.message().find("chunk 320 "), absl::string_view::npos) << damaged;
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("again.pdf")));
}

#endif  // CARERELAY_ATTACHMENT_LARGE_TESTS

}  // namespace
}  // namespace carerelay::crypto
