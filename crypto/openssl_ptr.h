// RAII ownership of the OpenSSL 3 objects crypto/ uses. Each deleter is the
// matching *_free function (all of which accept nullptr).

#ifndef CARERELAY_CRYPTO_OPENSSL_PTR_H_
#define CARERELAY_CRYPTO_OPENSSL_PTR_H_

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <memory>

namespace carerelay::crypto {

struct EvpCipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using EvpCipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, EvpCipherCtxDeleter>;

struct EvpCipherDeleter {
  void operator()(EVP_CIPHER* cipher) const { EVP_CIPHER_free(cipher); }
};
using EvpCipherPtr = std::unique_ptr<EVP_CIPHER, EvpCipherDeleter>;

struct EvpMdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, EvpMdCtxDeleter>;

struct EvpMdDeleter {
  void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};
using EvpMdPtr = std::unique_ptr<EVP_MD, EvpMdDeleter>;

struct EvpMacDeleter {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
};
using EvpMacPtr = std::unique_ptr<EVP_MAC, EvpMacDeleter>;

struct EvpMacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using EvpMacCtxPtr = std::unique_ptr<EVP_MAC_CTX, EvpMacCtxDeleter>;

struct EvpKdfDeleter {
  void operator()(EVP_KDF* kdf) const { EVP_KDF_free(kdf); }
};
using EvpKdfPtr = std::unique_ptr<EVP_KDF, EvpKdfDeleter>;

struct EvpKdfCtxDeleter {
  void operator()(EVP_KDF_CTX* ctx) const { EVP_KDF_CTX_free(ctx); }
};
using EvpKdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, EvpKdfCtxDeleter>;

}  // namespace carerelay::crypto

#endif  // CARERELAY_CRYPTO_OPENSSL_PTR_H_
