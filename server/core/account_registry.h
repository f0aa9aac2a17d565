// Accounts and their devices: enrollment codes, registration, device linking,
// revocation, and authentication of every call.
//
// Enrollment: an administrator issues a single-use code bound to a display
// name, an account kind and an expiry (out of band, e.g. on paper). A device
// registers with it, creating the account. A registered device can issue a
// link code that registers another device on the same account.
//
// Secrets: the server returns a random 256-bit device secret once and keeps
// only its SHA-256; authentication compares hashes in constant time. Codes
// are stored only as hashes too.
//
// Every call authenticates, so the stored hashes of devices that called are
// cached in memory (no store read per call). Revocation drops the entry
// before RevokeDevice returns, and an entry read before a revocation is
// never cached after it (a revocation count guards the insert): the very
// next call of a revoked device fails. device_generation() moves after every
// commit that adds or revokes a device, for the caches of others (care_teams.h).
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_CORE_ACCOUNT_REGISTRY_H_
#define CARERELAY_SERVER_CORE_ACCOUNT_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "carerelay/v1/accounts.pb.h"
#include "server/core/account_functions.h"
#include "server/core/clock.h"
#include "server/core/delivery_hub.h"
#include "server/core/limits.h"
#include "server/core/rate_limiter.h"
#include "server/core/refusal_hold.h"
#include "server/store/account_table.h"
#include "server/store/database.h"
#include "server/store/prekey_table.h"
#include "server/store/queue_table.h"
#include "server/store/receipt_table.h"
#include "server/store/send_key_table.h"

namespace carerelay::core {

struct IssuedCode {
  std::string code;  // e.g. "7KQ2M-X9TRD-4HB8N-CW3PZ"
  absl::Time expires_at;
};

struct Registration {
  store::DeviceRef device;
  std::string secret;  // raw 32 bytes
  std::string display_name;
  v1::AccountKind kind;
  std::vector<v1::Function> functions;
};

class AccountRegistry {
 public:
  // All pointers must outlive the registry.
  AccountRegistry(store::Database* db, DeliveryHub* hub, store::QueueTable* queues,
                  const Clock* clock, const Limits& limits);

  // A code for a new account of `kind` holding `functions` once registered
  // (a legacy CASE_MANAGER or HELPDESK kind: STAFF with that function,
  // account_functions.h). INVALID_ARGUMENT for an empty or too long name, an
  // unspecified kind, or functions the kind cannot hold.
  absl::StatusOr<IssuedCode> IssueEnrollmentCode(const std::string& display_name,
                                                 v1::AccountKind kind, absl::Duration ttl,
                                                 const std::vector<v1::Function>& functions = {});
  // A code registering another device of `by`'s account. The device secret
  // that authenticated the call is not enough: `request` must carry a
  // signature by `by`'s identity key over LinkDeviceStatement (proto/
  // link_device.h) dated within kLinkRequestMaxSkewSeconds of now, so that a
  // copy of a profile without its passphrase (whose identity key is sealed)
  // cannot add a device. When the code is used, Register announces the new
  // device to the account's other devices (Alert.KIND_DEVICE_ADDED).
  // INVALID_ARGUMENT: ttl out of range. UNAUTHENTICATED: no signature, a
  // stale or future date, or a signature that does not verify.
  absl::StatusOr<IssuedCode> IssueLinkCode(const store::DeviceRef& by, absl::Duration ttl,
                                           const v1::LinkDeviceRequest& request);

  // Registers a device with a code and its public keys. `client_address`
  // (the peer) is rate limited, so codes cannot be guessed at speed.
  // NOT_FOUND: unknown code. FAILED_PRECONDITION: code used or expired, or
  // the account has its maximum of devices. INVALID_ARGUMENT: key material.
  // RESOURCE_EXHAUSTED: too many registrations from this address.
  absl::StatusOr<Registration> Register(const v1::RegisterRequest& request,
                                        const std::string& client_address);

  // The device whose credentials these are. UNAUTHENTICATED if malformed,
  // unknown, wrong or revoked (the message does not say which of the first
  // three, so credentials cannot be probed).
  absl::StatusOr<store::DeviceRef> Authenticate(absl::string_view account_hex,
                                                absl::string_view device_id,
                                                absl::string_view secret) const;

  // Takes `cost` from the device's call budget (Limits::calls_per_second,
  // call_burst), which every authenticated call but Send, Receive and Ack
  // spends (api/call_auth.h weighs them). RESOURCE_EXHAUSTED, with
  // ErrorDetail.retry_after_seconds, when it is spent. Blocks up to
  // Limits::refusal_hold first when the device was refused lately and calls
  // before its retry-after (refusal_hold.h): call it only from a handler that
  // may block, never from a callback handler.
  absl::Status ChargeCall(const store::DeviceRef& device, double cost) const;

