#include "crypto/profile_store.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <rocksdb/comparator.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/write_batch_with_index.h>
#include <rocksdb/write_batch.h>
#include <signal/curve.h>
#include <signal/key_helper.h>
#include <signal/ratchet.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace carerelay::crypto {

// Column families. kMeta ("default") holds the format marker and the KDF
// parameters in clear; every other family's values are sealed when the
// profile is encrypted.
enum class ProfileColumn : int {
  kMeta = 0,
  kIdentity,      // "local": own identity; "prekey_counters": PreKeyCounters
  kTrust,         // AddressKey -> pinned identity
  kPreKey,        // IdKey -> session_pre_key record
  kSignedPreKey,  // IdKey -> session_signed_pre_key record
  kSession,       // AddressKey -> session record (+ user record)
  kSenderKey,     // SenderKeyKey -> sender key record (+ user record)
  kApp,           // RecordKey -> application record (PutRecord)
  kCount,
};

namespace {

namespace fs = std::filesystem;
using Cf = ProfileColumn;

rocksdb::Slice S(absl::string_view v) { return rocksdb::Slice(v.data(), v.size()); }

// A family added later is created when an older profile is opened
// (create_missing_column_families), so older profiles keep working.
constexpr const char* kCfNames[] = {"default",       "identity", "trust",      "prekey",
                                    "signed_prekey", "session",  "sender_key", "app"};
static_assert(sizeof(kCfNames) / sizeof(kCfNames[0]) == static_cast<size_t>(Cf::kCount));

constexpr absl::string_view kFormatKey = "format";
constexpr absl::string_view kFormatV1 = "carerelay-profile-1";
constexpr absl::string_view kEncryptionKey = "encryption";
constexpr absl::string_view kEncryptionNone = "none";
constexpr absl::string_view kEncryptionScrypt = "scrypt+aes-256-gcm";
constexpr absl::string_view kKdfKey = "kdf";
constexpr absl::string_view kVerifierKey = "verifier";
constexpr absl::string_view kVerifierPlaintext = "carerelay profile key check v1";
constexpr absl::string_view kLocalIdentityKey = "local";
constexpr absl::string_view kCountersKey = "prekey_counters";

constexpr size_t kPublicKeySize = 33;
constexpr size_t kPrivateKeySize = 32;

// --- Byte encoding ---------------------------------------------------------
// Values use little-endian integers; keys use big-endian so that RocksDB's
// bytewise order is numeric order.

void AppendLe32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void AppendLe64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void AppendBe32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void AppendShortBytes(std::string* out, absl::string_view bytes) {  // < 256 bytes
  out->push_back(static_cast<char>(bytes.size()));
  out->append(bytes.data(), bytes.size());
}

// Bounds-checked reader over a stored value; every Read* fails rather than
// read past the end, so a corrupt record is reported, never overrun.
class Reader {
 public:
  explicit Reader(absl::string_view data) : data_(data) {}
  bool U8(uint8_t* v) {
    if (data_.size() < 1) return false;
    *v = static_cast<uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }
  bool Le32(uint32_t* v) {
    if (data_.size() < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) *v |= uint32_t{static_cast<uint8_t>(data_[i])} << (8 * i);
    data_.remove_prefix(4);
    return true;
  }
  bool Le64(uint64_t* v) {
    if (data_.size() < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v |= uint64_t{static_cast<uint8_t>(data_[i])} << (8 * i);
    data_.remove_prefix(8);
    return true;
  }
  bool Bytes(size_t n, absl::string_view* v) {
    if (data_.size() < n) return false;
    *v = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }
  bool ShortBytes(absl::string_view* v) {
    uint8_t n;
    return U8(&n) && Bytes(n, v);
  }
  absl::string_view Rest() {
    absl::string_view rest = data_;
    data_ = {};
    return rest;
  }
  bool Done() const { return data_.empty(); }

 private:
  absl::string_view data_;
};

std::string AddressKey(const char* name, size_t name_len, int32_t device_id) {
  std::string key(name, name_len);
  key.push_back('\0');
  AppendBe32(&key, static_cast<uint32_t>(device_id));
  return key;
}
std::string AddressKey(const Address& address) {
  return AddressKey(address.account_id.data(), address.account_id.size(),
                    static_cast<int32_t>(address.device_id));
}
std::string AddressKey(const signal_protocol_address* address) {
  return AddressKey(address->name, address->name_len, address->device_id);
}
std::string AccountPrefix(const char* name, size_t name_len) {
  std::string key(name, name_len);
  key.push_back('\0');
  return key;
}
bool ParseAddressKey(absl::string_view key, Address* address) {
  const size_t nul = key.find('\0');
  if (nul == absl::string_view::npos || key.size() != nul + 5) return false;
  address->account_id = std::string(key.substr(0, nul));
  Reader reader(key.substr(nul + 1));
  absl::string_view be;
  if (!reader.Bytes(4, &be)) return false;
  address->device_id = 0;
  for (char c : be) address->device_id = (address->device_id << 8) | static_cast<uint8_t>(c);
  return true;
}
uint32_t DeviceFromAddressKey(absl::string_view key) {
  uint32_t device = 0;
  for (char c : key.substr(key.size() - 4)) device = (device << 8) | static_cast<uint8_t>(c);
  return device;
}
std::string SenderKeyKey(const char* group_id, size_t group_id_len, const char* name,
                         size_t name_len, int32_t device_id) {
  std::string key(group_id, group_id_len);
  key.push_back('\0');
  key += AddressKey(name, name_len, device_id);
  return key;
}
// Application records: kind || NUL || key (a kind has no NUL, so kinds
// never share a prefix).
constexpr size_t kMaxRecordKindSize = 64;
absl::Status ValidateRecordKind(absl::string_view kind) {
  if (kind.empty() || kind.size() > kMaxRecordKindSize ||
      kind.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("an application record kind is 1 to 64 bytes without NUL");
  }
  return absl::OkStatus();
}
std::string RecordPrefix(absl::string_view kind) {
  std::string prefix(kind);
  prefix.push_back('\0');
  return prefix;
}
std::string RecordKey(absl::string_view kind, absl::string_view key) {
  std::string full = RecordPrefix(kind);
  full.append(key.data(), key.size());
  return full;
}
std::string IdKey(uint32_t id) {
  std::string key;
  AppendBe32(&key, id);
  return key;
}
uint32_t ParseIdKey(absl::string_view key) {
  uint32_t id = 0;
  for (char c : key) id = (id << 8) | static_cast<uint8_t>(c);
  return id;
}

// Session and sender key values: u32 record length || record || user record.
std::string EncodeRecord(const uint8_t* record, size_t record_len, const uint8_t* user_record,
                         size_t user_record_len) {
  std::string value;
  value.reserve(4 + record_len + user_record_len);
  AppendLe32(&value, static_cast<uint32_t>(record_len));
  value.append(reinterpret_cast<const char*>(record), record_len);
  if (user_record != nullptr)
    value.append(reinterpret_cast<const char*>(user_record), user_record_len);
  return value;
}
bool DecodeRecord(absl::string_view value, absl::string_view* record,
                  absl::string_view* user_record) {
  Reader reader(value);
  uint32_t record_len;
  if (!reader.Le32(&record_len) || !reader.Bytes(record_len, record)) return false;
  *user_record = reader.Rest();
  return true;
}

std::string EncodePin(const IdentityPin& pin) {
  std::string value(1, '\x01');
  AppendShortBytes(&value, pin.trusted_key);
  AppendShortBytes(&value, pin.changed_key);
  return value;
}
bool DecodePin(absl::string_view value, IdentityPin* pin) {
  Reader reader(value);
  uint8_t version;
  absl::string_view trusted, changed;
  if (!reader.U8(&version) || version != 1 || !reader.ShortBytes(&trusted) ||
      !reader.ShortBytes(&changed) || !reader.Done()) {
    return false;
  }
  pin->trusted_key = std::string(trusted);
  pin->changed_key = std::string(changed);
  return true;
}

std::string EncodeCounters(const PreKeyCounters& c) {
  std::string value;
  AppendLe32(&value, c.next_one_time_prekey_id);
  AppendLe32(&value, c.next_signed_prekey_id);
  AppendLe32(&value, c.current_signed_prekey_id);
  AppendLe32(&value, c.previous_signed_prekey_id);
  return value;
}
bool DecodeCounters(absl::string_view value, PreKeyCounters* c) {
  Reader reader(value);
  return reader.Le32(&c->next_one_time_prekey_id) && reader.Le32(&c->next_signed_prekey_id) &&
         reader.Le32(&c->current_signed_prekey_id) && reader.Le32(&c->previous_signed_prekey_id) &&
         reader.Done();
}

std::string EncodeKdf(absl::string_view salt, const ScryptParams& params) {
  std::string value(1, '\x01');
  value.append(salt.data(), salt.size());
  AppendLe64(&value, params.n);
  AppendLe32(&value, params.r);
  AppendLe32(&value, params.p);
  return value;
}
bool DecodeKdf(absl::string_view value, std::string* salt, ScryptParams* params) {
  Reader reader(value);
  uint8_t version;
  absl::string_view salt_view;
  if (!reader.U8(&version) || version != 1 || !reader.Bytes(AtRestCipher::kSaltSize, &salt_view) ||
      !reader.Le64(&params->n) || !reader.Le32(&params->r) || !reader.Le32(&params->p) ||
      !reader.Done()) {
    return false;
  }
  *salt = std::string(salt_view);
  return true;
}

std::string EncodeLocalIdentity(const LocalIdentity& identity, absl::string_view private_key) {
  std::string value;
  AppendLe32(&value, identity.registration_id);
  AppendShortBytes(&value, identity.identity_key);
  AppendShortBytes(&value, private_key);
  return value;
}

absl::Status FromRocks(const rocksdb::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat(what, ": ", status.ToString());
  if (status.IsNotFound()) return absl::NotFoundError(message);
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsNoSpace()) return absl::ResourceExhaustedError(message);
  if (status.IsIOError() && absl::StrContains(status.ToString(), "lock")) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": the profile is already open (in this or another process): ", status.ToString()));
  }
  return absl::InternalError(message);
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("profile record corrupt: ", what));
}

}  // namespace

