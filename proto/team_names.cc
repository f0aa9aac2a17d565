#include "proto/team_names.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace carerelay {
namespace {

// "Case-Manager" -> "CASE_MANAGER", without a "ROLE_"/"CHANNEL_" prefix.
std::string Canonical(absl::string_view name, absl::string_view prefix) {
  std::string s = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(name));
  absl::StrReplaceAll({{"-", "_"}, {" ", "_"}}, &s);
  if (!s.empty() && s[0] == '#') s.erase(0, 1);
  if (absl::StartsWith(s, prefix)) s.erase(0, prefix.size());
  return s;
}

}  // namespace

absl::StatusOr<v1::Role> ParseRole(absl::string_view name) {
  v1::Role role;
  if (v1::Role_Parse(absl::StrCat("ROLE_", Canonical(name, "ROLE_")), &role) &&
      role != v1::ROLE_UNSPECIFIED) {
    return role;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown role \"", name,
      "\": use patient, caregiver, coordinator, professional, social, case-manager or helpdesk"));
}

absl::StatusOr<v1::Channel> ParseChannel(absl::string_view name) {
  v1::Channel channel;
  if (v1::Channel_Parse(absl::StrCat("CHANNEL_", Canonical(name, "CHANNEL_")), &channel) &&
      channel != v1::CHANNEL_UNSPECIFIED) {
    return channel;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown channel \"", name, "\": use team, care, clinical or intake"));
}

}  // namespace carerelay
