#include "crypto/at_rest_cipher.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <climits>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "crypto/openssl_ptr.h"

namespace carerelay::crypto {
namespace {

const unsigned char* U8(absl::string_view bytes) {
  return reinterpret_cast<const unsigned char*>(bytes.data());
}

// Fetched once: every session update seals a record, and EVP_aes_256_gcm()
// would re-fetch the implementation on each init.
const EVP_CIPHER* Aes256Gcm() {
  static const EvpCipherPtr cipher(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
  return cipher.get();
}

}  // namespace

absl::Status ValidateScryptParams(const ScryptParams& params) {
  const bool power_of_two = params.n != 0 && (params.n & (params.n - 1)) == 0;
  if (!power_of_two || params.n < (uint64_t{1} << 10) || params.n > (uint64_t{1} << 22)) {
    return absl::InvalidArgumentError(
        absl::StrCat("scrypt N must be a power of two in 2^10..2^22, got ", params.n));
  }
  if (params.r < 1 || params.r > 32) {
    return absl::InvalidArgumentError(absl::StrCat("scrypt r must be in 1..32, got ", params.r));
  }
  if (params.p < 1 || params.p > 16) {
    return absl::InvalidArgumentError(absl::StrCat("scrypt p must be in 1..16, got ", params.p));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Scrypt(absl::string_view passphrase, absl::string_view salt,
                                   const ScryptParams& params, size_t out_len) {
  EvpKdfPtr kdf(EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_SCRYPT, nullptr));
  if (!kdf) return absl::InternalError("OpenSSL has no SCRYPT KDF");
  EvpKdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return absl::ResourceExhaustedError("cannot allocate a KDF context");
  uint64_t n = params.n;
  uint32_t r = params.r;
  uint32_t p = params.p;
  // 128 * r * N is what scrypt needs; OpenSSL's default cap (1 GiB) is above
  // anything ValidateScryptParams allows, but the RFC vectors go further.
  uint64_t maxmem = uint64_t{2} << 30;
  const OSSL_PARAM kdf_params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
                                        const_cast<char*>(passphrase.data()), passphrase.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
      OSSL_PARAM_construct_end()};
  std::string out(out_len, '\0');
  if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     kdf_params) != 1) {
    return absl::InternalError("scrypt key derivation failed");
  }
  return out;
}

absl::StatusOr<AtRestCipher> AtRestCipher::FromPassphrase(absl::string_view passphrase,
                                                          absl::string_view salt,
                                                          const ScryptParams& params) {
  if (passphrase.empty()) return absl::InvalidArgumentError("empty passphrase");
  if (salt.size() != kSaltSize) {
    return absl::InvalidArgumentError(absl::StrCat("salt must be ", kSaltSize, " bytes"));
  }
  if (absl::Status s = ValidateScryptParams(params); !s.ok()) return s;
  absl::StatusOr<std::string> key = Scrypt(passphrase, salt, params, kKeySize);
  if (!key.ok()) return key.status();
  absl::StatusOr<AtRestCipher> cipher = FromKey(*key);
  OPENSSL_cleanse(key->data(), key->size());
  return cipher;
}

absl::StatusOr<AtRestCipher> AtRestCipher::FromKey(absl::string_view key) {
  if (key.size() != kKeySize) {
    return absl::InvalidArgumentError(absl::StrCat("key must be ", kKeySize, " bytes"));
  }
  AtRestCipher cipher;
  std::memcpy(cipher.key_, key.data(), kKeySize);
  return cipher;
}

AtRestCipher::AtRestCipher(AtRestCipher&& other) noexcept {
  std::memcpy(key_, other.key_, kKeySize);
  other.Wipe();
}

AtRestCipher& AtRestCipher::operator=(AtRestCipher&& other) noexcept {
  if (this != &other) {
    std::memcpy(key_, other.key_, kKeySize);
    other.Wipe();
  }
  return *this;
}

AtRestCipher::~AtRestCipher() { Wipe(); }

void AtRestCipher::Wipe() { OPENSSL_cleanse(key_, kKeySize); }

absl::StatusOr<std::string> AtRestCipher::Seal(absl::string_view associated_data,
                                               absl::string_view plaintext) const {
  if (plaintext.size() > static_cast<size_t>(INT_MAX) ||
      associated_data.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("record too large to seal");
  }
  std::string sealed(kNonceSize + plaintext.size() + kTagSize, '\0');
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  if (RAND_bytes(out, kNonceSize) != 1) return absl::InternalError("RAND_bytes failed");

  if (Aes256Gcm() == nullptr) return absl::InternalError("OpenSSL has no AES-256-GCM");
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return absl::ResourceExhaustedError("cannot allocate a cipher context");
  int len = 0;
  if (EVP_EncryptInit_ex2(ctx.get(), Aes256Gcm(), key_, out, nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, U8(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out + kNonceSize, &len, U8(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out + kNonceSize + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize,
                          out + kNonceSize + plaintext.size()) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  return sealed;
}

absl::StatusOr<std::string> AtRestCipher::Open(absl::string_view associated_data,
                                               absl::string_view sealed) const {
  if (sealed.size() < kNonceSize + kTagSize) {
    return absl::DataLossError("sealed record is truncated");
  }
  const size_t body_len = sealed.size() - kNonceSize - kTagSize;
  if (body_len > static_cast<size_t>(INT_MAX) ||
      associated_data.size() > static_cast<size_t>(INT_MAX)) {
    return absl::DataLossError("sealed record is too large");
  }
  const unsigned char* in = U8(sealed);
  std::string plaintext(body_len, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());

  if (Aes256Gcm() == nullptr) return absl::InternalError("OpenSSL has no AES-256-GCM");
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return absl::ResourceExhaustedError("cannot allocate a cipher context");
  int len = 0;
  if (EVP_DecryptInit_ex2(ctx.get(), Aes256Gcm(), key_, in, nullptr) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, U8(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out, &len, in + kNonceSize, static_cast<int>(body_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize,
                          const_cast<unsigned char*>(in + kNonceSize + body_len)) != 1) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return absl::InternalError("AES-256-GCM decryption failed to start");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), out + len, &len) != 1) {
    // Wrong key, wrong slot or modified bytes: GCM cannot tell which.
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return absl::DataLossError("sealed record failed authentication");
  }
  return plaintext;
}

}  // namespace carerelay::crypto
