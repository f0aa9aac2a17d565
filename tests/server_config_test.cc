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
  c.limits.max_receive_window = 0;
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

  // A held call keeps its thread: the calls held for ignoring a retry-after
  // must leave threads for everyone else.
  c = Valid();
  c.max_threads = 32;
  absl::Status held = ValidateConfig(c);
  EXPECT_EQ(held.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(held.message().find("lower --max-held-calls"), absl::string_view::npos) << held;
  c.limits.max_held_calls = 16;
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.limits.refusal_hold = absl::Seconds(61);
  EXPECT_EQ(ValidateConfig(c).code(), absl::StatusCode::kInvalidArgument);
  c.limits.refusal_hold = absl::ZeroDuration();  // never held
  EXPECT_TRUE(ValidateConfig(c).ok());
}

// Issue 15: --dev-plaintext accepted any --listen starting with "127.",
// such as a DNS name "127.evil.example:7443" that resolves anywhere. The
// address is now parsed, never resolved. Fails before the fix.
TEST(ServerConfigTest, PlaintextOnlyOnLoopbackAddresses) {
  ServerConfig c = Valid();
  c.dev_plaintext = true;
  for (const char* loopback : {"127.0.0.1:7443", "127.1.2.3:7443", "localhost:7443", "[::1]:7443",
                               "[::ffff:127.0.0.1]:1"}) {
    c.listen = loopback;
    EXPECT_TRUE(ValidateConfig(c).ok()) << loopback;
  }
  for (const char* elsewhere :
       {"127.evil.example:7443", "127.0.0.1.nip.io:7443", "127.0.0.1", "127.0.0.1:", "127.0.0.1:x",
        "localhost.example:7443", "[::2]:7443", "[::1]7443", "10.0.0.1:7443", ":7443"}) {
    c.listen = elsewhere;
    EXPECT_EQ(ValidateConfig(c).code(), absl::StatusCode::kInvalidArgument) << elsewhere;
  }
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

TEST(ServerConfigTest, HelpdeskOptionsFromFlagsAndConfigFile) {
  const std::string staff = "0123456789abcdef0123456789abcdef";
  const std::string boss = "fedcba9876543210fedcba9876543210";
  ServerConfig flags;
  CLI::App app;
  AddServerOptions(&app, &flags);
  std::vector<std::string> args = {"--urgent-reminder-minutes",
                                   "5",
                                   "--urgent-window-minutes",
                                   "30",
                                   "--helpdesk-account",
                                   staff,
                                   "--helpdesk-supervisor",
                                   boss,
                                   "--intake-deadline",
                                   "routed:high=20",
                                   "--intake-deadline",
                                   "NEW:low=600",
                                   "--intake-ladder",
                                   "coordinator,supervisor",
                                   "--intake-escalation-step-minutes",
                                   "10",
                                   "--timer-interval-seconds",
                                   "2"};
  std::reverse(args.begin(), args.end());
  ASSERT_NO_THROW(app.parse(args));
  const core::HelpdeskPolicy& p = flags.helpdesk;
  EXPECT_EQ(p.urgent_reminder_interval, absl::Minutes(5));
  EXPECT_EQ(p.urgent_reminder_window, absl::Minutes(30));
  EXPECT_EQ(p.helpdesk_accounts, std::vector<std::string>{staff});
  EXPECT_EQ(p.supervisors, std::vector<std::string>{boss});
  EXPECT_EQ(p.Deadline(v1::INTAKE_STATE_ROUTED, v1::INTAKE_URGENCY_HIGH), absl::Minutes(20));
  EXPECT_EQ(p.Deadline(v1::INTAKE_STATE_NEW, v1::INTAKE_URGENCY_LOW), absl::Minutes(600));
  // Untouched cells keep their defaults; closed states have none.
  EXPECT_EQ(p.Deadline(v1::INTAKE_STATE_ROUTED, v1::INTAKE_URGENCY_NORMAL), absl::Hours(4));
  EXPECT_EQ(p.Deadline(v1::INTAKE_STATE_RESOLVED, v1::INTAKE_URGENCY_HIGH), absl::ZeroDuration());
  EXPECT_EQ(p.ladder, (std::vector<core::LadderStep>{core::LadderStep::kCoordinatorOrPool,
                                                     core::LadderStep::kSupervisor}));
  EXPECT_EQ(p.ladder_step_interval, absl::Minutes(10));
  EXPECT_EQ(flags.timer_interval, absl::Seconds(2));
  EXPECT_TRUE(ValidateConfig([&] {
                ServerConfig c = flags;
                c.tls_cert = "cert.pem";
                c.tls_key = "key.pem";
                return c;
              }())
                  .ok());

  // The same in a config file.
  testing::TempDir dir;
  std::string path = dir.Sub("carerelayd.conf");
  {
    std::ofstream out(path);
    out << "intake-deadline = [\"accepted:normal=90\"]\nhelpdesk-account = [\"" << staff << "\"]\n";
  }
  ServerConfig file;
  CLI::App app2;
  AddServerOptions(&app2, &file);
  std::vector<std::string> args2 = {"--config", path};
  std::reverse(args2.begin(), args2.end());
  ASSERT_NO_THROW(app2.parse(args2));
  EXPECT_EQ(file.helpdesk.Deadline(v1::INTAKE_STATE_ACCEPTED, v1::INTAKE_URGENCY_NORMAL),
            absl::Minutes(90));
  EXPECT_EQ(file.helpdesk.helpdesk_accounts, std::vector<std::string>{staff});

  // The line's service hours from the config file: read, and checked.
  {
    std::ofstream out(path);
    out << "service-hours = [\"mon-fri 09:00-17:00\"]\nservice-time-zone = \"Europe/Brussels\"\n"
           "service-holidays = [\"be-bru\"]\nservice-closure = [\"2027-12-24\"]\n";
  }
  ServerConfig hours;
  CLI::App app3;
  AddServerOptions(&app3, &hours);
  std::vector<std::string> args3 = {"--config", path};
  std::reverse(args3.begin(), args3.end());
  ASSERT_NO_THROW(app3.parse(args3));
  const core::ServiceCalendar& calendar = hours.helpdesk.service_hours;
  EXPECT_FALSE(calendar.always_open());
  EXPECT_EQ(calendar.time_zone_name(), "Europe/Brussels");
  EXPECT_EQ(calendar.ClosedBecause(absl::CivilDay(2027, 12, 24)), "closure");
  EXPECT_EQ(calendar.HolidayOn(absl::CivilDay(2027, 5, 8)), "Iris Day");
  hours.tls_cert = "cert.pem";
  hours.tls_key = "key.pem";
  EXPECT_TRUE(ValidateConfig(hours).ok());
  hours.helpdesk.service_hours = core::ServiceCalendar();
  ASSERT_TRUE(hours.helpdesk.service_hours.AddHours("mon 09:00-12:00").ok());
  EXPECT_EQ(ValidateConfig(hours).code(), absl::StatusCode::kInvalidArgument)
      << "hours without a time zone";

  // Malformed values are refused when parsed, or by ValidateConfig.
  for (std::vector<std::string> bad :
       std::vector<std::vector<std::string>>{{"--intake-deadline", "routed:urgent=20"},
                                             {"--intake-deadline", "closed:high=20"},
                                             {"--intake-deadline", "routed:high=0"},
                                             {"--intake-ladder", "assignee,assignee"},
                                             {"--intake-ladder", "assignee,manager"},
                                             {"--service-hours", "mon-fri 17:00-09:00"},
                                             {"--service-time-zone", "Europe/Atlantis"},
                                             {"--service-holidays", "be-xyz"},
                                             {"--service-closure", "tomorrow"}}) {
    ServerConfig c;
    CLI::App a;
    AddServerOptions(&a, &c);
    std::reverse(bad.begin(), bad.end());
    EXPECT_THROW(a.parse(bad), CLI::ParseError) << bad.back();
  }
  ServerConfig c = Valid();
  c.helpdesk.helpdesk_accounts = {"not-an-account"};
  EXPECT_EQ(ValidateConfig(c).code(), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.helpdesk.urgent_reminder_window = absl::Minutes(1);  // shorter than the interval
  EXPECT_EQ(ValidateConfig(c).code(), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.timer_interval = absl::ZeroDuration();
  EXPECT_EQ(ValidateConfig(c).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace carerelay
