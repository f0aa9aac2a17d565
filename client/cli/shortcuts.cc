#include "client/cli/shortcuts.h"

#include <algorithm>

#include "absl/strings/str_split.h"

namespace carerelay::cli {

const std::vector<std::pair<std::string, std::string>>& Shortcuts() {
  static const std::vector<std::pair<std::string, std::string>> shortcuts = {
      {"register", "account register"},
      {"whoami", "account show"},
      {"keys", "account keys"},
      {"profiles", "profile list"},
      {"safety-number", "contact safety-number"},
      {"trust", "contact trust"},
      {"send", "message send"},
      {"receive", "message receive"},
      {"ack", "message ack"},
      {"acks", "message acks"},
      {"send-file", "file send"},
      {"get-file", "file get"},
      {"files", "file list"},
  };
  return shortcuts;
}

std::vector<std::string> ExpandShortcut(std::vector<std::string> args) {
  // The global options that take a value as the next argument; keep in step
  // with main.cc.
  static const char* const kWithValue[] = {"--home", "--profile", "--passphrase-file", "--lang"};
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("-", 0) == 0) {
      bool takes_value = std::any_of(std::begin(kWithValue), std::end(kWithValue),
                                     [&](const char* option) { return arg == option; });
      if (takes_value) ++i;  // "--home=DIR" is one argument and needs no skip
      continue;
    }
    const auto& shortcuts = Shortcuts();
    auto it = std::find_if(shortcuts.begin(), shortcuts.end(),
                           [&](const auto& s) { return s.first == arg; });
    if (it != shortcuts.end()) {
      std::vector<std::string> words = absl::StrSplit(it->second, ' ');
      args.erase(args.begin() + i);
      args.insert(args.begin() + i, words.begin(), words.end());
    }
    return args;  // only the command word may be a shortcut
  }
  return args;
}

}  // namespace carerelay::cli
