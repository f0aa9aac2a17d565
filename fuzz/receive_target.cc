// Fuzz target "client_receive": the client's receive path, envelope →
// decrypt → unpad → content → what the messenger does with it
// (client::Messenger::ProcessEnvelope), on a real device whose sessions and
// sender keys come from real libsignal exchanges with a real server.
//
// Input: [mode][pick][bytes...].
//   mode 0: the bytes are a serialized Envelope, taken as it is;
//   mode 1: envelope `pick` of those the fixture's nurse really received
//           (a pairwise message, a team message with its sender key, an
//           urgent one), with the bytes XORed into its serialized form;
//   mode 2: that envelope with the bytes as its content (the ciphertext).
// The real envelopes make the fuzzer start past libsignal's parsing, where
// a flipped bit reaches the MAC checks, the ratchet and the content codec.
//
// The property (messenger.h): ProcessEnvelope never fails on bad
// ciphertext; that becomes a kProblem entry. It fails only when local
// storage fails, which here it cannot.
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fuzz/fuzz_target.h"
#include "tests/test_support.h"

namespace carerelay::fuzz {
namespace {

struct ReceiveFixture {
  ReceiveFixture() {
    using testing::MessengerDevice;
    gp = MessengerDevice::NewAccount(server, "Dr. Luc Martin (GP)");
    nurse = MessengerDevice::NewAccount(server, "Anne Peeters (home nurse)");
    const std::string team = testing::NewTeamWithRecordedConsent(*gp);
    FuzzCheck(!team.empty(), "fixture: the team");
    testing::JoinTeam(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);
    FuzzCheck(gp->m().SendText(nurse->account(), "Can you change the dressing today?").ok(),
              "fixture: a pairwise message");
    FuzzCheck(gp->m().SendTeamText(team, v1::CHANNEL_CARE, "Discharge on Monday").ok(),
              "fixture: a team message");
    FuzzCheck(gp->m().SendUrgentText(nurse->account(), "Fever 39.5, call me").ok(),
              "fixture: an urgent message");

    // What reached the nurse, unprocessed (no acknowledgement: it stays
    // queued, which does not matter here).
    testing::StreamCollector collector(nurse->relay(), v1::ReceiveRequest(), /*ack=*/false);
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (!collector.drained() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
    envelopes = collector.WaitFor(1);
    collector.Cancel();
    FuzzCheck(envelopes.size() >= 3, absl::StrCat("fixture: ", envelopes.size(), " envelopes"));
  }

  testing::TestServer server;
  std::unique_ptr<testing::MessengerDevice> gp;
  std::unique_ptr<testing::MessengerDevice> nurse;
  std::vector<v1::Envelope> envelopes;
};

ReceiveFixture& Fixture() {
  static ReceiveFixture fixture;
  return fixture;
}

void RunReceive(absl::string_view input) {
  if (input.size() < 2) return;
  ReceiveFixture& fixture = Fixture();
  const uint8_t mode = static_cast<uint8_t>(input[0]) % 3;
  const v1::Envelope& real =
      fixture.envelopes[static_cast<uint8_t>(input[1]) % fixture.envelopes.size()];
  const absl::string_view bytes = input.substr(2);
  v1::Envelope envelope;
  if (mode == 0) {
    if (!envelope.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  } else if (mode == 1) {
    std::string serialized = real.SerializeAsString();
    for (size_t i = 0; i < bytes.size() && i < serialized.size(); ++i) serialized[i] ^= bytes[i];
    if (!envelope.ParseFromString(serialized)) return;
  } else {
    envelope = real;
    envelope.set_content(std::string(bytes));
  }
  std::vector<client::ReceivedMessage> out;
  const absl::Status status = fixture.nurse->m().ProcessEnvelope(envelope, &out);
  FuzzCheck(status.ok(), "ProcessEnvelope failed on a received envelope: " + status.ToString() +
                             " for " + envelope.ShortDebugString());
}

std::vector<std::string> ReceiveSeeds() {
  std::vector<std::string> seeds;
  for (int pick = 0; pick < 6; ++pick) {
    // The real envelope itself, and one with a flipped bit in its content.
    seeds.push_back(std::string{'\1', static_cast<char>(pick)});
    std::string flip = {'\1', static_cast<char>(pick)};
    flip.append(40, '\0');
    flip.push_back('\x01');
    seeds.push_back(flip);
  }
  v1::Envelope server_event;
  server_event.set_type(v1::ENVELOPE_TYPE_SERVER_EVENT);
  server_event.set_content("not a team event");
  seeds.push_back(std::string{'\0', '\0'} + server_event.SerializeAsString());
  seeds.push_back(std::string{'\2', '\1'} + "short ciphertext");
  return seeds;
}

CARERELAY_FUZZ_TARGET(kClientReceive, "client_receive", RunReceive, ReceiveSeeds);

}  // namespace
}  // namespace carerelay::fuzz
