// RAII ownership of libsignal-protocol-c objects.
//
// libsignal has two ownership schemes: reference-counted objects (everything
// built on signal_type_base: keys, records, messages, bundles), released with
// SIGNAL_UNREF; and plain objects with their own *_free/*_destroy function
// (buffers, lists, builders, ciphers, contexts). Every libsignal object that
// crypto/ holds is in one of the unique_ptr types below, so an early return
// never leaks a reference (the test suite runs under LeakSanitizer).
//
// Convention, from libsignal: a function that returns an object through an
// out-parameter (T** out) hands the caller one reference; getters
// (e.g. ec_key_pair_get_public) return borrowed pointers that must not be
// released. Functions that keep an argument take their own reference.

#ifndef CARERELAY_CRYPTO_SIGNAL_PTR_H_
#define CARERELAY_CRYPTO_SIGNAL_PTR_H_

#include <signal/curve.h>
#include <signal/fingerprint.h>
#include <signal/group_cipher.h>
#include <signal/group_session_builder.h>
#include <signal/key_helper.h>
#include <signal/session_builder.h>
#include <signal/session_cipher.h>
#include <signal/signal_protocol.h>

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace carerelay::crypto {

// Reference-counted libsignal objects: releases one reference.
template <typename T>
struct SignalUnref {
  void operator()(T* object) const {
    if (object != nullptr) signal_type_unref(reinterpret_cast<signal_type_base*>(object));
  }
};
template <typename T>
using SignalRef = std::unique_ptr<T, SignalUnref<T>>;

// Buffers are always wiped before they are freed: in crypto/ they carry
// plaintext, private keys or serialized session state.
struct SignalBufferDeleter {
  void operator()(signal_buffer* buffer) const { signal_buffer_bzero_free(buffer); }
};
using SignalBuffer = std::unique_ptr<signal_buffer, SignalBufferDeleter>;

struct SignalIntListDeleter {
  void operator()(signal_int_list* list) const { signal_int_list_free(list); }
};
using SignalIntList = std::unique_ptr<signal_int_list, SignalIntListDeleter>;

struct SignalContextDeleter {
  void operator()(signal_context* context) const { signal_context_destroy(context); }
};
using SignalContextPtr = std::unique_ptr<signal_context, SignalContextDeleter>;

struct StoreContextDeleter {
  void operator()(signal_protocol_store_context* context) const {
    signal_protocol_store_context_destroy(context);
  }
};
using StoreContextPtr = std::unique_ptr<signal_protocol_store_context, StoreContextDeleter>;

struct SessionBuilderDeleter {
  void operator()(session_builder* builder) const { session_builder_free(builder); }
};
using SessionBuilderPtr = std::unique_ptr<session_builder, SessionBuilderDeleter>;

struct SessionCipherDeleter {
  void operator()(session_cipher* cipher) const { session_cipher_free(cipher); }
};
using SessionCipherPtr = std::unique_ptr<session_cipher, SessionCipherDeleter>;

struct GroupSessionBuilderDeleter {
  void operator()(group_session_builder* builder) const { group_session_builder_free(builder); }
};
using GroupSessionBuilderPtr = std::unique_ptr<group_session_builder, GroupSessionBuilderDeleter>;

struct GroupCipherDeleter {
  void operator()(group_cipher* cipher) const { group_cipher_free(cipher); }
};
using GroupCipherPtr = std::unique_ptr<group_cipher, GroupCipherDeleter>;

struct FingerprintGeneratorDeleter {
  void operator()(fingerprint_generator* generator) const { fingerprint_generator_free(generator); }
};
using FingerprintGeneratorPtr = std::unique_ptr<fingerprint_generator, FingerprintGeneratorDeleter>;

// Adapts a unique_ptr to a libsignal out-parameter (T**): `f(Out(owner))`.
// When the full expression ends, `owner` takes whatever f stored (nothing if
// f failed: libsignal sets out-parameters only on success).
template <typename T, typename D>
class OutPtr {
 public:
  explicit OutPtr(std::unique_ptr<T, D>& owner) : owner_(owner) {}
  OutPtr(const OutPtr&) = delete;
  OutPtr& operator=(const OutPtr&) = delete;
  ~OutPtr() { owner_.reset(raw_); }
  operator T**() { return &raw_; }  // NOLINT: implicit by design

 private:
  std::unique_ptr<T, D>& owner_;
  T* raw_ = nullptr;
};
template <typename T, typename D>
OutPtr<T, D> Out(std::unique_ptr<T, D>& owner) {
  return OutPtr<T, D>(owner);
}

// Copies a libsignal buffer into a std::string (crypto/'s byte container).
inline std::string BufferToString(const signal_buffer* buffer) {
  if (buffer == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(signal_buffer_const_data(buffer)),
                     signal_buffer_len(buffer));
}

// A new libsignal buffer holding a copy of `bytes`; nullptr if out of memory.
// Used by store callbacks, where libsignal takes ownership of the buffer.
inline signal_buffer* NewSignalBuffer(absl::string_view bytes) {
  return signal_buffer_create(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

inline const uint8_t* Bytes(absl::string_view bytes) {
  return reinterpret_cast<const uint8_t*>(bytes.data());
}

}  // namespace carerelay::crypto

#endif  // CARERELAY_CRYPTO_SIGNAL_PTR_H_
