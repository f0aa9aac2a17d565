// The signal_crypto_provider that libsignal-protocol-c needs, backed by
// OpenSSL 3: random bytes (RAND_bytes), HMAC-SHA256 (EVP_MAC), SHA-512
// (EVP_MD) and AES in CBC mode with PKCS#5 padding or CTR mode without
// padding (EVP_CIPHER), with 128-, 192- or 256-bit keys and 16-byte IVs.
//
// libsignal only ever calls these through the function pointers; they are
// exposed so that tests can check them against published vectors.
//
// Thread-safety: every callback is reentrant. The OpenSSL algorithm objects
// are fetched once per process (thread-safe static) and are immutable; all
// per-call state lives in the context libsignal passes in.
//
// Errors: callbacks return 0 on success, SG_ERR_INVAL for a cipher mode, key
// or IV length libsignal never uses, SG_ERR_INVALID_MESSAGE when CBC padding is
// wrong on decrypt, SG_ERR_NOMEM when a buffer cannot be allocated and
// SG_ERR_UNKNOWN when OpenSSL itself fails.

#ifndef CARERELAY_CRYPTO_OPENSSL_PROVIDER_H_
#define CARERELAY_CRYPTO_OPENSSL_PROVIDER_H_

#include <signal/signal_protocol.h>

namespace carerelay::crypto {

// A provider with every callback set and user_data == nullptr. The returned
// struct is a plain value; install it with signal_context_set_crypto_provider
// (SignalContext does so).
signal_crypto_provider OpenSslCryptoProvider();

}  // namespace carerelay::crypto

#endif  // CARERELAY_CRYPTO_OPENSSL_PROVIDER_H_
