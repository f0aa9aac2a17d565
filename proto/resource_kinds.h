// The kinds of the map of resources (directory.proto) as people and CSV
// files write them, in one place for the server (searching by need matches
// the kind's word) and the clients (CLI options, CSV columns).
//
// Thread-safety: free functions; thread-safe.
#ifndef CARERELAY_PROTO_RESOURCE_KINDS_H_
#define CARERELAY_PROTO_RESOURCE_KINDS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "carerelay/v1/directory.pb.h"

namespace carerelay {

// "service", "structure", "activity" (and "" for UNSPECIFIED).
std::string ResourceKindToken(v1::ResourceKind kind);
// The kind a token names (case and surrounding spaces aside); UNSPECIFIED
// if none.
v1::ResourceKind ResourceKindFromToken(absl::string_view token);

}  // namespace carerelay

#endif  // CARERELAY_PROTO_RESOURCE_KINDS_H_
