// Structured error detail (carerelay.v1.ErrorDetail) carried on an
// absl::Status as a payload, so core/ can say more than a code and a message
// without knowing gRPC; api/ puts it in the gRPC status details and the
// client library takes it back out (FromGrpc in client/).
#ifndef CARERELAY_PROTO_ERROR_DETAIL_H_
#define CARERELAY_PROTO_ERROR_DETAIL_H_

#include <optional>

#include "absl/status/status.h"
#include "carerelay/v1/common.pb.h"

namespace carerelay {

inline constexpr char kErrorDetailUrl[] = "type.googleapis.com/carerelay.v1.ErrorDetail";

absl::Status WithDetail(absl::Status status, const v1::ErrorDetail& detail);
std::optional<v1::ErrorDetail> GetDetail(const absl::Status& status);

}  // namespace carerelay

#endif  // CARERELAY_PROTO_ERROR_DETAIL_H_
