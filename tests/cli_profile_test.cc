// What a CLI profile writes to disk (client/cli/profile.h), without a
// server. Issue 15, finding 3: a passphrase profile's device secret is sealed
// in its key store with the private keys, never written to config.json, and
// a profile from before (secret in config.json) has it moved on its next
// unlock. Fails before the fix: config.json always held "device_secret".
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "client/cli/profile.h"

namespace carerelay::cli {
namespace {

namespace fs = std::filesystem;

class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "cli_profile_test.XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Whether any file under `dir` holds `needle` in clear.
bool TreeContains(const std::string& dir, const std::string& needle) {
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && ReadFile(e.path()).find(needle) != std::string::npos) return true;
  }
  return false;
}

constexpr char kPassphrase[] = "correct horse battery staple";
// 32 bytes, as the server's; printable so that it can be looked for.
const std::string kSecret = "device-secret-0123456789abcdefgh";

// A profile as `register` leaves it, before Save.
ProfileConfig Registered(bool encrypted) {
  ProfileConfig c;
  c.server = "127.0.0.1:7443";
  c.encrypted = encrypted;
  c.account_id = std::string(32, 'a');
  c.device_id = 1;
  c.secret = kSecret;
  c.display_name = "Anne Peeters";
  c.kind = "ACCOUNT_KIND_PROFESSIONAL";
  return c;
}

std::string ConfigPath(const ScratchDir& home, const std::string& name) {
  return home.path() + "/profiles/" + name + "/config.json";
}

TEST(CliProfileTest, PassphraseProfileSealsTheDeviceSecret) {
  ScratchDir home;
  ASSERT_FALSE(home.path().empty());
  {
    auto created = Profile::Create(home.path(), "nurse", Registered(true), kPassphrase);
    ASSERT_TRUE(created.ok()) << created.status();
    ASSERT_TRUE((*created)->Save().ok());
  }
  const std::string config = ReadFile(ConfigPath(home, "nurse"));
  EXPECT_NE(config.find(std::string(32, 'a')), std::string::npos) << config;
  EXPECT_EQ(config.find("device_secret"), std::string::npos) << config;
  // Nowhere in clear: sealed in the key store.
  EXPECT_FALSE(TreeContains(home.path(), kSecret));
  EXPECT_FALSE(TreeContains(home.path(), absl::Base64Escape(kSecret)));

  auto opened = Profile::Open(home.path(), "nurse", kPassphrase);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ((*opened)->config().secret, kSecret);
  EXPECT_EQ((*opened)->relay().credentials().secret, kSecret);
  opened->reset();
  // Without the passphrase (a copy of the directory): nothing opens.
  auto locked = Profile::Open(home.path(), "nurse", "");
  EXPECT_EQ(locked.status().code(), absl::StatusCode::kFailedPrecondition) << locked.status();
  auto wrong = Profile::Open(home.path(), "nurse", "not the passphrase");
  EXPECT_FALSE(wrong.ok());
}

TEST(CliProfileTest, OlderProfileSecretIsSealedOnNextUnlock) {
  ScratchDir home;
  ASSERT_FALSE(home.path().empty());
  {
    auto created = Profile::Create(home.path(), "nurse", Registered(true), kPassphrase);
    ASSERT_TRUE(created.ok()) << created.status();
    ASSERT_TRUE((*created)->Save().ok());
    // As a profile written before issue 15: no sealed secret ...
    ASSERT_TRUE((*created)->keys().DeleteRecord("device", "secret").ok());
  }
  // ... and the secret in config.json.
  nlohmann::json j = nlohmann::json::parse(ReadFile(ConfigPath(home, "nurse")));
  j["device_secret"] = absl::Base64Escape(kSecret);
  std::ofstream(ConfigPath(home, "nurse"), std::ios::trunc) << j.dump(2) << "\n";

  {
    auto opened = Profile::Open(home.path(), "nurse", kPassphrase);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ((*opened)->relay().credentials().secret, kSecret);
  }
  EXPECT_EQ(ReadFile(ConfigPath(home, "nurse")).find("device_secret"), std::string::npos);
  // Still works from the sealed copy.
  auto again = Profile::Open(home.path(), "nurse", kPassphrase);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->config().secret, kSecret);
}

TEST(CliProfileTest, UnencryptedProfileKeepsTheSecretInConfig) {
  // Development only: there is no passphrase to seal it with.
  ScratchDir home;
  ASSERT_FALSE(home.path().empty());
  {
    auto created = Profile::Create(home.path(), "dev", Registered(false), "");
    ASSERT_TRUE(created.ok()) << created.status();
    ASSERT_TRUE((*created)->Save().ok());
  }
  EXPECT_NE(ReadFile(ConfigPath(home, "dev")).find(absl::Base64Escape(kSecret)), std::string::npos);
  auto opened = Profile::Open(home.path(), "dev", "");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ((*opened)->config().secret, kSecret);
}

}  // namespace
}  // namespace carerelay::cli