// --- libsignal store callbacks ----------------------------------------------
//
// libsignal calls these with its lock (our mutex) held. They return libsignal
// codes; the real cause of a failure is kept with RecordStoreError.

struct ProfileStoreCallbacks {
  static ProfileStore* Self(void* user_data) { return static_cast<ProfileStore*>(user_data); }

  static int Fail(ProfileStore* self, absl::Status status) {
    self->RecordStoreError(std::move(status));
    return SG_ERR_UNKNOWN;
  }

  // Loads a (record, user record) value into libsignal-owned buffers.
  static int LoadRecord(ProfileStore* self, Cf cf, const std::string& key, signal_buffer** record,
                        signal_buffer** user_record) {
    absl::StatusOr<std::optional<std::string>> value = self->Get(cf, key);
    if (!value.ok()) return Fail(self, value.status());
    if (!value->has_value()) return 0;
    absl::string_view record_bytes, user_bytes;
    if (!DecodeRecord(**value, &record_bytes, &user_bytes)) {
      OPENSSL_cleanse((*value)->data(), (*value)->size());
      return Fail(self, Corrupt(kCfNames[static_cast<int>(cf)]));
    }
    SignalBuffer record_buffer(NewSignalBuffer(record_bytes));
    SignalBuffer user_buffer;
    if (!user_bytes.empty() && user_record != nullptr)
      user_buffer.reset(NewSignalBuffer(user_bytes));
    OPENSSL_cleanse((*value)->data(), (*value)->size());
    if (!record_buffer || (!user_bytes.empty() && user_record != nullptr && !user_buffer)) {
      return SG_ERR_NOMEM;
    }
    *record = record_buffer.release();
    if (user_buffer) *user_record = user_buffer.release();
    return 1;
  }

  // Loads a plain record (prekeys): SG_ERR_INVALID_KEY_ID when absent, as
  // the store contract requires.
  static int LoadKey(ProfileStore* self, Cf cf, uint32_t id, signal_buffer** record) {
    absl::StatusOr<std::optional<std::string>> value = self->Get(cf, IdKey(id));
    if (!value.ok()) return Fail(self, value.status());
    if (!value->has_value()) return SG_ERR_INVALID_KEY_ID;
    signal_buffer* buffer = NewSignalBuffer(**value);
    OPENSSL_cleanse((*value)->data(), (*value)->size());
    if (buffer == nullptr) return SG_ERR_NOMEM;
    *record = buffer;
    return SG_SUCCESS;
  }

