#include "proto/error_detail.h"

#include "absl/strings/cord.h"

namespace carerelay {

absl::Status WithDetail(absl::Status status, const v1::ErrorDetail& detail) {
  status.SetPayload(kErrorDetailUrl, absl::Cord(detail.SerializeAsString()));
  return status;
}

std::optional<v1::ErrorDetail> GetDetail(const absl::Status& status) {
  auto payload = status.GetPayload(kErrorDetailUrl);  // absl::optional
  if (!payload) return std::nullopt;
  v1::ErrorDetail detail;
  if (!detail.ParseFromString(std::string(*payload))) return std::nullopt;
  return detail;
}

}  // namespace carerelay
