// Fuzz target "server_config": carerelayd's configuration file
// (--config, CLI11's key = value format; server/server_config.h), as a
// hospital's operator writes it, read and then validated as at start-up.
//
// Properties: no crash, no sanitizer report, and no exception other than
// CLI11's own parse errors (which carerelayd prints as a usage error): a
// typo in /etc/carerelay/carerelayd.conf must give a message, not an abort.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iterator>

#include "fuzz/fuzz_target.h"
#include "server/server_config.h"
#include "tests/test_support.h"

namespace carerelay::fuzz {
namespace {

void RunServerConfig(absl::string_view input) {
  static testing::TempDir dir;
  const std::string path = dir.Sub("carerelayd.conf");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(input.data(), static_cast<std::streamsize>(input.size()));
  }
  CLI::App app{"carerelayd"};
  ServerConfig config;
  AddServerOptions(&app, &config);
  std::vector<std::string> args = {path, "--config"};  // CLI11 parses a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::Error&) {
    return;  // a usage error: carerelayd prints it and exits 2
  } catch (const std::exception& e) {
    FuzzCheck(false, std::string("the config file threw ") + e.what());
  }
  (void)ValidateConfig(config);
}

std::vector<std::string> ServerConfigSeeds() {
  std::ifstream example(CARERELAY_SOURCE_DIR "/deploy/carerelayd.conf.example");
  std::string text((std::istreambuf_iterator<char>(example)), std::istreambuf_iterator<char>());
  FuzzCheck(!text.empty(), "seed: deploy/carerelayd.conf.example");
  return {
      text,
      "listen = \"127.0.0.1:7443\"\ndev-plaintext = true\nsync = false\n",
      "max-threads = 0\nmax-message-bytes = -1\n",
      "access = [\"social:clinical=r\", \"caregiver:care=rp\"]\nlisten = 7\n",
      "[section]\nlisten = \"[::]:7443\"\nunknown-key = 1\n",
      "urgent-reminder-minutes = 5\nintake-ladder = \"urgent:15,normal:240\"\n"
      "intake-deadline = \"urgent=30\"\ntimer-interval-seconds = -3\n",
  };
}

CARERELAY_FUZZ_TARGET(kServerConfig, "server_config", RunServerConfig, ServerConfigSeeds);

}  // namespace
}  // namespace carerelay::fuzz
