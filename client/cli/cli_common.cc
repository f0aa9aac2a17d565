#include "client/cli/cli_common.h"

#include <fstream>
#include <iostream>

#include "absl/time/time.h"

namespace carerelay::cli {

std::string Passphrase(const Globals& g) {
  if (!g.passphrase_file.empty()) {
    std::ifstream in(g.passphrase_file);
    std::string line;
    std::getline(in, line);
    return line;
  }
  const char* env = getenv("CARERELAY_PASSPHRASE");
  return env ? env : "";
}

absl::StatusOr<std::unique_ptr<Profile>> OpenProfile(const Globals& g) {
  return Profile::Open(ProfilesHome(g.home), g.profile, Passphrase(g));
}

int Fail(const absl::Status& s, const Globals& g) {
  int code = kExitFailed;
  if (absl::IsNotFound(s) && s.message().find("no profile") != absl::string_view::npos) code = 3;
  // Every changed-key error of crypto/ says "untrusted identity"; a bare
  // "identity" would also match profile paths in other errors.
  if (absl::IsFailedPrecondition(s) &&
      s.message().find("untrusted identity") != absl::string_view::npos) {
    code = 4;
  }
  if (g.json) {
    nlohmann::json j = {{"error", std::string(s.message())},
                        {"code", absl::StatusCodeToString(s.code())}};
    std::cout << j.dump() << "\n";
  } else {
    std::cerr << "error: " << s.message() << "\n";
    if (code == 4) {
      std::cerr << "hint: compare `carerelay safety-number ACCOUNT` with the person, then run "
                   "`carerelay trust ACCOUNT`\n";
    }
    if (absl::IsUnavailable(s)) {
      std::cerr << "hint: is carerelayd running, and are --server and --ca-file right?\n";
    }
  }
  return code;
}

int UsageError(const std::string& message, const Globals& g) {
  if (g.json) {
    std::cout << nlohmann::json{{"error", message}, {"code", "INVALID_ARGUMENT"}}.dump() << "\n";
  } else {
    std::cerr << "error: " << message << "\nRun with --help for more information.\n";
  }
  return kExitUsage;
}

void Print(const Globals& g, const nlohmann::json& j, const std::string& human) {
  if (g.json) {
    std::cout << j.dump() << "\n";
  } else {
    std::cout << human << "\n";
  }
}

std::string Short(const std::string& id) { return id.substr(0, 8); }

std::string FormatTime(int64_t ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixMillis(ms), absl::LocalTimeZone());
}

}  // namespace carerelay::cli
