// Shared helpers for the crypto/ tests: temporary directories, status
// assertions and a "device" (one profile with its managers) that can be
// closed and reopened like a client process restarting.

#ifndef CARERELAY_TESTS_CRYPTO_TEST_UTIL_H_
#define CARERELAY_TESTS_CRYPTO_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "crypto/group_manager.h"
#include "crypto/key_manager.h"
#include "crypto/profile_store.h"
#include "crypto/session_manager.h"

namespace carerelay::crypto::testing {

inline absl::Status StatusOf(const absl::Status& status) { return status; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

#define CR_CONCAT_INNER_(a, b) a##b
#define CR_CONCAT_(a, b) CR_CONCAT_INNER_(a, b)

#define CR_ASSERT_OK(expr)                                                        \
  do {                                                                            \
    const absl::Status cr_status_ = ::carerelay::crypto::testing::StatusOf(expr); \
    ASSERT_TRUE(cr_status_.ok()) << #expr << ": " << cr_status_;                  \
  } while (0)

#define CR_EXPECT_OK(expr)                                                        \
  do {                                                                            \
    const absl::Status cr_status_ = ::carerelay::crypto::testing::StatusOf(expr); \
    EXPECT_TRUE(cr_status_.ok()) << #expr << ": " << cr_status_;                  \
  } while (0)

#define CR_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  CR_ASSERT_OK_AND_ASSIGN_IMPL_(CR_CONCAT_(cr_statusor_, __LINE__), lhs, expr)
#define CR_ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr)     \
  auto tmp = (expr);                                      \
  ASSERT_TRUE(tmp.ok()) << #expr << ": " << tmp.status(); \
  lhs = std::move(tmp).value()

// A directory made with mkdtemp under /tmp, removed with its contents.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/carerelay-crypto-test-XXXXXX";
    const char* made = mkdtemp(pattern);
    if (made != nullptr) path_ = made;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string Sub(absl::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

// Unencrypted, unsynced: fast options for tests that are not about them.
inline ProfileOptions TestOptions() {
  ProfileOptions options;
  options.allow_unencrypted = true;
  options.sync_writes = false;
  return options;
}

// Every byte of every regular file under `dir` (SST, WAL, MANIFEST, LOG...).
inline std::vector<std::pair<std::string, std::string>> ReadAllFiles(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    files.emplace_back(entry.path().string(), std::string(std::istreambuf_iterator<char>(in), {}));
  }
  return files;
}

// One client device: a profile and the managers over it.
class Device {
 public:
  static absl::StatusOr<std::unique_ptr<Device>> Create(std::string directory, Address address,
                                                        ProfileOptions options = TestOptions()) {
    auto device =
        std::make_unique<Device>(std::move(directory), std::move(address), std::move(options));
    if (absl::Status s = device->Reopen(); !s.ok()) return s;
    // Like a real registration: a signed prekey exists from the start.
    absl::StatusOr<PublicSignedPreKey> signed_prekey = device->keys->CurrentSignedPreKey();
    if (absl::IsNotFound(signed_prekey.status())) {
      signed_prekey = device->keys->RotateSignedPreKey(absl::Now());
    }
    if (!signed_prekey.ok()) return signed_prekey.status();
    return device;
  }

  // Simulates the client process exiting.
  void Close() {
    groups.reset();
    sessions.reset();
    keys.reset();
    store.reset();
  }

  // Simulates the client process starting again on the same profile.
  absl::Status Reopen() {
    Close();
    absl::StatusOr<std::unique_ptr<ProfileStore>> opened = ProfileStore::Open(directory_, options_);
    if (!opened.ok()) return opened.status();
    store = *std::move(opened);
    keys = std::make_unique<KeyManager>(store.get());
    sessions = std::make_unique<SessionManager>(store.get());
    groups = std::make_unique<GroupManager>(store.get(), address);
    return absl::OkStatus();
  }

  // A bundle as the server would hand it out, with a fresh one-time prekey
  // unless `with_one_time_prekey` is false.
  absl::StatusOr<PreKeyBundle> Bundle(bool with_one_time_prekey = true) {
    absl::StatusOr<PublicSignedPreKey> signed_prekey = keys->CurrentSignedPreKey();
    if (!signed_prekey.ok()) return signed_prekey.status();
    PreKeyBundle bundle;
    bundle.registration_id = store->local_identity().registration_id;
    bundle.device_id = address.device_id;
    bundle.identity_key = store->local_identity().identity_key;
    bundle.signed_prekey_id = signed_prekey->key_id;
    bundle.signed_prekey = signed_prekey->public_key;
    bundle.signed_prekey_signature = signed_prekey->signature;
    if (with_one_time_prekey) {
      absl::StatusOr<std::vector<PublicPreKey>> prekeys = keys->GenerateOneTimePreKeys(1);
      if (!prekeys.ok()) return prekeys.status();
      bundle.one_time_prekey = prekeys->front();
    }
    return bundle;
  }

  Device(std::string directory, Address address_in, ProfileOptions options)
      : address(std::move(address_in)),
        directory_(std::move(directory)),
        options_(std::move(options)) {}

  const std::string& directory() const { return directory_; }

  Address address;
  std::unique_ptr<ProfileStore> store;
  std::unique_ptr<KeyManager> keys;
  std::unique_ptr<SessionManager> sessions;
  std::unique_ptr<GroupManager> groups;

 private:
  std::string directory_;
  ProfileOptions options_;
};

// 32 lowercase hex characters, like the server's account ids.
inline std::string AccountId(char fill) { return std::string(32, fill); }

}  // namespace carerelay::crypto::testing

#endif  // CARERELAY_TESTS_CRYPTO_TEST_UTIL_H_
