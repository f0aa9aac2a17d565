#include "crypto/openssl_provider.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <climits>
#include <cstddef>
#include <cstdint>

#include "crypto/openssl_ptr.h"
#include "crypto/signal_ptr.h"

namespace carerelay::crypto {
namespace {

// OpenSSL 3 resolves algorithms through providers; fetching on every call
// (what EVP_sha512() and friends do implicitly) costs a lock and a lookup, so
// the algorithms are fetched once. The object is a function-local static:
// it is constructed after OpenSSL has initialised (and registered its own
// atexit cleanup), so it is destroyed before OpenSSL tears down.
struct Algorithms {
  EvpMacPtr hmac;
  EvpMdPtr sha512;
  // [mode][key size]: mode 0 = CBC, 1 = CTR; key size 0/1/2 = 128/192/256.
  EvpCipherPtr ciphers[2][3];

  Algorithms() {
    hmac.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    sha512.reset(EVP_MD_fetch(nullptr, "SHA512", nullptr));
    static constexpr const char* kNames[2][3] = {{"AES-128-CBC", "AES-192-CBC", "AES-256-CBC"},
                                                 {"AES-128-CTR", "AES-192-CTR", "AES-256-CTR"}};
    for (int mode = 0; mode < 2; ++mode) {
      for (int size = 0; size < 3; ++size) {
        ciphers[mode][size].reset(EVP_CIPHER_fetch(nullptr, kNames[mode][size], nullptr));
      }
    }
  }
};

const Algorithms& Algos() {
  static const Algorithms algorithms;
  return algorithms;
}

constexpr size_t kAesBlockSize = 16;
constexpr size_t kSha256Size = 32;
constexpr size_t kSha512Size = 64;

// Returns the cipher for libsignal's (mode, key length), or nullptr.
const EVP_CIPHER* SelectCipher(int cipher, size_t key_len) {
  int mode;
  switch (cipher) {
    case SG_CIPHER_AES_CBC_PKCS5:
      mode = 0;
      break;
    case SG_CIPHER_AES_CTR_NOPADDING:
      mode = 1;
      break;
    default:
      return nullptr;
  }
  int size;
  switch (key_len) {
    case 16:
      size = 0;
      break;
    case 24:
      size = 1;
      break;
    case 32:
      size = 2;
      break;
    default:
      return nullptr;
  }
  return Algos().ciphers[mode][size].get();
}

int RandomBytes(uint8_t* data, size_t len, void* /*user_data*/) {
  // RAND_bytes takes an int length; libsignal asks for at most a few dozen
  // bytes, but stay correct for any size.
  while (len > 0) {
    const int chunk = len > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(len);
    if (RAND_bytes(data, chunk) != 1) return SG_ERR_UNKNOWN;
    data += chunk;
    len -= static_cast<size_t>(chunk);
  }
  return 0;
}

int HmacSha256Init(void** hmac_context, const uint8_t* key, size_t key_len, void* /*user_data*/) {
  const EVP_MAC* mac = Algos().hmac.get();
  if (mac == nullptr) return SG_ERR_UNKNOWN;
  EvpMacCtxPtr ctx(EVP_MAC_CTX_new(const_cast<EVP_MAC*>(mac)));
  if (!ctx) return SG_ERR_NOMEM;
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  // EVP_MAC_init treats a NULL/empty key as "keep the previous key", which a
  // fresh context does not have. HMAC pads keys with zero bytes to the block
  // size, so the empty key and the one-zero-byte key give the same MAC.
  static const uint8_t kZero = 0;
  if (key_len == 0) {
    key = &kZero;
    key_len = 1;
  }
  if (EVP_MAC_init(ctx.get(), key, key_len, params) != 1) return SG_ERR_UNKNOWN;
  *hmac_context = ctx.release();
  return 0;
}

int HmacSha256Update(void* hmac_context, const uint8_t* data, size_t data_len,
                     void* /*user_data*/) {
  if (EVP_MAC_update(static_cast<EVP_MAC_CTX*>(hmac_context), data, data_len) != 1) {
    return SG_ERR_UNKNOWN;
  }
  return 0;
}

int HmacSha256Final(void* hmac_context, signal_buffer** output, void* /*user_data*/) {
  uint8_t mac[kSha256Size];
  size_t mac_len = 0;
  if (EVP_MAC_final(static_cast<EVP_MAC_CTX*>(hmac_context), mac, &mac_len, sizeof(mac)) != 1 ||
      mac_len != sizeof(mac)) {
    return SG_ERR_UNKNOWN;
  }
  signal_buffer* result = signal_buffer_create(mac, mac_len);
  if (result == nullptr) return SG_ERR_NOMEM;
  *output = result;
  return 0;
}

void HmacSha256Cleanup(void* hmac_context, void* /*user_data*/) {
  EvpMacCtxPtr ctx(static_cast<EVP_MAC_CTX*>(hmac_context));
}

int Sha512Init(void** digest_context, void* /*user_data*/) {
  const EVP_MD* md = Algos().sha512.get();
  if (md == nullptr) return SG_ERR_UNKNOWN;
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return SG_ERR_NOMEM;
  if (EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1) return SG_ERR_UNKNOWN;
  *digest_context = ctx.release();
  return 0;
}

int Sha512Update(void* digest_context, const uint8_t* data, size_t data_len, void* /*user_data*/) {
  if (EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(digest_context), data, data_len) != 1) {
    return SG_ERR_UNKNOWN;
  }
  return 0;
}

int Sha512Final(void* digest_context, signal_buffer** output, void* /*user_data*/) {
  auto* ctx = static_cast<EVP_MD_CTX*>(digest_context);
  uint8_t digest[kSha512Size];
  unsigned int digest_len = 0;
  if (EVP_DigestFinal_ex(ctx, digest, &digest_len) != 1 || digest_len != sizeof(digest)) {
    return SG_ERR_UNKNOWN;
  }
  // The contract: "prepare the context for reuse". libsignal's fingerprint
  // code hashes several times with one context.
  if (EVP_DigestInit_ex2(ctx, Algos().sha512.get(), nullptr) != 1) return SG_ERR_UNKNOWN;
  signal_buffer* result = signal_buffer_create(digest, digest_len);
  if (result == nullptr) return SG_ERR_NOMEM;
  *output = result;
  return 0;
}

void Sha512Cleanup(void* digest_context, void* /*user_data*/) {
  EvpMdCtxPtr ctx(static_cast<EVP_MD_CTX*>(digest_context));
}

// Shared by encrypt and decrypt; `encrypt` selects the direction.
int AesCrypt(bool encrypt, signal_buffer** output, int cipher, const uint8_t* key, size_t key_len,
             const uint8_t* iv, size_t iv_len, const uint8_t* input, size_t input_len) {
  const EVP_CIPHER* evp_cipher = SelectCipher(cipher, key_len);
  if (evp_cipher == nullptr || iv_len != kAesBlockSize) return SG_ERR_INVAL;
  // EVP_CipherUpdate takes int lengths; keep room for one padding block.
  if (input_len > static_cast<size_t>(INT_MAX) - 2 * kAesBlockSize) return SG_ERR_INVAL;
  const bool cbc = cipher == SG_CIPHER_AES_CBC_PKCS5;
  if (cbc && !encrypt && (input_len == 0 || input_len % kAesBlockSize != 0)) {
    return SG_ERR_INVALID_MESSAGE;
  }

  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return SG_ERR_NOMEM;
  if (EVP_CipherInit_ex2(ctx.get(), evp_cipher, key, iv, encrypt ? 1 : 0, nullptr) != 1) {
    return SG_ERR_UNKNOWN;
  }

  // CBC encryption adds 1..16 bytes of padding and decryption removes them;
  // CTR preserves the length. OpenSSL documents that CBC output buffers need
  // room for input + one block in both directions, so allocate that, then
  // trim to the real length.
  const size_t capacity = cbc ? input_len + kAesBlockSize : input_len;
  SignalBuffer out(signal_buffer_alloc(capacity));
  if (!out) return SG_ERR_NOMEM;
  uint8_t* out_data = signal_buffer_data(out.get());
  int update_len = 0;
  if (EVP_CipherUpdate(ctx.get(), out_data, &update_len, input, static_cast<int>(input_len)) != 1) {
    return SG_ERR_UNKNOWN;
  }
  int final_len = 0;
  if (EVP_CipherFinal_ex(ctx.get(), out_data + update_len, &final_len) != 1) {
    // The only way final fails on a well-formed call is bad CBC padding.
    return encrypt ? SG_ERR_UNKNOWN : SG_ERR_INVALID_MESSAGE;
  }
  const size_t total = static_cast<size_t>(update_len) + static_cast<size_t>(final_len);
  if (total > capacity) return SG_ERR_UNKNOWN;  // cannot happen; never overrun silently
  if (total == capacity) {
    *output = out.release();
    return 0;
  }
  signal_buffer* trimmed = signal_buffer_create(out_data, total);
  if (trimmed == nullptr) return SG_ERR_NOMEM;
  *output = trimmed;
  return 0;  // `out` (holding plaintext when decrypting) is wiped on release
}

int AesEncrypt(signal_buffer** output, int cipher, const uint8_t* key, size_t key_len,
               const uint8_t* iv, size_t iv_len, const uint8_t* plaintext, size_t plaintext_len,
               void* /*user_data*/) {
  return AesCrypt(true, output, cipher, key, key_len, iv, iv_len, plaintext, plaintext_len);
}

int AesDecrypt(signal_buffer** output, int cipher, const uint8_t* key, size_t key_len,
               const uint8_t* iv, size_t iv_len, const uint8_t* ciphertext, size_t ciphertext_len,
               void* /*user_data*/) {
  return AesCrypt(false, output, cipher, key, key_len, iv, iv_len, ciphertext, ciphertext_len);
}

}  // namespace

signal_crypto_provider OpenSslCryptoProvider() {
  signal_crypto_provider provider = {};
  provider.random_func = &RandomBytes;
  provider.hmac_sha256_init_func = &HmacSha256Init;
  provider.hmac_sha256_update_func = &HmacSha256Update;
  provider.hmac_sha256_final_func = &HmacSha256Final;
  provider.hmac_sha256_cleanup_func = &HmacSha256Cleanup;
  provider.sha512_digest_init_func = &Sha512Init;
  provider.sha512_digest_update_func = &Sha512Update;
  provider.sha512_digest_final_func = &Sha512Final;
  provider.sha512_digest_cleanup_func = &Sha512Cleanup;
  provider.encrypt_func = &AesEncrypt;
  provider.decrypt_func = &AesDecrypt;
  provider.user_data = nullptr;
  return provider;
}

}  // namespace carerelay::crypto
