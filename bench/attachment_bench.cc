// Micro-benchmarks of attachment encryption on the client
// (crypto/attachment_cipher.h), in MB/s of plaintext, for 1 MiB and 16 MiB
// documents:
//
//   BM_AttachmentEncrypt / BM_AttachmentDecrypt
//       AttachmentEncryptor / AttachmentDecryptor over the whole document in
//       memory: per-chunk AES-256-GCM, the SHA-256 of the ciphertext, a fresh
//       key (encrypt), Finish (decrypt).
//   BM_RawAes256GcmSeal / BM_RawAes256GcmOpen
//       OpenSSL's AES-256-GCM alone over the same 64 KiB chunks (same nonce
//       scheme, same AAD length, one reused output buffer): the floor the
//       attachment cipher is compared with, measured in the same run.
//   BM_RawSha256
//       SHA-256 alone over the same ciphertext size: most of the gap between
//       the two above.
//   BM_EncryptFile / BM_DecryptFile
//       the file helpers on a temporary directory: reads, writes and the
//       fsync before the rename included (the page cache is warm).
//
//   attachment_bench --benchmark_min_time=0.5

#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/bench_support.h"
#include "crypto/attachment_cipher.h"
#include "crypto/openssl_ptr.h"

namespace carerelay::crypto {
namespace {

using attachment::kChunkSize;
using attachment::kTagSize;

// Benchmarks cannot fail softly: a broken setup is reported and ends the run.
using ::carerelay::bench::Check;
void CheckSsl(int rc, const char* what) {
  if (rc != 1) {
    std::fprintf(stderr, "%s failed\n", what);
    std::abort();
  }
}

std::string Document(int64_t size) {
  std::mt19937_64 rng(static_cast<uint64_t>(size));
  std::string bytes(static_cast<size_t>(size), '\0');
  for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
  return bytes;
}

struct SealedDocument {
  AttachmentSecrets secrets;
  std::string ciphertext;
};

SealedDocument Seal(const std::string& plaintext) {
  std::unique_ptr<AttachmentEncryptor> encryptor =
      Check(AttachmentEncryptor::Create(plaintext.size()), "create encryptor");
  SealedDocument sealed;
  for (uint64_t i = 0; i < encryptor->chunk_count(); ++i) {
    sealed.ciphertext +=
        Check(encryptor->SealChunk(absl::string_view(plaintext).substr(
                  i * kChunkSize, attachment::PlaintextChunkSize(plaintext.size(), i))),
              "seal");
  }
  sealed.secrets.key = encryptor->key();
  sealed.secrets.digest = Check(encryptor->Digest(), "digest");
  sealed.secrets.plaintext_size = plaintext.size();
  sealed.secrets.ciphertext_size = encryptor->ciphertext_size();
  return sealed;
}

void BM_AttachmentEncrypt(benchmark::State& state) {
  const std::string plaintext = Document(state.range(0));
  const absl::string_view view(plaintext);
  for (auto _ : state) {
    std::unique_ptr<AttachmentEncryptor> encryptor =
        Check(AttachmentEncryptor::Create(plaintext.size()), "create encryptor");
    for (uint64_t i = 0; i < encryptor->chunk_count(); ++i) {
      std::string sealed =
          Check(encryptor->SealChunk(view.substr(
                    i * kChunkSize, attachment::PlaintextChunkSize(plaintext.size(), i))),
                "seal");
      benchmark::DoNotOptimize(sealed);
    }
    std::string digest = Check(encryptor->Digest(), "digest");
    benchmark::DoNotOptimize(digest);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_AttachmentDecrypt(benchmark::State& state) {
  const SealedDocument sealed = Seal(Document(state.range(0)));
  const absl::string_view stream(sealed.ciphertext);
  for (auto _ : state) {
    std::unique_ptr<AttachmentDecryptor> decryptor =
        Check(AttachmentDecryptor::Create(sealed.secrets), "create decryptor");
    for (uint64_t i = 0; i < decryptor->chunk_count(); ++i) {
      std::string plaintext =
          Check(decryptor->OpenChunk(
                    stream.substr(attachment::CiphertextChunkOffset(i),
                                  attachment::SealedChunkSize(sealed.secrets.plaintext_size, i))),
                "open");
      benchmark::DoNotOptimize(plaintext);
    }
    Check(decryptor->Finish(), "finish");
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

// The raw baseline: one context keyed once, as the attachment cipher does,
// then per 64 KiB chunk a nonce, 32 bytes of AAD, the data and the tag.
class RawGcm {
 public:
  explicit RawGcm(int encrypt) : ctx_(EVP_CIPHER_CTX_new()) {
    cipher_.reset(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
    if (!ctx_ || !cipher_) std::abort();
    const unsigned char key[32] = {1, 2, 3};
    CheckSsl(EVP_CipherInit_ex2(ctx_.get(), cipher_.get(), key, nullptr, encrypt, nullptr), "init");
  }

  void Seal(uint64_t index, const unsigned char* in, size_t size, unsigned char* out) {
    int len = 0;
    SetNonce(index);
    CheckSsl(EVP_EncryptInit_ex2(ctx_.get(), nullptr, nullptr, nonce_, nullptr), "nonce");
    CheckSsl(EVP_EncryptUpdate(ctx_.get(), nullptr, &len, aad_, sizeof(aad_)), "aad");
    CheckSsl(EVP_EncryptUpdate(ctx_.get(), out, &len, in, static_cast<int>(size)), "encrypt");
    CheckSsl(EVP_EncryptFinal_ex(ctx_.get(), out + size, &len), "final");
    CheckSsl(EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, out + size), "tag");
  }

  void Open(uint64_t index, const unsigned char* in, size_t size, unsigned char* out) {
    int len = 0;
    SetNonce(index);
    CheckSsl(EVP_DecryptInit_ex2(ctx_.get(), nullptr, nullptr, nonce_, nullptr), "nonce");
    CheckSsl(EVP_DecryptUpdate(ctx_.get(), nullptr, &len, aad_, sizeof(aad_)), "aad");
    CheckSsl(EVP_DecryptUpdate(ctx_.get(), out, &len, in, static_cast<int>(size)), "decrypt");
    CheckSsl(EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_GCM_SET_TAG, kTagSize,
                                 const_cast<unsigned char*>(in + size)),
             "tag");
    CheckSsl(EVP_DecryptFinal_ex(ctx_.get(), out + size, &len), "authenticate");
  }

 private:
  void SetNonce(uint64_t index) {
    for (int i = 0; i < 8; ++i) nonce_[4 + i] = static_cast<unsigned char>(index >> (56 - 8 * i));
  }

  EvpCipherCtxPtr ctx_;
  EvpCipherPtr cipher_;
  unsigned char nonce_[12] = {};
  unsigned char aad_[32] = {};
};

void BM_RawAes256GcmSeal(benchmark::State& state) {
  const std::string plaintext = Document(state.range(0));
  const auto* in = reinterpret_cast<const unsigned char*>(plaintext.data());
  std::string out(kChunkSize + kTagSize, '\0');
  RawGcm gcm(/*encrypt=*/1);
  const uint64_t size = plaintext.size();
  for (auto _ : state) {
    for (uint64_t i = 0; i < attachment::ChunkCount(size); ++i) {
      gcm.Seal(i, in + i * kChunkSize, attachment::PlaintextChunkSize(size, i),
               reinterpret_cast<unsigned char*>(out.data()));
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_RawAes256GcmOpen(benchmark::State& state) {
  const std::string plaintext = Document(state.range(0));
  const uint64_t size = plaintext.size();
  std::string ciphertext(attachment::CiphertextSize(size), '\0');
  auto* sealed = reinterpret_cast<unsigned char*>(ciphertext.data());
  {
    RawGcm sealer(/*encrypt=*/1);
    for (uint64_t i = 0; i < attachment::ChunkCount(size); ++i) {
      sealer.Seal(i, reinterpret_cast<const unsigned char*>(plaintext.data()) + i * kChunkSize,
                  attachment::PlaintextChunkSize(size, i),
                  sealed + attachment::CiphertextChunkOffset(i));
    }
  }
  std::string out(kChunkSize, '\0');
  RawGcm gcm(/*encrypt=*/0);
  for (auto _ : state) {
    for (uint64_t i = 0; i < attachment::ChunkCount(size); ++i) {
      gcm.Open(i, sealed + attachment::CiphertextChunkOffset(i),
               attachment::PlaintextChunkSize(size, i),
               reinterpret_cast<unsigned char*>(out.data()));
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_RawSha256(benchmark::State& state) {
  const std::string ciphertext =
      Document(static_cast<int64_t>(attachment::CiphertextSize(state.range(0))));
  EvpMdPtr sha256(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!sha256 || !ctx) std::abort();
  unsigned char digest[32];
  for (auto _ : state) {
    CheckSsl(EVP_DigestInit_ex2(ctx.get(), sha256.get(), nullptr), "init");
    for (size_t offset = 0; offset < ciphertext.size(); offset += attachment::kSealedChunkSize) {
      const size_t size = std::min(attachment::kSealedChunkSize, ciphertext.size() - offset);
      CheckSsl(EVP_DigestUpdate(ctx.get(), ciphertext.data() + offset, size), "update");
    }
    CheckSsl(EVP_DigestFinal_ex(ctx.get(), digest, nullptr), "final");
    benchmark::DoNotOptimize(digest);
  }
  // Plaintext bytes, as everywhere here, so the rates line up.
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

// A temporary directory for the file benchmarks, removed at exit.
class BenchDir {
 public:
  static const std::string& Path() {
    static BenchDir dir;
    return dir.path_;
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

 private:
  BenchDir() {
    char pattern[] = "/tmp/carerelay-attachment-bench-XXXXXX";
    const char* made = mkdtemp(pattern);
    if (made == nullptr) std::abort();
    path_ = made;
  }
  std::string path_;
};

void WriteDocument(const std::string& path, int64_t size) {
  const std::string bytes = Document(size);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.good()) std::abort();
}

void BM_EncryptFile(benchmark::State& state) {
  const std::string in = BenchDir::Path() + "/plain";
  WriteDocument(in, state.range(0));
  for (auto _ : state) {
    AttachmentSecrets secrets = Check(EncryptFile(in, BenchDir::Path() + "/sealed"), "encrypt");
    benchmark::DoNotOptimize(secrets);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_DecryptFile(benchmark::State& state) {
  const std::string in = BenchDir::Path() + "/plain";
  const std::string sealed = BenchDir::Path() + "/sealed";
  WriteDocument(in, state.range(0));
  const AttachmentSecrets secrets = Check(EncryptFile(in, sealed), "encrypt");
  for (auto _ : state) {
    Check(DecryptFile(sealed, secrets, BenchDir::Path() + "/opened"), "decrypt");
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

#define CARERELAY_SIZES Arg(1 << 20)->Arg(16 << 20)->Unit(benchmark::kMillisecond)
BENCHMARK(BM_AttachmentEncrypt)->CARERELAY_SIZES;
BENCHMARK(BM_RawAes256GcmSeal)->CARERELAY_SIZES;
BENCHMARK(BM_AttachmentDecrypt)->CARERELAY_SIZES;
BENCHMARK(BM_RawAes256GcmOpen)->CARERELAY_SIZES;
BENCHMARK(BM_RawSha256)->CARERELAY_SIZES;
BENCHMARK(BM_EncryptFile)->CARERELAY_SIZES->UseRealTime();
BENCHMARK(BM_DecryptFile)->CARERELAY_SIZES->UseRealTime();

}  // namespace
}  // namespace carerelay::crypto

BENCHMARK_MAIN();