  static int Contains(ProfileStore* self, Cf cf, const std::string& key) {
    absl::StatusOr<bool> exists = self->Exists(cf, key);
    if (!exists.ok()) return Fail(self, exists.status());
    return *exists ? 1 : 0;
  }

  static int PutValue(ProfileStore* self, Cf cf, const std::string& key, std::string value) {
    absl::Status status = self->Put(cf, key, value);
    OPENSSL_cleanse(value.data(), value.size());
    return status.ok() ? SG_SUCCESS : Fail(self, std::move(status));
  }

  // Session store.
  static int LoadSession(signal_buffer** record, signal_buffer** user_record,
                         const signal_protocol_address* address, void* user_data) {
    return LoadRecord(Self(user_data), Cf::kSession, AddressKey(address), record, user_record);
  }
  static int GetSubDeviceSessions(signal_int_list** sessions, const char* name, size_t name_len,
                                  void* user_data) {
    ProfileStore* self = Self(user_data);
    absl::StatusOr<std::vector<std::string>> keys =
        self->KeysWithPrefix(Cf::kSession, AccountPrefix(name, name_len));
    if (!keys.ok()) return Fail(self, keys.status());
    SignalIntList list(signal_int_list_alloc());
    if (!list) return SG_ERR_NOMEM;
    for (const std::string& key : *keys) {
      if (key.size() != name_len + 5) continue;  // a longer name sharing the prefix
      if (signal_int_list_push_back(list.get(), static_cast<int>(DeviceFromAddressKey(key))) < 0) {
        return SG_ERR_NOMEM;
      }
    }
    const int count = static_cast<int>(signal_int_list_size(list.get()));
    *sessions = list.release();
    return count;
  }
  static int StoreSession(const signal_protocol_address* address, uint8_t* record,
                          size_t record_len, uint8_t* user_record, size_t user_record_len,
                          void* user_data) {
    return PutValue(Self(user_data), Cf::kSession, AddressKey(address),
                    EncodeRecord(record, record_len, user_record, user_record_len));
  }
  static int ContainsSession(const signal_protocol_address* address, void* user_data) {
    return Contains(Self(user_data), Cf::kSession, AddressKey(address));
  }
  static int DeleteSession(const signal_protocol_address* address, void* user_data) {
    ProfileStore* self = Self(user_data);
    const std::string key = AddressKey(address);
    const int present = Contains(self, Cf::kSession, key);
    if (present <= 0) return present;
    absl::Status status = self->Delete(Cf::kSession, key);
    return status.ok() ? 1 : Fail(self, std::move(status));
  }
  static int DeleteAllSessions(const char* name, size_t name_len, void* user_data) {
    ProfileStore* self = Self(user_data);
    absl::StatusOr<std::vector<std::string>> keys =
        self->KeysWithPrefix(Cf::kSession, AccountPrefix(name, name_len));
    if (!keys.ok()) return Fail(self, keys.status());
    rocksdb::WriteBatch batch;
    int count = 0;
    for (const std::string& key : *keys) {
      if (key.size() != name_len + 5) continue;
      if (absl::Status s = self->DeleteInBatch(batch, Cf::kSession, key); !s.ok()) {
        return Fail(self, std::move(s));
      }
      ++count;
    }
    absl::Status status = self->Write(batch);
    return status.ok() ? count : Fail(self, std::move(status));
  }

  // One-time prekey store.
  static int LoadPreKey(signal_buffer** record, uint32_t id, void* user_data) {
    return LoadKey(Self(user_data), Cf::kPreKey, id, record);
  }
  static int StorePreKey(uint32_t id, uint8_t* record, size_t record_len, void* user_data) {
    return PutValue(Self(user_data), Cf::kPreKey, IdKey(id),
                    std::string(reinterpret_cast<const char*>(record), record_len));
  }
  static int ContainsPreKey(uint32_t id, void* user_data) {
    return Contains(Self(user_data), Cf::kPreKey, IdKey(id));
  }
  static int RemovePreKey(uint32_t id, void* user_data) {
    ProfileStore* self = Self(user_data);
    absl::Status status = self->Delete(Cf::kPreKey, IdKey(id));
    return status.ok() ? SG_SUCCESS : Fail(self, std::move(status));
  }

  // Signed prekey store.
  static int LoadSignedPreKey(signal_buffer** record, uint32_t id, void* user_data) {
    return LoadKey(Self(user_data), Cf::kSignedPreKey, id, record);
  }
  static int StoreSignedPreKey(uint32_t id, uint8_t* record, size_t record_len, void* user_data) {
    return PutValue(Self(user_data), Cf::kSignedPreKey, IdKey(id),
                    std::string(reinterpret_cast<const char*>(record), record_len));
  }
  static int ContainsSignedPreKey(uint32_t id, void* user_data) {
    return Contains(Self(user_data), Cf::kSignedPreKey, IdKey(id));
  }
  static int RemoveSignedPreKey(uint32_t id, void* user_data) {
    ProfileStore* self = Self(user_data);
    absl::Status status = self->Delete(Cf::kSignedPreKey, IdKey(id));
    return status.ok() ? SG_SUCCESS : Fail(self, std::move(status));
  }

