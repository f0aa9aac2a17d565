#include "crypto/group_manager.h"

#include <signal/group_cipher.h>
#include <signal/group_session_builder.h>
#include <signal/protocol.h>
#include <signal/sender_key_record.h>

#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "crypto/signal_ptr.h"
#include "crypto/signal_status.h"

namespace carerelay::crypto {
namespace {

absl::Status ValidateGroupId(absl::string_view group_id) {
  if (group_id.empty()) return absl::InvalidArgumentError("empty group id");
  // libsignal logs group ids with printf("%s").
  if (group_id.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("group id contains a NUL byte");
  }
  return absl::OkStatus();
}

// A sender key name borrowing `group_id` (NUL-terminated) and `sender`.
signal_protocol_sender_key_name SenderKeyName(const std::string& group_id, const Address& sender) {
  signal_protocol_sender_key_name name;
  name.group_id = group_id.c_str();
  name.group_id_len = group_id.size();
  name.sender = ToSignalAddress(sender);
  return name;
}

}  // namespace

GroupManager::GroupManager(ProfileStore* store, Address self)
    : store_(store), self_(std::move(self)) {}

absl::Status GroupManager::Failure(int code, absl::string_view what) {
  const std::string detail = store_->signal().TakeLastLog();
  if (absl::Status stored = store_->TakeStoreError(); !stored.ok()) {
    return absl::Status(stored.code(), absl::StrCat(what, ": ", stored.message()));
  }
  return SignalError(code, what, detail);
}

absl::StatusOr<std::string> GroupManager::DistributionMessage(absl::string_view group_id) {
  if (absl::Status s = ValidateGroupId(group_id); !s.ok()) return s;
  if (absl::Status s = ValidateAddress(self_); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  store_->ClearErrors();
  const std::string group(group_id);
  const signal_protocol_sender_key_name name = SenderKeyName(group, self_);
  const std::string what = absl::StrCat("sender key of ", self_.ToString(), " in group ", group);
  GroupSessionBuilderPtr builder;
  int rc = group_session_builder_create(Out(builder), store_->store_context(),
                                        store_->signal_context_ptr());
  if (rc < 0) return Failure(rc, what);
  SignalRef<sender_key_distribution_message> message;
  rc = group_session_builder_create_session(builder.get(), Out(message), &name);
  if (rc < 0) return Failure(rc, what);
  if (absl::Status stored = store_->TakeStoreError(); !stored.ok()) return stored;
  // A distribution message is a ciphertext_message (libsignal's base type).
  return BufferToString(
      ciphertext_message_get_serialized(reinterpret_cast<ciphertext_message*>(message.get())));
}

absl::StatusOr<std::string> GroupManager::RotateSenderKey(absl::string_view group_id) {
  if (absl::Status s = ValidateGroupId(group_id); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  if (absl::Status s = store_->DeleteSenderKey(group_id, self_); !s.ok()) return s;
  return DistributionMessage(group_id);
}

absl::Status GroupManager::ProcessDistributionMessage(absl::string_view group_id,
                                                      const Address& sender,
                                                      absl::string_view distribution_message) {
  if (absl::Status s = ValidateGroupId(group_id); !s.ok()) return s;
  if (absl::Status s = ValidateAddress(sender); !s.ok()) return s;
  if (sender == self_) {
    return absl::InvalidArgumentError("a distribution message from this very device");
  }
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  store_->ClearErrors();
  const std::string group(group_id);
  const std::string what =
      absl::StrCat("distribution message from ", sender.ToString(), " for group ", group);
  SignalRef<sender_key_distribution_message> message;
  int rc = sender_key_distribution_message_deserialize(Out(message), Bytes(distribution_message),
                                                       distribution_message.size(),
                                                       store_->signal_context_ptr());
  if (rc < 0) return Failure(rc, what);
  const signal_protocol_sender_key_name name = SenderKeyName(group, sender);
  // libsignal adds a state even for a key id it already holds, at the
  // message's (earlier) iteration, which would let already-decrypted group
  // messages decrypt again. A key already known is kept as it is.
  SignalRef<sender_key_record> record;
  rc = signal_protocol_sender_key_load_key(store_->store_context(), Out(record), &name);
  if (rc < 0) return Failure(rc, what);
  sender_key_state* known = nullptr;
  if (!sender_key_record_is_empty(record.get()) &&
      sender_key_record_get_sender_key_state_by_id(
          record.get(), &known, sender_key_distribution_message_get_id(message.get())) == 0) {
    return absl::OkStatus();
  }
  store_->ClearErrors();  // the lookup above logs a miss
  GroupSessionBuilderPtr builder;
  rc = group_session_builder_create(Out(builder), store_->store_context(),
                                    store_->signal_context_ptr());
  if (rc < 0) return Failure(rc, what);
  rc = group_session_builder_process_session(builder.get(), &name, message.get());
  if (rc < 0) return Failure(rc, what);
  return store_->TakeStoreError();
}

absl::StatusOr<std::string> GroupManager::Encrypt(absl::string_view group_id,
                                                  absl::string_view plaintext) {
  if (absl::Status s = ValidateGroupId(group_id); !s.ok()) return s;
  if (absl::Status s = ValidateAddress(self_); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  store_->ClearErrors();
  const std::string group(group_id);
  const signal_protocol_sender_key_name name = SenderKeyName(group, self_);
  const std::string what = absl::StrCat("group encrypt in ", group);
  GroupCipherPtr cipher;
  int rc = group_cipher_create(Out(cipher), store_->store_context(), &name,
                               store_->signal_context_ptr());
  if (rc < 0) return Failure(rc, what);
  SignalRef<ciphertext_message> message;
  rc = group_cipher_encrypt(cipher.get(), Bytes(plaintext), plaintext.size(), Out(message));
  if (rc == SG_ERR_NO_SESSION) {
    return absl::NotFoundError(
        absl::StrCat(what,
                     ": this device has no sender key for the group yet; create it and send its "
                     "distribution message to the members first (DistributionMessage)"));
  }
  if (rc < 0) return Failure(rc, what);
  if (absl::Status stored = store_->TakeStoreError(); !stored.ok()) return stored;
  return BufferToString(ciphertext_message_get_serialized(message.get()));
}

absl::StatusOr<std::string> GroupManager::Decrypt(absl::string_view group_id, const Address& sender,
                                                  absl::string_view ciphertext) {
  if (absl::Status s = ValidateGroupId(group_id); !s.ok()) return s;
  if (absl::Status s = ValidateAddress(sender); !s.ok()) return s;
  if (ciphertext.empty()) return absl::InvalidArgumentError("empty ciphertext");
  std::lock_guard<std::recursive_mutex> lock(store_->mutex());
  store_->ClearErrors();
  const std::string group(group_id);
  const std::string what = absl::StrCat("group decrypt from ", sender.ToString(), " in ", group);
  SignalRef<sender_key_message> message;
  int rc = sender_key_message_deserialize(Out(message), Bytes(ciphertext), ciphertext.size(),
                                          store_->signal_context_ptr());
  if (rc < 0) return Failure(rc, what);
  const signal_protocol_sender_key_name name = SenderKeyName(group, sender);
  GroupCipherPtr cipher;
  rc = group_cipher_create(Out(cipher), store_->store_context(), &name,
                           store_->signal_context_ptr());
  if (rc < 0) return Failure(rc, what);
  SignalBuffer plaintext;
  rc = group_cipher_decrypt(cipher.get(), message.get(), nullptr, Out(plaintext));
  if (rc < 0) {
    return ExplainDecryptFailure(name, sender_key_message_get_key_id(message.get()), sender, group,
                                 Failure(rc, what));
  }
  if (absl::Status stored = store_->TakeStoreError(); !stored.ok()) return stored;
  return BufferToString(plaintext.get());
}

absl::Status GroupManager::ExplainDecryptFailure(const signal_protocol_sender_key_name& name,
                                                 uint32_t key_id, const Address& sender,
                                                 absl::string_view group_id, absl::Status failure) {
  // libsignal reports an unknown key id as an invalid message; tell the
  // caller it needs a (newer) distribution message instead.
  if (!absl::IsInvalidArgument(failure) && !absl::IsNotFound(failure)) return failure;
  SignalRef<sender_key_record> record;
  if (signal_protocol_sender_key_load_key(store_->store_context(), Out(record), &name) < 0) {
    store_->ClearErrors();
    return failure;
  }
  if (sender_key_record_is_empty(record.get())) {
    return absl::NotFoundError(absl::StrCat(
        "group decrypt from ", sender.ToString(), " in ", group_id,
        ": no sender key from this sender; its distribution message has not been processed"));
  }
  sender_key_state* state = nullptr;
  if (sender_key_record_get_sender_key_state_by_id(record.get(), &state, key_id) < 0) {
    return absl::NotFoundError(absl::StrCat(
        "group decrypt from ", sender.ToString(), " in ", group_id, ": sender key ", key_id,
        " is unknown here; the sender rotated to a key this device was not sent"));
  }
  return failure;
}

absl::Status GroupManager::ForgetSender(absl::string_view group_id, const Address& sender) {
  if (absl::Status s = ValidateGroupId(group_id); !s.ok()) return s;
  return store_->DeleteSenderKey(group_id, sender);
}

}  // namespace carerelay::crypto
