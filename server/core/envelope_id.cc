#include "server/core/envelope_id.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace carerelay::core {

std::string EnvelopeId(uint64_t sequence) { return absl::StrFormat("%016x", sequence); }

absl::StatusOr<uint64_t> ParseEnvelopeId(absl::string_view id) {
  uint64_t seq = 0;
  if (id.size() != 16 || !absl::SimpleHexAtoi(id, &seq) || seq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed envelope id \"", id.substr(0, 40), "\": expected 16 hex digits"));
  }
  return seq;
}

}  // namespace carerelay::core
