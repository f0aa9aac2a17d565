// What every `carerelay` command shares: the global options, opening the
// profile, and how results and errors are printed (human-readable by
// default, one JSON object per line with --json) with the documented exit
// codes:
//   0 success; 1 the operation failed (the message says why and what to do);
//   2 bad usage; 3 no such profile (register first); 4 a contact's identity
//   key changed (check the safety number, then `trust`).
#ifndef CARERELAY_CLIENT_CLI_CLI_COMMON_H_
#define CARERELAY_CLIENT_CLI_CLI_COMMON_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/cli/profile.h"

namespace carerelay::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

struct Globals {
  std::string home;
  std::string profile = "default";
  std::string passphrase_file;
  bool json = false;
};

// The passphrase from --passphrase-file, else CARERELAY_PASSPHRASE ("" if none).
std::string Passphrase(const Globals& g);
absl::StatusOr<std::unique_ptr<Profile>> OpenProfile(const Globals& g);

// Prints `s` (on stderr, or as a JSON object on stdout with --json) with a
// hint where one helps, and returns its exit code (1, 3 or 4).
int Fail(const absl::Status& s, const Globals& g);
// Bad usage found after parsing: prints `message` and returns 2.
int UsageError(const std::string& message, const Globals& g);

// Prints `j` (with --json) or `human` (otherwise), each followed by a newline.
void Print(const Globals& g, const nlohmann::json& j, const std::string& human);

// `j` on one line. Bytes that are not UTF-8 (a typed argument, a file name)
// become U+FFFD instead of making nlohmann::json throw.
std::string DumpJson(const nlohmann::json& j);

// The first 8 characters of an id, as people read them.
std::string Short(const std::string& id);
// The devices a message of ours was delivered to, as people read them:
// "Dr. Luc Martin (device 1), 3f2ab0c1 (device 2)" (a short account id for
// someone no team of this device named).
std::string DeliveredTo(const client::Delivery& delivery);
// Local time, "2026-03-14 09:30".
std::string FormatTime(int64_t ms);
// The day of `ms` in local time, as YYYY-MM-DD.
std::string FormatDate(int64_t ms);
// A document's fields in a --json object (attachment_id, file_name, size,
// media_type, caption), the same wherever one is printed.
void AddDocumentJson(const v1::AttachmentPointer& document, nlohmann::json* j);

// A role and a channel as people read them, in the current language
// ("aidant proche", "mantelzorger"; "clinique", written after a '#');
// catalog/<lang>/names.txt.
// --json and what people type keep the tokens (client::RoleName,
// client::ChannelName).
std::string RoleLabel(v1::Role role);
std::string ChannelLabel(v1::Channel channel);
// A channel as a person types it: its token ("clinical", "#clinical",
// "CHANNEL_CLINICAL") or its name in any language the CLI speaks
// ("clinique", "#klinisch"), case and accents aside. INVALID_ARGUMENT
// listing the tokens otherwise.
absl::StatusOr<v1::Channel> ParseTypedChannel(const std::string& typed);
// One device's delivery of a message of ours as a --json object (receive and
// chat print one per device): `kind_key` ("type" or "event") names it
// "delivered"; `now` is when it was seen.
nlohmann::json DeliveryJson(const char* kind_key, const std::string& now,
                            const client::Delivery& delivery, const client::Delivery::To& to,
                            const std::string& team_id, v1::Channel channel);

}  // namespace carerelay::cli

#endif  // CARERELAY_CLIENT_CLI_CLI_COMMON_H_
