#include "client/cli/profile.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"

namespace carerelay::cli {
namespace fs = std::filesystem;
namespace {

// The key-store record that holds an encrypted profile's device secret.
constexpr char kSecretRecord[] = "device";
constexpr char kSecretKey[] = "secret";

}  // namespace

std::string ProfilesHome(const std::string& home_flag) {
  if (!home_flag.empty()) return home_flag;
  if (const char* env = getenv("CARERELAY_HOME"); env && *env) return env;
  const char* home = getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.carerelay";
}

std::vector<std::string> ListProfiles(const std::string& home) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(home + "/profiles", ec)) {
    if (fs::exists(e.path() / "config.json")) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string OrganisationKeyPath(const std::string& home) { return home + "/organisation.key"; }

absl::Status Profile::OpenParts(const std::string& passphrase, bool create) {
  crypto::ProfileOptions options;
  options.passphrase = passphrase;
  options.allow_unencrypted = !config_.encrypted;
  options.create_if_missing = create;
  if (config_.encrypted && passphrase.empty()) {
    return absl::FailedPreconditionError(
        "this profile's keys are encrypted: give the passphrase with CARERELAY_PASSPHRASE or "
        "--passphrase-file");
  }
  // First, so that settings it refuses (plaintext to another machine)
  // create no key store.
  client::ConnectionOptions connection;
  connection.target = config_.server;
  connection.ca_file = config_.ca_file;
  connection.plaintext = config_.plaintext;
  auto relay = client::RelayClient::Create(connection);
  if (!relay.ok()) return relay.status();
  relay_ = *std::move(relay);
  auto keys = crypto::ProfileStore::Open(dir_ + "/keys", options);
  if (!keys.ok()) return keys.status();
  keys_ = *std::move(keys);
  auto state = client::DeviceState::Open(dir_ + "/state");
  if (!state.ok()) return state.status();
  state_ = *std::move(state);
  if (config_.encrypted && !config_.account_id.empty()) {
    if (config_.secret.empty()) {
      // Sealed in the key store, like the keys (see Save).
      auto sealed = keys_->GetRecord(kSecretRecord, kSecretKey);
      if (!sealed.ok()) return sealed.status();
      if (!sealed->has_value()) {
        return absl::DataLossError(dir_ + " misses the device secret; register this device again");
      }
      config_.secret = **std::move(sealed);
    } else {
      // A profile from before the secret was sealed: sealed now that the
      // passphrase has unlocked it, and taken out of config.json.
      absl::Status migrated = Save();
      if (!migrated.ok()) return migrated;
    }
  }
  if (!config_.account_id.empty()) {
    relay_->SetCredentials({config_.account_id, config_.device_id, config_.secret});
  }
  messenger_ = std::make_unique<client::Messenger>(relay_.get(), keys_.get(), state_.get());
  transfer_ = std::make_unique<client::AttachmentTransfer>(relay_.get(), messenger_.get(),
                                                           keys_.get(), dir_);
  handover_ = std::make_unique<client::HistoryHandover>(messenger_.get(), transfer_.get(),
                                                        relay_.get(), keys_.get());
  messenger_->SetHistoryHandover(handover_.get());
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Profile>> Profile::Create(const std::string& home,
                                                         const std::string& name,
                                                         ProfileConfig config,
                                                         const std::string& passphrase) {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
    return absl::InvalidArgumentError("a profile name is a plain word, e.g. \"nurse\"");
  }
  std::unique_ptr<Profile> p(new Profile());
  p->name_ = name;
  p->dir_ = home + "/profiles/" + name;
  if (fs::exists(p->dir_ + "/config.json")) {
    return absl::AlreadyExistsError("profile \"" + name +
                                    "\" is already registered; choose another --profile name");
  }
  std::error_code ec;
  fs::create_directories(p->dir_, ec);
  if (ec) return absl::InvalidArgumentError("cannot create " + p->dir_ + ": " + ec.message());
  ::chmod(home.c_str(), 0700);
  ::chmod(p->dir_.c_str(), 0700);
  if (!config.ca_file.empty()) config.ca_file = fs::absolute(config.ca_file).string();
  p->config_ = std::move(config);
  absl::Status s = p->OpenParts(passphrase, /*create=*/true);
  if (!s.ok()) return s;
  return p;
}

absl::StatusOr<std::unique_ptr<Profile>> Profile::Open(const std::string& home,
                                                       const std::string& name,
                                                       const std::string& passphrase) {
  std::unique_ptr<Profile> p(new Profile());
  p->name_ = name;
  p->dir_ = home + "/profiles/" + name;
  std::ifstream in(p->dir_ + "/config.json");
  if (!in) {
    return absl::NotFoundError("no profile \"" + name + "\" in " + home +
                               ": register first (carerelay register --code ...)");
  }
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(p->dir_ + "/config.json is not valid JSON");
  }
  ProfileConfig& c = p->config_;
  c.server = j.value("server", "");
  c.ca_file = j.value("ca_file", "");
  c.plaintext = j.value("plaintext", false);
  c.encrypted = j.value("encrypted", true);
  c.account_id = j.value("account_id", "");
  c.device_id = j.value("device_id", 0u);
  c.display_name = j.value("display_name", "");
  c.kind = j.value("kind", "");
  // An encrypted profile keeps its secret sealed in the key store (absent
  // here); an older one still has it here until it is next unlocked.
  if (!absl::Base64Unescape(j.value("device_secret", ""), &c.secret) || c.account_id.empty() ||
      (c.secret.empty() && !c.encrypted)) {
    return absl::DataLossError(p->dir_ + "/config.json misses the device credentials");
  }
  absl::Status s = p->OpenParts(passphrase, /*create=*/false);
  if (!s.ok()) return s;
  return p;
}

absl::Status Profile::Save() {
  nlohmann::json j;
  j["server"] = config_.server;
  j["ca_file"] = config_.ca_file;
  j["plaintext"] = config_.plaintext;
  j["encrypted"] = config_.encrypted;
  j["account_id"] = config_.account_id;
  j["device_id"] = config_.device_id;
  if (config_.encrypted) {
    // The secret is sealed under the passphrase with the keys, never
    // written in clear: with the file alone nobody can act as this device.
    // Stored before config.json is rewritten, so it is never in neither.
    absl::Status sealed = keys_->PutRecord(kSecretRecord, kSecretKey, config_.secret);
    if (!sealed.ok()) return sealed;
  } else {
    j["device_secret"] = absl::Base64Escape(config_.secret);
  }
  j["display_name"] = config_.display_name;
  j["kind"] = config_.kind;
  std::string path = dir_ + "/config.json";
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return absl::InternalError("cannot write " + tmp);
    ::chmod(tmp.c_str(), 0600);
    out << j.dump(2) << "\n";
    if (!out) return absl::InternalError("cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::InternalError("cannot write " + path + ": " + ec.message());
  return absl::OkStatus();
}

}  // namespace carerelay::cli