  // Identity store.
  static int GetIdentityKeyPair(signal_buffer** public_data, signal_buffer** private_data,
                                void* user_data) {
    ProfileStore* self = Self(user_data);
    SignalBuffer public_buffer(NewSignalBuffer(self->local_identity_.identity_key));
    SignalBuffer private_buffer(NewSignalBuffer(self->identity_private_key_));
    if (!public_buffer || !private_buffer) return SG_ERR_NOMEM;
    *public_data = public_buffer.release();
    *private_data = private_buffer.release();
    return SG_SUCCESS;
  }
  static int GetLocalRegistrationId(void* user_data, uint32_t* registration_id) {
    *registration_id = Self(user_data)->local_identity_.registration_id;
    return SG_SUCCESS;
  }
  static int SaveIdentity(const signal_protocol_address* address, uint8_t* key_data, size_t key_len,
                          void* user_data) {
    // Some libsignal versions "save" a null key to undo a pin after a failed
    // decryption. A pin is never removed here: a forged message that fails to
    // decrypt must not be able to reset trust on first use.
    if (key_data == nullptr) return SG_SUCCESS;
    ProfileStore* self = Self(user_data);
    const std::string key = AddressKey(address);
    const absl::string_view identity(reinterpret_cast<const char*>(key_data), key_len);
    absl::StatusOr<std::optional<std::string>> value = self->Get(Cf::kTrust, key);
    if (!value.ok()) return Fail(self, value.status());
    IdentityPin pin;
    if (value->has_value()) {
      if (!DecodePin(**value, &pin)) return Fail(self, Corrupt("pinned identity"));
      if (pin.trusted_key == identity) return SG_SUCCESS;  // already pinned
    }
    // libsignal saves only what is_trusted_identity accepted, i.e. a first
    // key; a different pinned key here means TrustIdentity ran meanwhile.
    pin.trusted_key = std::string(identity);
    pin.changed_key.clear();
    return PutValue(self, Cf::kTrust, key, EncodePin(pin));
  }
  static int IsTrustedIdentity(const signal_protocol_address* address, uint8_t* key_data,
                               size_t key_len, void* user_data) {
    ProfileStore* self = Self(user_data);
    const std::string key = AddressKey(address);
    const absl::string_view identity(reinterpret_cast<const char*>(key_data), key_len);
    absl::StatusOr<std::optional<std::string>> value = self->Get(Cf::kTrust, key);
    if (!value.ok()) return Fail(self, value.status());
    if (!value->has_value()) return 1;  // first use: trusted, pinned on save
    IdentityPin pin;
    if (!DecodePin(**value, &pin)) return Fail(self, Corrupt("pinned identity"));
    if (pin.trusted_key == identity) return 1;
    // Refused: remember the key so the user can be told and decide.
    if (pin.changed_key != identity) {
      pin.changed_key = std::string(identity);
      if (PutValue(self, Cf::kTrust, key, EncodePin(pin)) < 0) return SG_ERR_UNKNOWN;
    }
    return 0;
  }

  // Sender key store.
  static int StoreSenderKey(const signal_protocol_sender_key_name* name, uint8_t* record,
                            size_t record_len, uint8_t* user_record, size_t user_record_len,
                            void* user_data) {
    return PutValue(Self(user_data), Cf::kSenderKey,
                    SenderKeyKey(name->group_id, name->group_id_len, name->sender.name,
                                 name->sender.name_len, name->sender.device_id),
                    EncodeRecord(record, record_len, user_record, user_record_len));
  }
  static int LoadSenderKey(signal_buffer** record, signal_buffer** user_record,
                           const signal_protocol_sender_key_name* name, void* user_data) {
    return LoadRecord(Self(user_data), Cf::kSenderKey,
                      SenderKeyKey(name->group_id, name->group_id_len, name->sender.name,
                                   name->sender.name_len, name->sender.device_id),
                      record, user_record);
  }
};

// --- ProfileStore -------------------------------------------------------------

ProfileStore::ProfileStore(PrivateTag) {}

ProfileStore::~ProfileStore() {
  // Members release in reverse order (see the header); wipe the key first.
  OPENSSL_cleanse(identity_private_key_.data(), identity_private_key_.size());
}

absl::StatusOr<std::unique_ptr<ProfileStore>> ProfileStore::Open(const std::string& directory,
                                                                 const ProfileOptions& options) {
  if (directory.empty()) return absl::InvalidArgumentError("empty profile directory");
  if (options.passphrase.empty() && !options.allow_unencrypted) {
    return absl::InvalidArgumentError(
        "empty passphrase: an unencrypted profile must be asked for explicitly "
        "(allow_unencrypted), and is for tests and development only");
  }
  if (!options.passphrase.empty()) {
    if (absl::Status s = ValidateScryptParams(options.kdf); !s.ok()) return s;
  }

  auto store = std::make_unique<ProfileStore>(PrivateTag{});
  store->directory_ = directory;
  store->sync_writes_ = options.sync_writes;
  absl::StatusOr<std::unique_ptr<SignalContext>> signal = SignalContext::Create();
  if (!signal.ok()) return signal.status();
  store->signal_ = *std::move(signal);

  std::error_code ec;
  const bool exists = fs::exists(directory, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot access ", directory, ": ", ec.message()));
  }
  if (!exists) {
    if (!options.create_if_missing) {
      return absl::NotFoundError(absl::StrCat("no profile at ", directory));
    }
    fs::create_directories(directory, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("cannot create ", directory, ": ", ec.message()));
    }
    // Key material lives here: owner-only, whatever the umask.
    fs::permissions(directory, fs::perms::owner_all, fs::perm_options::replace, ec);
  }

  if (absl::Status s = store->OpenDatabase(options.create_if_missing); !s.ok()) return s;

  absl::StatusOr<std::optional<std::string>> format = store->Get(Cf::kMeta, kFormatKey);
  if (!format.ok()) return format.status();
  if (!format->has_value()) {
    if (!options.create_if_missing) {
      return absl::NotFoundError(absl::StrCat("no profile at ", directory));
    }
    if (absl::Status s = store->Initialize(options); !s.ok()) return s;
  } else {
    if (**format != kFormatV1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "profile ", directory, " has an unknown format '", **format, "' (newer client?)"));
    }
    if (absl::Status s = store->Unlock(options); !s.ok()) return s;
  }
  if (absl::Status s = store->InstallStores(); !s.ok()) return s;
  return store;
}

absl::Status ProfileStore::OpenDatabase(bool create) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = create;
  db_options.create_missing_column_families = true;
  // A client profile is small; keep RocksDB's own log short and quiet.
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 2;
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.write_buffer_size = 4 << 20;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kCfNames) descriptors.emplace_back(name, cf_options);
  std::vector<rocksdb::ColumnFamilyHandle*> raw_handles;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status status =
      rocksdb::DB::Open(db_options, directory_, descriptors, &raw_handles, &raw_db);
  if (!status.ok()) {
    if (!create && status.IsInvalidArgument()) {
      return absl::NotFoundError(absl::StrCat("no profile at ", directory_));
    }
    return FromRocks(status, absl::StrCat("cannot open profile ", directory_));
  }
  db_.reset(raw_db);
  for (rocksdb::ColumnFamilyHandle* handle : raw_handles) handles_.emplace_back(handle);
  return absl::OkStatus();
}

