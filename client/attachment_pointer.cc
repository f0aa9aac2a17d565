#include "client/attachment_pointer.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crypto/attachment_cipher.h"

namespace carerelay::client {
namespace {

constexpr size_t kMaxFileNameBytes = 120;

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

absl::Status ValidAttachmentPointer(const v1::AttachmentPointer& p) {
  namespace a = crypto::attachment;
  if (p.attachment_id().size() != 32 || !IsHex(p.attachment_id())) {
    return absl::InvalidArgumentError("a document pointer needs a 32-hex attachment id");
  }
  if (p.key().size() != a::kKeySize || p.digest().size() != a::kDigestSize) {
    return absl::InvalidArgumentError("a document pointer has a malformed key or digest");
  }
  if (p.plaintext_size() > a::kMaxPlaintextSize ||
      p.ciphertext_size() != a::CiphertextSize(p.plaintext_size())) {
    return absl::InvalidArgumentError("a document pointer has inconsistent sizes");
  }
  if (p.team_id().empty() || p.channel() == 0) {
    return absl::InvalidArgumentError("a document pointer names no team channel");
  }
  if (p.file_name().empty() || SafeFileName(p.file_name()) != p.file_name()) {
    return absl::InvalidArgumentError(
        "a document pointer has a file name that is not a plain file name");
  }
  // A later version names its document (another id) and a number from 2;
  // a first version neither.
  if (!p.document_id().empty() && (p.document_id().size() != 32 || !IsHex(p.document_id()) ||
                                   p.document_id() == p.attachment_id() || p.version() < 2)) {
    return absl::InvalidArgumentError(
        "a new version of a document names its document's id and a version from 2");
  }
  if (p.document_id().empty() && p.version() > 1) {
    return absl::InvalidArgumentError("a version from 2 names the document it is a version of");
  }
  return absl::OkStatus();
}

std::string DocumentIdOf(const v1::AttachmentPointer& pointer) {
  return pointer.document_id().empty() ? pointer.attachment_id() : pointer.document_id();
}

uint32_t VersionOf(const v1::AttachmentPointer& pointer) {
  return pointer.document_id().empty() ? 1 : pointer.version();
}

std::string SafeFileName(absl::string_view name) {
  const size_t slash = name.find_last_of("/\\");
  if (slash != absl::string_view::npos) name.remove_prefix(slash + 1);
  std::string out;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == ':') continue;
    out.push_back(c);
  }
  while (!out.empty() && (out.front() == '.' || out.front() == ' ')) out.erase(0, 1);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > kMaxFileNameBytes) {
    const size_t dot = out.rfind('.');
    std::string ext = dot != std::string::npos && out.size() - dot <= 10 ? out.substr(dot) : "";
    out.resize(kMaxFileNameBytes - ext.size());
    // Do not leave half of a UTF-8 sequence at the cut.
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xc0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xc0) out.pop_back();
    out += ext;
  }
  return out.empty() ? "document" : out;
}

std::string GuessMediaType(absl::string_view file_name) {
  const size_t dot = file_name.rfind('.');
  if (dot == absl::string_view::npos) return "application/octet-stream";
  const std::string ext = absl::AsciiStrToLower(file_name.substr(dot + 1));
  static const std::pair<const char*, const char*> kTypes[] = {
      {"pdf", "application/pdf"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"png", "image/png"},
      {"heic", "image/heic"},
      {"tif", "image/tiff"},
      {"tiff", "image/tiff"},
      {"txt", "text/plain"},
      {"csv", "text/csv"},
      {"doc", "application/msword"},
      {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {"odt", "application/vnd.oasis.opendocument.text"},
      {"xml", "application/xml"},
      {"dcm", "application/dicom"},
  };
  for (const auto& [e, type] : kTypes) {
    if (ext == e) return type;
  }
  return "application/octet-stream";
}

std::string HumanSize(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  if (bytes < (uint64_t{1} << 20)) return absl::StrFormat("%.0f KiB", bytes / 1024.0);
  if (bytes < (uint64_t{1} << 30)) return absl::StrFormat("%.1f MiB", bytes / 1048576.0);
  return absl::StrFormat("%.2f GiB", bytes / 1073741824.0);
}

}  // namespace carerelay::client
