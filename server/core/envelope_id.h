// Envelope ids are the 16-hex-digit server sequence numbers: unique in the
// store and never reused, so an acknowledgement needs no id index.
#ifndef CARERELAY_SERVER_CORE_ENVELOPE_ID_H_
#define CARERELAY_SERVER_CORE_ENVELOPE_ID_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace carerelay::core {

// "%016x" of a sequence number, and back (INVALID_ARGUMENT if malformed).
std::string EnvelopeId(uint64_t sequence);
absl::StatusOr<uint64_t> ParseEnvelopeId(absl::string_view id);

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_ENVELOPE_ID_H_