absl::Status ProfileStore::Initialize(const ProfileOptions& options) {
  rocksdb::WriteBatch batch;
  if (!options.passphrase.empty()) {
    std::string salt(AtRestCipher::kSaltSize, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), salt.size()) != 1) {
      return absl::InternalError("RAND_bytes failed");
    }
    absl::StatusOr<AtRestCipher> cipher =
        AtRestCipher::FromPassphrase(options.passphrase, salt, options.kdf);
    if (!cipher.ok()) return cipher.status();
    cipher_.emplace(*std::move(cipher));
    absl::StatusOr<std::string> verifier = Seal(Cf::kMeta, kVerifierKey, kVerifierPlaintext);
    if (!verifier.ok()) return verifier.status();
    batch.Put(Handle(Cf::kMeta), S(kEncryptionKey), S(kEncryptionScrypt));
    batch.Put(Handle(Cf::kMeta), S(kKdfKey), S(EncodeKdf(salt, options.kdf)));
    batch.Put(Handle(Cf::kMeta), S(kVerifierKey), S(*verifier));
  } else {
    batch.Put(Handle(Cf::kMeta), S(kEncryptionKey), S(kEncryptionNone));
  }

  // A new identity: libsignal's key pair and registration id.
  SignalRef<ratchet_identity_key_pair> key_pair;
  int rc = signal_protocol_key_helper_generate_identity_key_pair(Out(key_pair), signal_->get());
  if (rc < 0) return absl::InternalError(absl::StrCat("identity key generation failed (", rc, ")"));
  rc = signal_protocol_key_helper_generate_registration_id(&local_identity_.registration_id, 0,
                                                           signal_->get());
  if (rc < 0)
    return absl::InternalError(absl::StrCat("registration id generation failed (", rc, ")"));
  SignalBuffer public_key, private_key;
  if (ec_public_key_serialize(Out(public_key),
                              ratchet_identity_key_pair_get_public(key_pair.get())) < 0 ||
      ec_private_key_serialize(Out(private_key),
                               ratchet_identity_key_pair_get_private(key_pair.get())) < 0) {
    return absl::InternalError("cannot serialize the new identity key pair");
  }
  local_identity_.identity_key = BufferToString(public_key.get());
  identity_private_key_ = BufferToString(private_key.get());

  std::string identity_value = EncodeLocalIdentity(local_identity_, identity_private_key_);
  absl::Status status = PutInBatch(batch, Cf::kIdentity, kLocalIdentityKey, identity_value);
  OPENSSL_cleanse(identity_value.data(), identity_value.size());
  if (!status.ok()) return status;
  if (absl::Status s = PutInBatch(batch, Cf::kIdentity, kCountersKey, EncodeCounters({}));
      !s.ok()) {
    return s;
  }
  // The format marker goes in the same atomic batch: a profile either has
  // all of this or none of it.
  batch.Put(Handle(Cf::kMeta), S(kFormatKey), S(kFormatV1));
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  return FromRocks(db_->Write(write_options, &batch),
                   absl::StrCat("cannot create profile ", directory_));
}

absl::Status ProfileStore::Unlock(const ProfileOptions& options) {
  absl::StatusOr<std::optional<std::string>> mode = Get(Cf::kMeta, kEncryptionKey);
  if (!mode.ok()) return mode.status();
  if (!mode->has_value()) return Corrupt("encryption mode missing");
  if (**mode == kEncryptionNone) {
    if (!options.passphrase.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("profile ", directory_,
                       " is not encrypted, but a passphrase was given; open it without one "
                       "(allow_unencrypted) or create a new encrypted profile"));
    }
  } else if (**mode == kEncryptionScrypt) {
    if (options.passphrase.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("profile ", directory_, " is encrypted: a passphrase is required"));
    }
    absl::StatusOr<std::optional<std::string>> kdf = Get(Cf::kMeta, kKdfKey);
    if (!kdf.ok()) return kdf.status();
    std::string salt;
    ScryptParams params;
    if (!kdf->has_value() || !DecodeKdf(**kdf, &salt, &params) ||
        !ValidateScryptParams(params).ok()) {
      return Corrupt("key derivation parameters");
    }
    absl::StatusOr<AtRestCipher> cipher =
        AtRestCipher::FromPassphrase(options.passphrase, salt, params);
    if (!cipher.ok()) return cipher.status();
    cipher_.emplace(*std::move(cipher));
    absl::StatusOr<std::optional<std::string>> verifier = Get(Cf::kMeta, kVerifierKey);
    if (!verifier.ok()) return verifier.status();
    if (!verifier->has_value()) return Corrupt("passphrase verifier missing");
    absl::StatusOr<std::string> check = Unseal(Cf::kMeta, kVerifierKey, **verifier);
    if (!check.ok()) {
      cipher_.reset();
      return absl::UnauthenticatedError(absl::StrCat("wrong passphrase for profile ", directory_));
    }
    if (*check != kVerifierPlaintext) return Corrupt("passphrase verifier");
  } else {
    return absl::FailedPreconditionError(
        absl::StrCat("profile ", directory_, " uses an unknown encryption '", **mode, "'"));
  }

  absl::StatusOr<std::optional<std::string>> identity = Get(Cf::kIdentity, kLocalIdentityKey);
  if (!identity.ok()) return identity.status();
  if (!identity->has_value()) return Corrupt("local identity missing");
  Reader reader(**identity);
  absl::string_view public_key, private_key;
  const bool ok = reader.Le32(&local_identity_.registration_id) && reader.ShortBytes(&public_key) &&
                  reader.ShortBytes(&private_key) && reader.Done() &&
                  public_key.size() == kPublicKeySize && private_key.size() == kPrivateKeySize;
  if (ok) {
    local_identity_.identity_key = std::string(public_key);
    identity_private_key_ = std::string(private_key);
  }
  OPENSSL_cleanse((*identity)->data(), (*identity)->size());
  if (!ok) return Corrupt("local identity");
  return absl::OkStatus();
}

