// The pointer to a shared document (content.proto, AttachmentPointer): what
// makes one acceptable, and the names a received document may be saved
// under. A pointer comes from another person's device, so nothing in it is
// trusted until checked here: above all its file name, which must never
// steer a download outside the folder the user chose.
#ifndef CARERELAY_CLIENT_ATTACHMENT_POINTER_H_
#define CARERELAY_CLIENT_ATTACHMENT_POINTER_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "carerelay/v1/content.pb.h"

namespace carerelay::client {

// OK if the pointer can be fetched and decrypted: a 32-hex attachment id, a
// 32-byte key and digest, a ciphertext size that follows from the
// plaintext size, a team and a channel, and a file name SafeFileName keeps
// as is. INVALID_ARGUMENT naming the first fault otherwise.
absl::Status ValidAttachmentPointer(const v1::AttachmentPointer& pointer);

// Versions of a document (AttachmentPointer.document_id, version): the
// document a pointer is a version of (its first version's attachment id)
// and its number (1 for a first version).
std::string DocumentIdOf(const v1::AttachmentPointer& pointer);
uint32_t VersionOf(const v1::AttachmentPointer& pointer);

// `name` as a plain file name: the last path component, without control
// characters, not "." or "..", not starting with a dot (no hidden files),
// at most 120 bytes (keeping the extension); "document" if nothing is left.
std::string SafeFileName(absl::string_view name);

// The media type for a file name's extension (pdf, jpg, png, txt, docx,
// ...); "application/octet-stream" if unknown.
std::string GuessMediaType(absl::string_view file_name);

// "1.5 MiB", "812 KiB", "17 B": sizes as a person reads them.
std::string HumanSize(uint64_t bytes);

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_ATTACHMENT_POINTER_H_
