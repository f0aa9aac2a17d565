// A CLI profile: one registered device of one person on this machine, in
// its own directory, so several identities can live side by side
// (`carerelay --profile nurse ...`).
//
//   $CARERELAY_HOME/profiles/<name>/      (default ~/.carerelay, mode 0700)
//     config.json   server address, CA file, account id, device id (mode
//                   0600); the device secret too for an --unencrypted
//                   profile only
//     keys/         the libsignal key store (crypto::ProfileStore), private
//                   keys encrypted under the passphrase unless created with
//                   --unencrypted; the device secret sealed with them, so
//                   that a copy of the directory without the passphrase
//                   cannot act as the device (an older profile's secret in
//                   config.json moves here when it is next opened)
//     state/        processed envelope ids and sender-key bookkeeping
//   $CARERELAY_HOME/organisation.key
//                 the organisation's blind-index keys, shared by the
//                 profiles of this machine (blind_index.h; mode 0600)
//
// Not thread-safe. Only one process may use a profile at a time (the key
// store's lock; a second gets FAILED_PRECONDITION).
#ifndef CARERELAY_CLIENT_CLI_PROFILE_H_
#define CARERELAY_CLIENT_CLI_PROFILE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/attachment_transfer.h"
#include "client/device_state.h"
#include "client/history_handover.h"
#include "client/messenger.h"
#include "client/relay_client.h"
#include "crypto/profile_store.h"

namespace carerelay::cli {

struct ProfileConfig {
  std::string server;   // host:port
  std::string ca_file;  // absolute path; empty: system roots
  bool plaintext = false;
  bool encrypted = true;
  std::string account_id;
  uint32_t device_id = 0;
  std::string secret;  // raw
  std::string display_name;
  std::string kind;
};

// Where profiles live: --home, else $CARERELAY_HOME, else ~/.carerelay.
std::string ProfilesHome(const std::string& home_flag);
std::vector<std::string> ListProfiles(const std::string& home);
// The default organisation key file: <home>/organisation.key.
std::string OrganisationKeyPath(const std::string& home);

class Profile {
 public:
  // Creates the profile directory and key store (NOT registered yet).
  // ALREADY_EXISTS if a registered profile of that name exists.
  static absl::StatusOr<std::unique_ptr<Profile>> Create(const std::string& home,
                                                         const std::string& name,
                                                         ProfileConfig config,
                                                         const std::string& passphrase);
  // Opens a registered profile. NOT_FOUND (with what to run) if there is none.
  static absl::StatusOr<std::unique_ptr<Profile>> Open(const std::string& home,
                                                       const std::string& name,
                                                       const std::string& passphrase);
  // Writes config.json (after registration), sealing the device secret in
  // the key store instead when the profile is encrypted.
  absl::Status Save();

  ProfileConfig& config() { return config_; }
  const std::string& name() const { return name_; }
  // The profile's directory (keys, state, transfers in progress).
  const std::string& dir() const { return dir_; }
  client::RelayClient& relay() { return *relay_; }
  client::Messenger& messenger() { return *messenger_; }
  crypto::ProfileStore& keys() { return *keys_; }
  client::DeviceState& state() { return *state_; }
  client::HistoryHandover& handover() { return *handover_; }

 private:
  Profile() = default;
  absl::Status OpenParts(const std::string& passphrase, bool create);

  std::string name_;
  std::string dir_;
  ProfileConfig config_;
  std::unique_ptr<crypto::ProfileStore> keys_;
  std::unique_ptr<client::DeviceState> state_;
  std::unique_ptr<client::RelayClient> relay_;
  std::unique_ptr<client::Messenger> messenger_;
  // History for people who join later, handed over and taken as the
  // messenger receives (wired into it; declared after it, so gone first).
  std::unique_ptr<client::AttachmentTransfer> transfer_;
  std::unique_ptr<client::HistoryHandover> handover_;
};

}  // namespace carerelay::cli

#endif  // CARERELAY_CLIENT_CLI_PROFILE_H_
