#include "crypto/content_codec.h"

#include <openssl/crypto.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crypto/padding.h"

namespace carerelay::crypto {

absl::StatusOr<std::string> EncodeContent(const carerelay::v1::Content& content) {
  if (content.version() != 0 && content.version() != kContentVersion) {
    return absl::InvalidArgumentError(absl::StrCat("cannot write Content version ",
                                                   content.version(), "; this client writes ",
                                                   kContentVersion));
  }
  carerelay::v1::Content versioned = content;
  versioned.set_version(kContentVersion);
  std::string serialized;
  if (!versioned.SerializeToString(&serialized)) {
    return absl::InvalidArgumentError("Content does not serialize");
  }
  std::string padded = PadMessage(serialized);
  OPENSSL_cleanse(serialized.data(), serialized.size());
  return padded;
}

absl::StatusOr<carerelay::v1::Content> DecodeContent(absl::string_view padded) {
  absl::StatusOr<std::string> serialized = UnpadMessage(padded);
  if (!serialized.ok()) return serialized.status();
  carerelay::v1::Content content;
  const bool parsed = content.ParseFromString(*serialized);
  OPENSSL_cleanse(serialized->data(), serialized->size());
  if (!parsed) return absl::InvalidArgumentError("decrypted Content does not parse");
  if (content.version() == 0) {
    return absl::InvalidArgumentError("decrypted Content has no version");
  }
  if (content.version() > kContentVersion) {
    return absl::UnimplementedError(absl::StrCat("Content version ", content.version(),
                                                 " is newer than this client understands (",
                                                 kContentVersion, "); update the client"));
  }
  return content;
}

}  // namespace carerelay::crypto