absl::Status ProfileStore::InstallStores() {
  using C = ProfileStoreCallbacks;
  int rc = signal_protocol_store_context_create(Out(store_context_), signal_->get());
  if (rc < 0)
    return absl::InternalError(absl::StrCat("cannot create the store context (", rc, ")"));

  signal_protocol_session_store session_store = {};
  session_store.load_session_func = &C::LoadSession;
  session_store.get_sub_device_sessions_func = &C::GetSubDeviceSessions;
  session_store.store_session_func = &C::StoreSession;
  session_store.contains_session_func = &C::ContainsSession;
  session_store.delete_session_func = &C::DeleteSession;
  session_store.delete_all_sessions_func = &C::DeleteAllSessions;
  session_store.user_data = this;

  signal_protocol_pre_key_store pre_key_store = {};
  pre_key_store.load_pre_key = &C::LoadPreKey;
  pre_key_store.store_pre_key = &C::StorePreKey;
  pre_key_store.contains_pre_key = &C::ContainsPreKey;
  pre_key_store.remove_pre_key = &C::RemovePreKey;
  pre_key_store.user_data = this;

  signal_protocol_signed_pre_key_store signed_pre_key_store = {};
  signed_pre_key_store.load_signed_pre_key = &C::LoadSignedPreKey;
  signed_pre_key_store.store_signed_pre_key = &C::StoreSignedPreKey;
  signed_pre_key_store.contains_signed_pre_key = &C::ContainsSignedPreKey;
  signed_pre_key_store.remove_signed_pre_key = &C::RemoveSignedPreKey;
  signed_pre_key_store.user_data = this;

  signal_protocol_identity_key_store identity_store = {};
  identity_store.get_identity_key_pair = &C::GetIdentityKeyPair;
  identity_store.get_local_registration_id = &C::GetLocalRegistrationId;
  identity_store.save_identity = &C::SaveIdentity;
  identity_store.is_trusted_identity = &C::IsTrustedIdentity;
  identity_store.user_data = this;

  signal_protocol_sender_key_store sender_key_store = {};
  sender_key_store.store_sender_key = &C::StoreSenderKey;
  sender_key_store.load_sender_key = &C::LoadSenderKey;
  sender_key_store.user_data = this;

  // destroy_func stays null: the ProfileStore owns itself.
  if (signal_protocol_store_context_set_session_store(store_context_.get(), &session_store) < 0 ||
      signal_protocol_store_context_set_pre_key_store(store_context_.get(), &pre_key_store) < 0 ||
      signal_protocol_store_context_set_signed_pre_key_store(store_context_.get(),
                                                             &signed_pre_key_store) < 0 ||
      signal_protocol_store_context_set_identity_key_store(store_context_.get(), &identity_store) <
          0 ||
      signal_protocol_store_context_set_sender_key_store(store_context_.get(), &sender_key_store) <
          0) {
    return absl::InternalError("cannot install the libsignal stores");
  }
  return absl::OkStatus();
}

// --- Pinning -------------------------------------------------------------------