  // Holds the calls of devices that ignore their retry-after; shared by every
  // handler (the callback ones Defer, the others Wait through ChargeCall).
  RefusalHold& refusal_hold() const { return refusal_hold_; }

  absl::StatusOr<store::AccountRecord> GetAccount(const store::AccountId& account) const;

  // The administrator's change of an account's functions or kind
  // (account_functions.h, ApplyFunctionChange, for the errors; NOT_FOUND
  // for an unknown account). Returns the account as it is now.
  absl::StatusOr<store::AccountRecord> ChangeFunctions(const store::AccountId& account,
                                                       const FunctionChange& change);
  // Every account holding a function or with a logged change, in id order.
  absl::StatusOr<std::vector<store::AccountRecord>> AccountsWithFunctions() const;
  // The accounts holding `function` (a scan: for rare events, such as an
  // escalation to the helpdesk supervisors).
  absl::StatusOr<std::vector<store::AccountId>> AccountsWith(v1::Function function) const;
  // Rewrites accounts stored with a kind from before functions (CASE_MANAGER,
  // HELPDESK) as FromLegacyKind says, logged "migration"; returns how many.
  // Idempotent; the server runs it before serving.
  absl::StatusOr<int> MigrateLegacyKinds();
  // Applies `action` to `staff` on `organisation`'s roster, for the rules
  // and errors of accounts.proto, ChangeRoster (whether the caller may is
  // organisation_rosters.h's to decide). Both accounts' records are written
  // in one commit, and device_generation() moves: who reads the
  // organisation's teams changed. Returns the organisation's record as it
  // is now and whether anything changed (not for on duty when on duty).
  struct RosterChange {
    store::AccountRecord organisation;
    bool changed = false;
  };
  absl::StatusOr<RosterChange> ChangeRoster(const store::AccountId& organisation,
                                            const store::AccountId& staff,
                                            v1::ChangeRosterRequest::Action action);
  // The staff on duty for `organisation`, in roster order; empty for an
  // account that is not an organisation. NOT_FOUND for an unknown account.
  absl::StatusOr<std::vector<store::AccountId>> StaffOnDuty(
      const store::AccountId& organisation) const;

  // Active (not revoked) devices of an account. NOT_FOUND for an unknown
  // account.
  absl::StatusOr<std::vector<store::DeviceRecord>> ActiveDevices(
      const store::AccountId& account) const;
  // True if the device exists and is not revoked.
  bool IsActive(const store::DeviceRef& device) const;
  // Every device ever registered, revoked ones included.
  absl::StatusOr<std::vector<store::DeviceRecord>> AllDevices(
      const store::AccountId& account) const;

  // Revokes `device_id` of `by`'s account: its credentials stop working, its
  // open stream ends, its queue, prekeys, delivery watermarks and
  // idempotency records are deleted. NOT_FOUND if there is no such active
  // device.
  absl::Status RevokeDevice(const store::DeviceRef& by, uint32_t device_id);

  // Deletes expired enrollment and link codes.
  absl::StatusOr<int> DeleteExpiredCodes();

  // Moves after every committed registration, link or revocation: a cache
  // of device lists tagged with it is stale once it moved. Read it before
  // reading the devices.
  uint64_t device_generation() const { return device_generation_.load(std::memory_order_acquire); }

 private:
  // Stores the code's hash in `txn` and commits it.
  absl::StatusOr<IssuedCode> IssueCode(store::Transaction& txn, store::EnrollmentCodeRecord record,
                                       absl::Duration ttl);

  store::Database* db_;
  DeliveryHub* hub_;
  store::QueueTable* queues_;
  const Clock* clock_;
  const Limits limits_;
  store::AccountTable accounts_;
  store::PrekeyTable prekeys_;
  store::ReceiptTable receipts_;
  store::SendKeyTable send_keys_;
  RateLimiter registrations_;
  // Thread-safe; charged from const callers, as authentication is.
  mutable RateLimiter calls_;
  mutable RefusalHold refusal_hold_;
  std::atomic<uint64_t> device_generation_{0};

  // Secret hashes of active devices that authenticated (see above).
  static constexpr size_t kMaxCachedDevices = 100000;
  mutable absl::Mutex auth_mu_;
  mutable absl::flat_hash_map<store::DeviceRef, std::string> auth_cache_ ABSL_GUARDED_BY(auth_mu_);
  uint64_t revocations_ ABSL_GUARDED_BY(auth_mu_) = 0;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_ACCOUNT_REGISTRY_H_
