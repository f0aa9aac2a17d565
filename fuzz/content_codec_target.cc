// Fuzz target "content_codec": the padding and the content codec, which
// read every decrypted message (crypto/padding.h, crypto/content_codec.h).
//
// Properties, for any input:
// - UnpadMessage never reads out of bounds (ASan) and, when it accepts, the
//   input is exactly the padding of what it returned (the format has one
//   padded form per plaintext);
// - PadMessage then UnpadMessage gives the input back;
// - DecodeContent, when it accepts, gives a Content that encodes and
//   decodes to itself.
#include <google/protobuf/util/message_differencer.h>

#include "crypto/content_codec.h"
#include "crypto/padding.h"
#include "fuzz/fuzz_target.h"

namespace carerelay::fuzz {
namespace {

void RunContentCodec(absl::string_view input) {
  absl::StatusOr<std::string> unpadded = crypto::UnpadMessage(input);
  if (unpadded.ok()) {
    FuzzCheck(crypto::PadMessage(*unpadded) == input,
              "UnpadMessage accepted a non-canonical padding");
  }
  absl::StatusOr<std::string> round_trip = crypto::UnpadMessage(crypto::PadMessage(input));
  FuzzCheck(round_trip.ok() && *round_trip == input, "PadMessage does not unpad to its input");

  absl::StatusOr<v1::Content> content = crypto::DecodeContent(input);
  if (!content.ok()) return;
  absl::StatusOr<std::string> encoded = crypto::EncodeContent(*content);
  FuzzCheck(encoded.ok(), "a decoded Content does not encode: " + encoded.status().ToString());
  absl::StatusOr<v1::Content> again = crypto::DecodeContent(*encoded);
  FuzzCheck(again.ok() && google::protobuf::util::MessageDifferencer::Equals(*content, *again),
            "a decoded Content does not survive encoding: " + content->ShortDebugString());
}

std::vector<std::string> ContentCodecSeeds() {
  std::vector<v1::Content> contents(5);
  contents[0].mutable_text()->set_body("Changement de pansement demain à 9h");
  contents[0].set_message_id("m-1");
  contents[0].set_sent_at_ms(1764000000000);
  contents[1].mutable_receipt()->set_kind(v1::Receipt::KIND_READ);
  contents[1].mutable_receipt()->add_message_ids("m-1");
  contents[2].mutable_team_profile()->set_patient_name("Jeanne Dubois");
  contents[2].mutable_team_profile()->set_birth_date("1941-03-02");
  contents[3].mutable_attachment()->set_attachment_id("00112233445566778899aabbccddeeff");
  contents[3].mutable_attachment()->set_key(std::string(32, 'k'));
  contents[4].mutable_session_reset();
  contents[4].set_group_id("g");
  std::vector<std::string> seeds;
  for (const v1::Content& content : contents) {
    absl::StatusOr<std::string> encoded = crypto::EncodeContent(content);
    FuzzCheck(encoded.ok(), "seed: " + encoded.status().ToString());
    seeds.push_back(*encoded);
  }
  seeds.push_back(crypto::PadMessage(""));
  seeds.push_back(std::string(crypto::kPaddingBlock, '\0'));
  return seeds;
}

CARERELAY_FUZZ_TARGET(kContentCodec, "content_codec", RunContentCodec, ContentCodecSeeds);

}  // namespace
}  // namespace carerelay::fuzz
