#include "proto/resource_kinds.h"

#include "absl/strings/ascii.h"

namespace carerelay {

std::string ResourceKindToken(v1::ResourceKind kind) {
  switch (kind) {
    case v1::RESOURCE_KIND_SERVICE:
      return "service";
    case v1::RESOURCE_KIND_STRUCTURE:
      return "structure";
    case v1::RESOURCE_KIND_ACTIVITY:
      return "activity";
    default:
      return "";
  }
}

v1::ResourceKind ResourceKindFromToken(absl::string_view token) {
  const std::string t = absl::AsciiStrToLower(absl::StripAsciiWhitespace(token));
  for (v1::ResourceKind kind :
       {v1::RESOURCE_KIND_SERVICE, v1::RESOURCE_KIND_STRUCTURE, v1::RESOURCE_KIND_ACTIVITY}) {
    if (t == ResourceKindToken(kind)) return kind;
  }
  return v1::RESOURCE_KIND_UNSPECIFIED;
}

}  // namespace carerelay
