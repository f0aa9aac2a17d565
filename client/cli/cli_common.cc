#include "client/cli/cli_common.h"

#include <fstream>
#include <iostream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "client/cli/catalog.h"
#include "client/team_view.h"
#include "text/latin_folding.h"

namespace carerelay::cli {
namespace {

// What to do next after `s`, as a catalog key ("" when the message says it
// all). `exit_code` is what Fail() decided.
std::string_view HintKey(const absl::Status& s, int exit_code) {
  if (exit_code == 3) return "hint.no_profile";
  if (exit_code == 4) return "hint.identity_changed";
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
      return "hint.unavailable";
    case absl::StatusCode::kPermissionDenied:
      return "hint.permission_denied";
    case absl::StatusCode::kUnauthenticated:
      return "hint.unauthenticated";
    case absl::StatusCode::kDeadlineExceeded:
      return "hint.deadline";
    case absl::StatusCode::kResourceExhausted:
      return "hint.resource_exhausted";
    case absl::StatusCode::kDataLoss:
      return "hint.data_loss";
    case absl::StatusCode::kInvalidArgument:
      return "hint.usage";
    default:
      return "";
  }
}

}  // namespace

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
    std::cout << DumpJson(j) << "\n";
    return code;
  }
  std::cerr << Tr("error.line", {{"message", std::string(s.message())}}) << "\n";
  std::string_view hint = HintKey(s, code);
  if (!hint.empty()) std::cerr << Tr(hint) << "\n";
  return code;
}

int UsageError(const std::string& message, const Globals& g) {
  if (g.json) {
    std::cout << DumpJson({{"error", message}, {"code", "INVALID_ARGUMENT"}}) << "\n";
  } else {
    std::cerr << Tr("error.usage_line", {{"message", message}}) << "\n";
  }
  return kExitUsage;
}

void Print(const Globals& g, const nlohmann::json& j, const std::string& human) {
  if (g.json) {
    std::cout << DumpJson(j) << "\n";
  } else {
    std::cout << human << "\n";
  }
}

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Short(const std::string& id) { return id.substr(0, 8); }

std::string DeliveredTo(const client::Delivery& delivery) {
  std::vector<std::string> to;
  for (const client::Delivery::To& t : delivery.to) {
    to.push_back(Tr("message.delivered_device",
                    {{"name", t.name.empty() ? Short(t.device.account_id) : t.name},
                     {"device", std::to_string(t.device.device_id)}}));
  }
  return absl::StrJoin(to, ", ");
}

std::string FormatTime(int64_t ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixMillis(ms), absl::LocalTimeZone());
}

void AddDocumentJson(const v1::AttachmentPointer& document, nlohmann::json* j) {
  (*j)["attachment_id"] = document.attachment_id();
  (*j)["file_name"] = document.file_name();
  (*j)["size"] = document.plaintext_size();
  (*j)["media_type"] = document.media_type();
  (*j)["caption"] = document.caption();
}

std::string FormatDate(int64_t ms) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixMillis(ms), absl::LocalTimeZone());
}

std::string RoleLabel(v1::Role role) {
  switch (role) {
    case v1::ROLE_PATIENT:
      return Tr("role.patient");
    case v1::ROLE_CAREGIVER:
      return Tr("role.caregiver");
    case v1::ROLE_COORDINATOR:
      return Tr("role.coordinator");
    case v1::ROLE_PROFESSIONAL:
      return Tr("role.professional");
    case v1::ROLE_SOCIAL:
      return Tr("role.social");
    case v1::ROLE_CASE_MANAGER:
      return Tr("role.case_manager");
    case v1::ROLE_HELPDESK:
      return Tr("role.helpdesk");
    default:
      return "?";
  }
}

namespace {

// The catalog key of a channel's name; nullptr for a direct message.
const char* ChannelKey(v1::Channel channel) {
  switch (channel) {
    case v1::CHANNEL_TEAM:
      return "channel.team";
    case v1::CHANNEL_CARE:
      return "channel.care";
    case v1::CHANNEL_CLINICAL:
      return "channel.clinical";
    case v1::CHANNEL_INTAKE:
      return "channel.intake";
    default:
      return nullptr;
  }
}

}  // namespace

std::string ChannelLabel(v1::Channel channel) {
  const char* key = ChannelKey(channel);
  return key ? Tr(key) : client::ChannelName(channel);
}

absl::StatusOr<v1::Channel> ParseTypedChannel(const std::string& typed) {
  absl::StatusOr<v1::Channel> token = client::ParseChannel(typed);
  if (token.ok()) return token;
  absl::string_view name = absl::StripAsciiWhitespace(typed);
  absl::ConsumePrefix(&name, "#");
  const std::string folded = text::FoldForSearch(name);
  for (v1::Channel channel :
       {v1::CHANNEL_TEAM, v1::CHANNEL_CARE, v1::CHANNEL_CLINICAL, v1::CHANNEL_INTAKE}) {
    for (Language language : AllLanguages()) {
      const auto& texts = CatalogOf(language).texts;
      auto it = texts.find(ChannelKey(channel));
      if (it != texts.end() && text::FoldForSearch(it->second) == folded) return channel;
    }
  }
  return token.status();
}

nlohmann::json DeliveryJson(const char* kind_key, const std::string& now,
                            const client::Delivery& delivery, const client::Delivery::To& to,
                            const std::string& team_id, v1::Channel channel) {
  nlohmann::json j = {{kind_key, "delivered"},
                      {"time", now},
                      {"message_id", delivery.message_id},
                      {"sent", FormatTime(absl::ToUnixMillis(delivery.sent_at))},
                      {"device", to.device.ToString()},
                      {"account_id", to.device.account_id},
                      {"device_id", to.device.device_id},
                      {"name", to.name},
                      {"for_envelope", to.envelope_id}};
  if (!delivery.urgent_message_id.empty()) j["urgent_message_id"] = delivery.urgent_message_id;
  if (!team_id.empty()) {
    j["team"] = team_id;
    j["channel"] = client::ChannelName(channel);
  }
  return j;
}

}  // namespace carerelay::cli
