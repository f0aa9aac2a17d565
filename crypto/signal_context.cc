#include "crypto/signal_context.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crypto/openssl_provider.h"

namespace carerelay::crypto {

absl::StatusOr<std::unique_ptr<SignalContext>> SignalContext::Create() {
  auto result = std::make_unique<SignalContext>(PrivateTag{});
  SignalContext* self = result.get();
  int rc = signal_context_create(Out(self->context_), self);
  if (rc < 0) {
    return absl::InternalError(absl::StrCat("signal_context_create failed (", rc, ")"));
  }
  const signal_crypto_provider provider = OpenSslCryptoProvider();
  rc = signal_context_set_crypto_provider(self->get(), &provider);
  if (rc < 0) {
    return absl::InternalError(absl::StrCat("cannot install the crypto provider (", rc, ")"));
  }
  rc = signal_context_set_locking_functions(self->get(), &SignalContext::Lock,
                                            &SignalContext::Unlock);
  if (rc < 0) {
    return absl::InternalError(absl::StrCat("cannot install the locking functions (", rc, ")"));
  }
  rc = signal_context_set_log_function(self->get(), &SignalContext::Log);
  if (rc < 0) {
    return absl::InternalError(absl::StrCat("cannot install the log function (", rc, ")"));
  }
  return result;
}

SignalContext::~SignalContext() = default;

std::string SignalContext::TakeLastLog() {
  std::lock_guard<std::recursive_mutex> lock(mutex_);
  return std::exchange(last_log_, std::string());
}

void SignalContext::Lock(void* user_data) { static_cast<SignalContext*>(user_data)->mutex_.lock(); }

void SignalContext::Unlock(void* user_data) {
  static_cast<SignalContext*>(user_data)->mutex_.unlock();
}

void SignalContext::Log(int level, const char* message, size_t len, void* user_data) {
  // Info and debug messages ("letting bundled message fall through") are
  // normal operation; keep only what explains a failure.
  if (level > SG_LOG_WARNING || message == nullptr) return;
  auto* self = static_cast<SignalContext*>(user_data);
  std::lock_guard<std::recursive_mutex> lock(self->mutex_);
  self->last_log_.assign(message, len);
}

}  // namespace carerelay::crypto
