// SignalContext: owns one libsignal global context (signal_context) with the
// OpenSSL crypto provider, a recursive lock and a log sink installed.
//
// libsignal calls lock/unlock around every stateful operation and calls them
// re-entrantly (an operation calls another), hence a std::recursive_mutex.
// crypto/ classes also hold this same mutex for the whole of each public call,
// so that a check and the operation it guards (e.g. "identity still trusted"
// then "encrypt") are atomic with respect to other threads using the profile.
//
// Ownership: not copyable or movable (libsignal keeps a pointer to it as the
// callbacks' user_data). Destroy it after every libsignal object created with
// it (store contexts, ciphers, builders): ProfileStore owns one per profile.
//
// Thread-safety: get() and mutex() may be called from any thread; libsignal
// objects using the context must be used under mutex() (libsignal locks
// itself for its own stateful operations; crypto/ locks around whole calls).

#ifndef CARERELAY_CRYPTO_SIGNAL_CONTEXT_H_
#define CARERELAY_CRYPTO_SIGNAL_CONTEXT_H_

#include <signal/signal_protocol.h>

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "crypto/signal_ptr.h"

namespace carerelay::crypto {

class SignalContext {
 public:
  // Internal if libsignal cannot allocate or accept the provider.
  static absl::StatusOr<std::unique_ptr<SignalContext>> Create();

  struct PrivateTag {};
  explicit SignalContext(PrivateTag) {}  // use Create()
  SignalContext(const SignalContext&) = delete;
  SignalContext& operator=(const SignalContext&) = delete;
  ~SignalContext();

  signal_context* get() const { return context_.get(); }
  std::recursive_mutex& mutex() { return mutex_; }

  // The last warning or error libsignal logged since the previous call, then
  // cleared. libsignal often knows more than its return code ("No valid
  // sessions", "invalid signature on device key!"); crypto/ appends this to
  // error messages. Call with mutex() held for a result tied to one call.
  std::string TakeLastLog();

 private:
  static void Lock(void* user_data);
  static void Unlock(void* user_data);
  static void Log(int level, const char* message, size_t len, void* user_data);

  std::recursive_mutex mutex_;
  std::string last_log_;  // guarded by mutex_
  SignalContextPtr context_;
};

}  // namespace carerelay::crypto

#endif  // CARERELAY_CRYPTO_SIGNAL_CONTEXT_H_
