// The CLI's commands are `carerelay NOUN VERB` (message send, file get,
// team invite, ...). The everyday ones also have a one-word shortcut, kept
// because people type them many times a day and because scripts and the
// documentation of earlier versions use them:
//
//   register -> account register     send          -> message send
//   whoami   -> account show         receive       -> message receive
//   keys     -> account keys         ack           -> message ack
//   profiles -> profile list         acks          -> message acks
//   safety-number -> contact safety-number           send-file -> file send
//   trust    -> contact trust        get-file      -> file get
//                                    files         -> file list
//
// A shortcut is expanded before parsing, so it takes exactly the options of
// the full command and `carerelay send --help` shows `message send`'s help.
#ifndef CARERELAY_CLIENT_CLI_SHORTCUTS_H_
#define CARERELAY_CLIENT_CLI_SHORTCUTS_H_

#include <string>
#include <utility>
#include <vector>

namespace carerelay::cli {

// Every shortcut and the NOUN VERB it stands for, in the order shown above.
const std::vector<std::pair<std::string, std::string>>& Shortcuts();

// `args` (the command line without the program name) with its command word,
// if it is a shortcut, replaced by the full NOUN VERB. The command word is
// the first argument that is neither a global option nor a global option's
// value (--home, --profile, --passphrase-file and --lang take one; --json
// and --help none). Anything else is returned unchanged.
std::vector<std::string> ExpandShortcut(std::vector<std::string> args);

}  // namespace carerelay::cli

#endif  // CARERELAY_CLIENT_CLI_SHORTCUTS_H_
