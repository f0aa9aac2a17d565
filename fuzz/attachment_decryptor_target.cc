// Fuzz target "attachment_decryptor": the decryptor every downloaded
// document goes through (crypto/attachment_cipher.h), fed a real sealed
// attachment the input damages, cuts, extends or re-chunks, or (raw mode)
// a key, digest, size and stream all taken from the input.
//
// Input: [flags][offset (2 bytes)][bytes...].
//   flags & 1:  the two-chunk attachment instead of the one-chunk one;
//   flags & 2:  cut the stream at the offset;
//   flags & 4:  append the bytes to the stream;
//   flags & 8:  hand it over in pieces whose sizes come from the bytes,
//               not in sealed-chunk sizes;
//   flags & 16: declare a plaintext size off by the first byte - 128;
//   flags & 32: raw: key, digest and size from the bytes, then the stream.
//   The bytes are XORed into the stream at the offset.
//
// Properties: no out-of-bounds access or leak (ASan); when every chunk
// opened and Finish() is OK, the stream hashes to the expected digest
// (for the real attachments: it is the sealed stream and the plaintext is
// the original); an error is final (a later chunk is refused too).
#include <openssl/evp.h>

#include "crypto/attachment_cipher.h"
#include "fuzz/fuzz_target.h"
#include "tests/file_bytes.h"

namespace carerelay::fuzz {
namespace {

namespace attachment = crypto::attachment;
using testing::Sha256;

struct Sealed {
  std::string plaintext;
  std::string stream;  // the sealed chunks, in order
  std::string key;
  std::string digest;
};

Sealed Seal(size_t size) {
  Sealed sealed;
  for (size_t i = 0; i < size; ++i) sealed.plaintext.push_back(static_cast<char>('a' + i % 26));
  auto encryptor = crypto::AttachmentEncryptor::Create(size);
  FuzzCheck(encryptor.ok(), "fixture: the encryptor");
  for (uint64_t index = 0; index < (*encryptor)->chunk_count(); ++index) {
    const size_t chunk = attachment::PlaintextChunkSize(size, index);
    auto out =
        (*encryptor)
            ->SealChunk(
                absl::string_view(sealed.plaintext).substr(index * attachment::kChunkSize, chunk));
    FuzzCheck(out.ok(), "fixture: a sealed chunk");
    sealed.stream += *out;
  }
  auto digest = (*encryptor)->Digest();
  FuzzCheck(digest.ok(), "fixture: the digest");
  sealed.key = (*encryptor)->key();
  sealed.digest = *digest;
  return sealed;
}

const Sealed& Attachment(bool two_chunks) {
  static const Sealed one = Seal(100);
  static const Sealed two = Seal(attachment::kChunkSize + 50);
  return two_chunks ? two : one;
}

void RunAttachmentDecryptor(absl::string_view input) {
  if (input.size() < 3) return;
  const uint8_t flags = static_cast<uint8_t>(input[0]);
  const size_t offset = static_cast<uint8_t>(input[1]) * 256 + static_cast<uint8_t>(input[2]);
  absl::string_view bytes = input.substr(3);

  std::string key, digest, stream, plaintext;
  uint64_t plaintext_size = 0;
  if (flags & 32) {
    if (bytes.size() < attachment::kKeySize + attachment::kDigestSize + 3) return;
    key = std::string(bytes.substr(0, attachment::kKeySize));
    digest = std::string(bytes.substr(attachment::kKeySize, attachment::kDigestSize));
    bytes.remove_prefix(attachment::kKeySize + attachment::kDigestSize);
    // Up to 3 chunks and a bit, so a whole stream fits in a fuzz input.
    plaintext_size = (static_cast<uint8_t>(bytes[0]) << 16 | static_cast<uint8_t>(bytes[1]) << 8 |
                      static_cast<uint8_t>(bytes[2])) %
                     (3 * attachment::kChunkSize + 100);
    bytes.remove_prefix(3);
    stream = std::string(bytes);
  } else {
    const Sealed& real = Attachment(flags & 1);
    key = real.key;
    digest = real.digest;
    stream = real.stream;
    plaintext = real.plaintext;
    plaintext_size = real.plaintext.size();
    const size_t at = offset % (stream.size() + 1);
    for (size_t i = 0; i < bytes.size() && at + i < stream.size(); ++i) stream[at + i] ^= bytes[i];
    if (flags & 2) stream.resize(at);
    if (flags & 4) stream.append(bytes.data(), bytes.size());
    if ((flags & 16) && !bytes.empty()) {
      plaintext_size += static_cast<int64_t>(static_cast<uint8_t>(bytes[0])) - 128;
    }
  }

  auto decryptor = crypto::AttachmentDecryptor::Create(key, plaintext_size, digest);
  if (!decryptor.ok()) return;
  std::string opened;
  size_t position = 0;
  size_t piece = 0;
  bool failed = false;
  while (position < stream.size()) {
    size_t size;
    if (flags & 8) {
      size = bytes.empty() ? stream.size()
                           : 1 + static_cast<uint8_t>(bytes[piece++ % bytes.size()]) * 512;
    } else {
      size = attachment::kSealedChunkSize;
    }
    size = std::min(size, stream.size() - position);
    absl::StatusOr<std::string> chunk =
        (*decryptor)->OpenChunk(absl::string_view(stream).substr(position, size));
    position += size;
    if (!chunk.ok()) {
      failed = true;
    } else {
      FuzzCheck(!failed, "a chunk opened after an earlier one failed");
      opened += *chunk;
    }
  }
  if ((*decryptor)->Finish().ok()) {
    FuzzCheck(!failed, "Finish is OK after a chunk failed");
    FuzzCheck(Sha256(stream) == digest, "a stream that does not hash to its digest was accepted");
    FuzzCheck(opened.size() == plaintext_size, "the plaintext is not the declared size");
    if (!(flags & 32)) {
      FuzzCheck(stream == Attachment(flags & 1).stream && opened == plaintext,
                "a changed attachment was accepted");
    }
  }
}

std::vector<std::string> AttachmentDecryptorSeeds() {
  return {
      std::string("\0\0\0", 3),            // the one-chunk attachment, untouched
      std::string("\1\0\0", 3),            // the two-chunk one, untouched
      std::string("\1\0\x20\x01", 4),      // a flipped bit in the first chunk
      std::string("\3\x01\0", 3),          // cut after 256 bytes
      std::string("\5\0\0extra", 8),       // a byte string appended
      std::string("\x09\0\0\x7f\x10", 5),  // odd piece sizes
      std::string("\x11\0\0\x81", 4),      // one byte too many declared
      std::string("\x20\0\0", 3) + std::string(64, 'k') + std::string("\0\0\x10", 3) +
          std::string(16 + 16, 'c'),  // raw
  };
}

CARERELAY_FUZZ_TARGET(kAttachmentDecryptor, "attachment_decryptor", RunAttachmentDecryptor,
                      AttachmentDecryptorSeeds);

}  // namespace
}  // namespace carerelay::fuzz