absl::StatusOr<IdentityPin> ProfileStore::PinnedIdentity(const Address& address) {
  if (absl::Status s = ValidateAddress(address); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(mutex());
  absl::StatusOr<std::optional<std::string>> value = Get(Cf::kTrust, AddressKey(address));
  if (!value.ok()) return value.status();
  if (!value->has_value()) {
    return absl::NotFoundError(
        absl::StrCat("no identity pinned for ", address.ToString(), " (never seen)"));
  }
  IdentityPin pin;
  if (!DecodePin(**value, &pin)) return Corrupt("pinned identity");
  return pin;
}

absl::Status ProfileStore::TrustIdentity(const Address& address, absl::string_view identity_key) {
  if (absl::Status s = ValidateAddress(address); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(mutex());
  SignalRef<ec_public_key> decoded;
  if (identity_key.size() != kPublicKeySize ||
      curve_decode_point(Out(decoded), Bytes(identity_key), identity_key.size(), signal_->get()) <
          0) {
    return absl::InvalidArgumentError(
        absl::StrCat("identity key for ", address.ToString(),
                     " is not a serialized public key (33 bytes, type 0x05)"));
  }
  const std::string key = AddressKey(address);
  absl::StatusOr<std::optional<std::string>> value = Get(Cf::kTrust, key);
  if (!value.ok()) return value.status();
  IdentityPin old_pin;
  if (value->has_value() && !DecodePin(**value, &old_pin)) return Corrupt("pinned identity");

  rocksdb::WriteBatch batch;
  IdentityPin pin;
  pin.trusted_key = std::string(identity_key);
  if (absl::Status s = PutInBatch(batch, Cf::kTrust, key, EncodePin(pin)); !s.ok()) return s;
  if (value->has_value() && old_pin.trusted_key != identity_key) {
    if (absl::Status s = DeleteInBatch(batch, Cf::kSession, key); !s.ok()) return s;
  }
  return Write(batch);
}

absl::Status ProfileStore::ForgetIdentity(const Address& address) {
  if (absl::Status s = ValidateAddress(address); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(mutex());
  return Delete(Cf::kTrust, AddressKey(address));
}

absl::StatusOr<std::vector<Address>> ProfileStore::AddressesWithChangedIdentity() {
  std::lock_guard<std::recursive_mutex> lock(mutex());
  absl::StatusOr<std::vector<std::string>> keys = KeysWithPrefix(Cf::kTrust, "");
  if (!keys.ok()) return keys.status();
  std::vector<Address> result;
  for (const std::string& key : *keys) {
    absl::StatusOr<std::optional<std::string>> value = Get(Cf::kTrust, key);
    if (!value.ok()) return value.status();
    IdentityPin pin;
    Address address;
    if (!value->has_value()) continue;
    if (!DecodePin(**value, &pin) || !ParseAddressKey(key, &address)) {
      return Corrupt("pinned identity");
    }
    if (!pin.changed_key.empty()) result.push_back(std::move(address));
  }
  return result;
}

// --- Key bookkeeping -------------------------------------------------------------

absl::StatusOr<PreKeyCounters> ProfileStore::LoadPreKeyCounters() {
  std::lock_guard<std::recursive_mutex> lock(mutex());
  absl::StatusOr<std::optional<std::string>> value = Get(Cf::kIdentity, kCountersKey);
  if (!value.ok()) return value.status();
  PreKeyCounters counters;
  if (value->has_value() && !DecodeCounters(**value, &counters)) {
    return Corrupt("prekey counters");
  }
  return counters;
}

absl::Status ProfileStore::CommitOneTimePreKeys(
    const std::vector<std::pair<uint32_t, std::string>>& records,
    uint32_t next_one_time_prekey_id) {
  std::lock_guard<std::recursive_mutex> lock(mutex());
  absl::StatusOr<PreKeyCounters> counters = LoadPreKeyCounters();
  if (!counters.ok()) return counters.status();
  counters->next_one_time_prekey_id = next_one_time_prekey_id;
  rocksdb::WriteBatch batch;
  for (const auto& [id, record] : records) {
    if (absl::Status s = PutInBatch(batch, Cf::kPreKey, IdKey(id), record); !s.ok()) return s;
  }
  if (absl::Status s = PutInBatch(batch, Cf::kIdentity, kCountersKey, EncodeCounters(*counters));
      !s.ok()) {
    return s;
  }
  return Write(batch);
}

absl::Status ProfileStore::CommitSignedPreKey(uint32_t id, absl::string_view record,
                                              const PreKeyCounters& counters) {
  std::lock_guard<std::recursive_mutex> lock(mutex());
  absl::StatusOr<std::vector<uint32_t>> existing = SignedPreKeyIds();
  if (!existing.ok()) return existing.status();
  rocksdb::WriteBatch batch;
  if (absl::Status s = PutInBatch(batch, Cf::kSignedPreKey, IdKey(id), record); !s.ok()) return s;
  if (absl::Status s = PutInBatch(batch, Cf::kIdentity, kCountersKey, EncodeCounters(counters));
      !s.ok()) {
    return s;
  }
  for (uint32_t old_id : *existing) {
    if (old_id == id || old_id == counters.current_signed_prekey_id ||
        old_id == counters.previous_signed_prekey_id) {
      continue;
    }
    if (absl::Status s = DeleteInBatch(batch, Cf::kSignedPreKey, IdKey(old_id)); !s.ok()) return s;
  }
  return Write(batch);
}

absl::StatusOr<std::vector<uint32_t>> ProfileStore::SignedPreKeyIds() {
  std::lock_guard<std::recursive_mutex> lock(mutex());
  absl::StatusOr<std::vector<std::string>> keys = KeysWithPrefix(Cf::kSignedPreKey, "");
  if (!keys.ok()) return keys.status();
  std::vector<uint32_t> ids;
  for (const std::string& key : *keys) {
    if (key.size() != 4) return Corrupt("signed prekey id");
    ids.push_back(ParseIdKey(key));
  }
  return ids;
}

absl::StatusOr<size_t> ProfileStore::OneTimePreKeyCount() {
  std::lock_guard<std::recursive_mutex> lock(mutex());
  absl::StatusOr<std::vector<std::string>> keys = KeysWithPrefix(Cf::kPreKey, "");
  if (!keys.ok()) return keys.status();
  return keys->size();
}

absl::Status ProfileStore::DeleteSenderKey(absl::string_view group_id, const Address& sender) {
  if (absl::Status s = ValidateAddress(sender); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(mutex());
  return Delete(Cf::kSenderKey,
                SenderKeyKey(group_id.data(), group_id.size(), sender.account_id.data(),
                             sender.account_id.size(), static_cast<int32_t>(sender.device_id)));
}

absl::Status ProfileStore::PutRecord(absl::string_view kind, absl::string_view key,
                                     absl::string_view value) {
  if (absl::Status s = ValidateRecordKind(kind); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(mutex());
  return Put(Cf::kApp, RecordKey(kind, key), value);
}

absl::StatusOr<std::optional<std::string>> ProfileStore::GetRecord(absl::string_view kind,
                                                                   absl::string_view key) {
  if (absl::Status s = ValidateRecordKind(kind); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(mutex());
  return Get(Cf::kApp, RecordKey(kind, key));
}

absl::Status ProfileStore::DeleteRecord(absl::string_view kind, absl::string_view key) {
  if (absl::Status s = ValidateRecordKind(kind); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(mutex());
  return Delete(Cf::kApp, RecordKey(kind, key));
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ProfileStore::ListRecords(
    absl::string_view kind) {
  if (absl::Status s = ValidateRecordKind(kind); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(mutex());
  const std::string prefix = RecordPrefix(kind);
  absl::StatusOr<std::vector<std::string>> keys = KeysWithPrefix(Cf::kApp, prefix);
  if (!keys.ok()) return keys.status();
  std::vector<std::pair<std::string, std::string>> records;
  for (const std::string& full : *keys) {
    absl::StatusOr<std::optional<std::string>> value = Get(Cf::kApp, full);
    if (!value.ok()) return value.status();
    if (!value->has_value()) continue;  // deleted meanwhile
    records.emplace_back(full.substr(prefix.size()), **std::move(value));
  }
  return records;
}

absl::StatusOr<std::string> ProfileStore::SignWithIdentity(absl::string_view message) {
  std::lock_guard<std::recursive_mutex> lock(mutex());
  SignalRef<ec_private_key> key;
  if (curve_decode_private_point(Out(key), Bytes(identity_private_key_),
                                 identity_private_key_.size(), signal_context_ptr()) != 0) {
    return absl::InternalError("libsignal could not load the identity private key");
  }
  SignalBuffer signature;
  if (curve_calculate_signature(signal_context_ptr(), Out(signature), key.get(), Bytes(message),
                                message.size()) != 0) {
    return absl::InternalError("libsignal could not sign with the identity key");
  }
  return BufferToString(signature.get());
}

absl::Status ProfileStore::WriteAtomically(const std::function<absl::Status()>& body) {
  std::lock_guard<std::recursive_mutex> lock(mutex());
  if (pending_) return body();  // joins the outer call's write
  // overwrite_key: a key written twice reads back its last value.
  pending_ = std::make_unique<rocksdb::WriteBatchWithIndex>(rocksdb::BytewiseComparator(), 0,
                                                            /*overwrite_key=*/true);
  absl::Status status = body();
  std::unique_ptr<rocksdb::WriteBatchWithIndex> batch = std::move(pending_);
  if (!status.ok()) return status;
  return Write(*batch->GetWriteBatch());
}

absl::Status ProfileStore::TakeStoreError() {
  std::lock_guard<std::recursive_mutex> lock(mutex());
  return std::exchange(store_error_, absl::OkStatus());
}

void ProfileStore::ClearErrors() {
  std::lock_guard<std::recursive_mutex> lock(mutex());
  store_error_ = absl::OkStatus();
  signal_->TakeLastLog();
}

void ProfileStore::RecordStoreError(absl::Status status) {
  std::lock_guard<std::recursive_mutex> lock(mutex());
  if (store_error_.ok()) store_error_ = std::move(status);
}

// --- Record access ------------------------------------------------------------------

rocksdb::ColumnFamilyHandle* ProfileStore::Handle(Cf cf) const {
  return handles_[static_cast<size_t>(cf)].get();
}

absl::StatusOr<std::string> ProfileStore::Seal(Cf cf, absl::string_view key,
                                               absl::string_view value) const {
  if (!cipher_.has_value()) return std::string(value);
  // The slot (family, key) is the associated data: a sealed value only opens
  // where it was written.
  return cipher_->Seal(
      absl::StrCat(kCfNames[static_cast<int>(cf)], absl::string_view("\0", 1), key), value);
}

absl::StatusOr<std::string> ProfileStore::Unseal(Cf cf, absl::string_view key,
                                                 absl::string_view value) const {
  if (!cipher_.has_value()) return std::string(value);
  absl::StatusOr<std::string> plain = cipher_->Open(
      absl::StrCat(kCfNames[static_cast<int>(cf)], absl::string_view("\0", 1), key), value);
  if (!plain.ok()) {
    return absl::DataLossError(absl::StrCat("profile record in '", kCfNames[static_cast<int>(cf)],
                                            "' failed to decrypt: ", plain.status().message()));
  }
  return plain;
}

absl::StatusOr<std::optional<std::string>> ProfileStore::Get(Cf cf, absl::string_view key) {
  std::string raw;
  // Inside WriteAtomically, what it wrote so far, else the database.
  rocksdb::Status status = pending_ ? pending_->GetFromBatchAndDB(db_.get(), rocksdb::ReadOptions(),
                                                                  Handle(cf), S(key), &raw)
                                    : db_->Get(rocksdb::ReadOptions(), Handle(cf), S(key), &raw);
  if (status.IsNotFound()) return std::optional<std::string>();
  if (!status.ok()) return FromRocks(status, "profile read failed");
  if (cf == Cf::kMeta) return std::optional<std::string>(std::move(raw));
  absl::StatusOr<std::string> plain = Unseal(cf, key, raw);
  if (!cipher_.has_value()) OPENSSL_cleanse(raw.data(), raw.size());
  if (!plain.ok()) return plain.status();
  return std::optional<std::string>(*std::move(plain));
}

absl::StatusOr<bool> ProfileStore::Exists(Cf cf, absl::string_view key) {
  // A key lookup only: the value need not be decrypted.
  rocksdb::PinnableSlice raw;
  rocksdb::Status status = pending_ ? pending_->GetFromBatchAndDB(db_.get(), rocksdb::ReadOptions(),
                                                                  Handle(cf), S(key), &raw)
                                    : db_->Get(rocksdb::ReadOptions(), Handle(cf), S(key), &raw);
  if (status.IsNotFound()) return false;
  if (!status.ok()) return FromRocks(status, "profile read failed");
  return true;
}

absl::Status ProfileStore::PutInBatch(rocksdb::WriteBatch& batch, Cf cf, absl::string_view key,
                                      absl::string_view value) {
  if (cf == Cf::kMeta) return FromRocks(batch.Put(Handle(cf), S(key), S(value)), "profile write");
  absl::StatusOr<std::string> sealed = Seal(cf, key, value);
  if (!sealed.ok()) return sealed.status();
  absl::Status status = FromRocks(batch.Put(Handle(cf), S(key), S(*sealed)), "profile write");
  OPENSSL_cleanse(sealed->data(), sealed->size());
  return status;
}

absl::Status ProfileStore::DeleteInBatch(rocksdb::WriteBatch& batch, Cf cf, absl::string_view key) {
  return FromRocks(batch.Delete(Handle(cf), S(key)), "profile delete");
}

namespace {

// Copies a write batch's puts and deletes into the batch WriteAtomically
// holds back. The profile writes nothing else (no merges, no range deletes).
class HoldBack : public rocksdb::WriteBatch::Handler {
 public:
  HoldBack(rocksdb::WriteBatchWithIndex* to,
           const std::vector<std::unique_ptr<rocksdb::ColumnFamilyHandle>>& handles)
      : to_(to), handles_(handles) {}
  rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& key,
                        const rocksdb::Slice& value) override {
    rocksdb::ColumnFamilyHandle* h = Find(cf);
    return h ? to_->Put(h, key, value) : Unknown(cf);
  }
  rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& key) override {
    rocksdb::ColumnFamilyHandle* h = Find(cf);
    return h ? to_->Delete(h, key) : Unknown(cf);
  }

 private:
  rocksdb::ColumnFamilyHandle* Find(uint32_t id) const {
    for (const auto& h : handles_) {
      if (h->GetID() == id) return h.get();
    }
    return nullptr;
  }
  static rocksdb::Status Unknown(uint32_t cf) {
    return rocksdb::Status::InvalidArgument("write to an unknown column family",
                                            std::to_string(cf));
  }
  rocksdb::WriteBatchWithIndex* to_;
  const std::vector<std::unique_ptr<rocksdb::ColumnFamilyHandle>>& handles_;
};

}  // namespace

absl::Status ProfileStore::Write(rocksdb::WriteBatch& batch) {
  if (pending_) {
    HoldBack hold(pending_.get(), handles_);
    return FromRocks(batch.Iterate(&hold), "profile write failed");
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = sync_writes_;
  return FromRocks(db_->Write(write_options, &batch), "profile write failed");
}

absl::Status ProfileStore::Put(Cf cf, absl::string_view key, absl::string_view value) {
  rocksdb::WriteBatch batch;
  if (absl::Status s = PutInBatch(batch, cf, key, value); !s.ok()) return s;
  return Write(batch);
}

absl::Status ProfileStore::Delete(Cf cf, absl::string_view key) {
  rocksdb::WriteBatch batch;
  if (absl::Status s = DeleteInBatch(batch, cf, key); !s.ok()) return s;
  return Write(batch);
}

absl::StatusOr<std::vector<std::string>> ProfileStore::KeysWithPrefix(Cf cf,
                                                                      absl::string_view prefix) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), Handle(cf)));
  std::vector<std::string> keys;
  for (it->Seek(S(prefix)); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    if (!key.starts_with(rocksdb::Slice(prefix.data(), prefix.size()))) break;
    keys.emplace_back(key.data(), key.size());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "profile scan failed");
  return keys;
}

}  // namespace carerelay::crypto
