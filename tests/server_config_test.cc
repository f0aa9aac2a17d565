// carerelayd's configuration: flags and config files parse into ServerConfig,
// and ValidateConfig refuses what would make an unsafe or broken server.
#include "server/server_config.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <fstream>

#include "tests/test_support.h"

namespace carerelay {
namespace {

ServerConfig Valid() {
  ServerConfig c;
  c.tls_cert = "cert.pem";
  c.tls_key = "key.pem";
  return c;
}

TEST(ServerConfigTest, RefusesUnsafeOrBrokenSettings) {
  EXPECT_TRUE(ValidateConfig(Valid()).ok());

  ServerConfig no_tls = Valid();
  no_tls.tls_key.clear();
  EXPECT_EQ(ValidateConfig(no_tls).code(), absl::StatusCode::kInvalidArgument);

  ServerConfig plaintext = Valid();
  plaintext.dev_plaintext = true;
  plaintext.listen = "127.0.0.1:7443";
  EXPECT_TRUE(ValidateConfig(plaintext).ok());
  plaintext.listen = "0.0.0.0:7443";
  EXPECT_EQ(ValidateConfig(plaintext).code(), absl::StatusCode::kInvalidArgument);

  ServerConfig c = Valid();
  c.log_level = "bogus";
  EXPECT_EQ(ValidateConfig(c).code(), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.expiry_interval = absl::ZeroDuration();
  EXPECT_EQ(ValidateConfig(c).code(), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.limits.max_queue_depth = 0;
  EXPECT_EQ(ValidateConfig(c).code(), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.limits.max_ack_ids = 0;
  EXPECT_EQ(ValidateConfig(c).code(), absl::StatusCode::kInvalidArgument);
  for (const char* bad : {"social:clinical", "nurse:care=r", "social:ward=r", "social:care=rw",
                          "social=r", "social:care:x=r"}) {
    c = Valid();
    c.access_overrides = {bad};
    absl::Status s = ValidateConfig(c);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find(bad), absl::string_view::npos) << s.message();
  }
  c = Valid();
  c.access_overrides = {"social:clinical=r", "HELPDESK:CARE=-", "case-manager:clinical=rp"};
  EXPECT_TRUE(ValidateConfig(c).ok());
}

TEST(ServerConfigTest, AccessOverridesFromFlagsAndConfigFile) {
  testing::TempDir dir;
  std::string path = dir.Sub("carerelayd.conf");
  {
    std::ofstream out(path);
    out << "access = [\"social:clinical=r\", \"helpdesk:care=r\"]\n"
           "closed-team-retention-days = 30\n";
  }
  ServerConfig config;
  CLI::App app;
  AddServerOptions(&app, &config);
  std::vector<std::string> args = {"--config", path};
  std::reverse(args.begin(), args.end());
  ASSERT_NO_THROW(app.parse(args));
  EXPECT_EQ(config.access_overrides,
            (std::vector<std::string>{"social:clinical=r", "helpdesk:care=r"}));
  EXPECT_EQ(config.limits.closed_team_retention, absl::Hours(24 * 30));

  ServerConfig flags;
  CLI::App app2;
  AddServerOptions(&app2, &flags);
  std::vector<std::string> args2 = {"--access", "social:clinical=r", "--access", "patient:care=r"};
  std::reverse(args2.begin(), args2.end());
  ASSERT_NO_THROW(app2.parse(args2));
  EXPECT_EQ(flags.access_overrides,
            (std::vector<std::string>{"social:clinical=r", "patient:care=r"}));
}

TEST(ServerConfigTest, ReadsConfigFileAndRejectsUnknownKeys) {
  testing::TempDir dir;
  std::string path = dir.Sub("carerelayd.conf");
  {
    std::ofstream out(path);
    out << "listen = \"127.0.0.1:17443\"\nmax-queue-depth = 42\nqueue-ttl-days = 3\n";
  }
  ServerConfig config;
  CLI::App app;
  AddServerOptions(&app, &config);
  std::vector<std::string> args = {"--config", path};
  std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
  ASSERT_NO_THROW(app.parse(args));
  EXPECT_EQ(config.listen, "127.0.0.1:17443");
  EXPECT_EQ(config.limits.max_queue_depth, 42u);
  EXPECT_EQ(config.limits.queue_ttl, absl::Hours(72));

  {
    std::ofstream out(path);
    out << "max-queue-dept = 42\n";  // misspelt
  }
  ServerConfig other;
  CLI::App app2;
  AddServerOptions(&app2, &other);
  std::vector<std::string> args2 = {"--config", path};
  std::reverse(args2.begin(), args2.end());
  EXPECT_THROW(app2.parse(args2), CLI::ParseError);
}

}  // namespace
}  // namespace carerelay
