// Issue 16, item 7: the catalogue of bad inputs. Each row is one malformed,
// oversized, out-of-range, replayed or misdirected request that a broken or
// hostile client could send to a care team's server, sent with the raw
// generated stubs over TLS to a real in-process server (the client library
// checks some of these itself, so it is bypassed), and the status the proto
// comment (or the README's "Limits" and "Abuse limits") documents for it.
// After the whole catalogue the store must still be consistent (the checker
// of `carerelayd admin check`, on a checkpoint) and the server still relays.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "carerelay/v1/accounts.grpc.pb.h"
#include "carerelay/v1/attachments.grpc.pb.h"
#include "carerelay/v1/directory.grpc.pb.h"
#include "carerelay/v1/intakes.grpc.pb.h"
#include "carerelay/v1/keys.grpc.pb.h"
#include "carerelay/v1/messages.grpc.pb.h"
#include "carerelay/v1/teams.grpc.pb.h"
#include "carerelay/v1/urgency.grpc.pb.h"
#include "proto/link_device.h"
#include "server/core/access_matrix.h"
#include "server/core/consistency_check.h"
#include "server/store/database.h"
#include "tests/file_bytes.h"
#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

using Who = client::DeviceCredentials;
using grpc::StatusCode;

// Ids that are not ids.
const std::string kShortId(31, 'a');                                // one character short
const std::string kNotHex(32, 'z');                                 // the right length, not hex
const std::string kNotUtf8(32, '\xff');                             // not even text
const std::string kUnknownId = "00112233445566778899aabbccddeeff";  // well formed, nobody's

// The generated stubs on one TLS channel of their own: nothing of the
// client library between the test and the server.
struct RawStubs {
  explicit RawStubs(TestServer& server) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadWholeFile(TlsDir() + "/ca.crt");
    channel = grpc::CreateChannel(server.target(), grpc::SslCredentials(tls));
    accounts = v1::Accounts::NewStub(channel);
    keys = v1::Keys::NewStub(channel);
    messages = v1::Messages::NewStub(channel);
    teams = v1::Teams::NewStub(channel);
    attachments = v1::Attachments::NewStub(channel);
    directory = v1::Directory::NewStub(channel);
    intakes = v1::Intakes::NewStub(channel);
    urgency = v1::Urgency::NewStub(channel);
  }
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Accounts::Stub> accounts;
  std::unique_ptr<v1::Keys::Stub> keys;
  std::unique_ptr<v1::Messages::Stub> messages;
  std::unique_ptr<v1::Teams::Stub> teams;
  std::unique_ptr<v1::Attachments::Stub> attachments;
  std::unique_ptr<v1::Directory::Stub> directory;
  std::unique_ptr<v1::Intakes::Stub> intakes;
  std::unique_ptr<v1::Urgency::Stub> urgency;
};

// A call context carrying `who`'s credentials as client/relay_client.cc
// sends them (nullptr: none at all).
std::unique_ptr<grpc::ClientContext> Context(const Who* who) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (who) {
    ctx->AddMetadata("carerelay-account", who->account_id);
    ctx->AddMetadata("carerelay-device", std::to_string(who->device_id));
    ctx->AddMetadata("carerelay-secret", absl::Base64Escape(who->secret));
  }
  return ctx;
}

template <typename Stub, typename Request, typename Response>
grpc::Status Unary(Stub& stub,
                   grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                   const Who* who, const Request& request) {
  auto ctx = Context(who);
  Response response;
  return (stub.*method)(ctx.get(), request, &response);
}

// Builds a request in place: Make<v1::GetTeamRequest>([&](auto& r) { ... }).
template <typename T, typename Fill>
T Make(Fill fill) {
  T message;
  fill(message);
  return message;
}

// One row of the catalogue.
struct BadInput {
  std::string name;
  std::function<grpc::Status()> call;
  StatusCode expected;
  std::string message_contains;  // empty: any message
};

TEST(BadInputCatalogueTest, EveryBadInputGetsItsDocumentedStatus) {
  TestServer server;
  RawStubs raw(server);

  // --- The people -----------------------------------------------------------
  // A short-lived enrollment code, left to expire before anything else.
  const std::string expired_code =
      server.IssueCode("Locum nurse", v1::ACCOUNT_KIND_PROFESSIONAL, absl::Minutes(1));
  server.clock().Advance(absl::Minutes(2));

  auto gp = MessengerDevice::NewAccount(server, "Dr. Luc Martin (GP)");
  auto nurse = MessengerDevice::NewAccount(server, "Anne Peeters (home nurse)");
  auto social = MessengerDevice::NewAccount(server, "Social worker", v1::ACCOUNT_KIND_SOCIAL);
  auto daughter =
      MessengerDevice::NewAccount(server, "Marie Dubois (daughter)", v1::ACCOUNT_KIND_CAREGIVER);
  auto helpdesk = MessengerDevice::NewAccount(server, "Helpdesk", v1::ACCOUNT_KIND_HELPDESK);
  auto ward_tablet = TestDevice::Enroll(server, "Ward tablet");
  const Who gp_c = gp->relay().credentials();
  const Who nurse_c = nurse->relay().credentials();
  const Who social_c = social->relay().credentials();
  const Who daughter_c = daughter->relay().credentials();
  const Who helpdesk_c = helpdesk->relay().credentials();
  const Who tablet_c = ward_tablet->client().credentials();

  // The pharmacist enrolls with a code that is then replayed.
  const std::string used_enrollment_code = server.IssueCode("Pharmacist");
  auto pharmacist = TestDevice::Unregistered(server);
  ASSERT_TRUE(
      pharmacist->client().Register(pharmacist->MakeRegisterRequest(used_enrollment_code)).ok());
  // The tablet links a phone with a code that is then replayed; the phone is
  // lost and revoked.
  auto link = ward_tablet->client().LinkDevice();
  ASSERT_TRUE(link.ok()) << link.status();
  auto lost_phone = TestDevice::Unregistered(server);
  ASSERT_TRUE(lost_phone->client().Register(lost_phone->MakeRegisterRequest(link->code())).ok());
  const Who lost_phone_c = lost_phone->client().credentials();
  ASSERT_TRUE(ward_tablet->client().RevokeDevice(lost_phone_c.device_id).ok());

  // --- The care teams -------------------------------------------------------
  // Jeanne Dubois's team: the GP coordinates, the nurse is a professional.
  const std::string team = NewTeamWithRecordedConsent(*gp);
  ASSERT_FALSE(team.empty());
  JoinTeam(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);
  // Another patient's team, convened by the social worker: the GP is not on it.
  const std::string other_team = NewTeamWithRecordedConsent(*social);
  ASSERT_FALSE(other_team.empty());

  // The helpdesk logs a call about Jeanne's team (not routed yet).
  v1::OpenIntakeRequest call;
  call.set_caller_kind(v1::CALLER_KIND_CAREGIVER);
  call.set_urgency(v1::INTAKE_URGENCY_NORMAL);
  call.set_category(v1::INTAKE_CATEGORY_HOSPITAL_DISCHARGE);
  call.set_source(v1::INTAKE_SOURCE_VOICEMAIL);
  call.set_team_id(team);
  auto intake = helpdesk->relay().OpenIntake(call);
  ASSERT_TRUE(intake.ok()) << intake.status();
  const std::string intake_id = intake->intake_id();

  // The GP publishes a directory entry (absences need one).
  v1::DirectoryEntry entry;
  entry.set_name("Dr. Luc Martin");
  entry.set_profession("general practitioner");
  entry.set_region("Ixelles");
  ASSERT_TRUE(gp->relay().PublishDirectoryEntry(entry).ok());

  // A discharge letter the GP starts uploading on #clinical (1000 bytes).
  const std::string letter(1000, 'L');
  auto upload = gp->relay().CreateUpload(team, v1::CHANNEL_CLINICAL, letter.size(), Sha256(letter));
  ASSERT_TRUE(upload.ok()) << upload.status();
  const std::string upload_id = upload->attachment_id();
  // A complete one (a wound photo), for downloads.
  const std::string photo(3000, 'P');
  auto done = gp->relay().CreateUpload(team, v1::CHANNEL_CLINICAL, photo.size(), Sha256(photo));
  ASSERT_TRUE(done.ok()) << done.status();
  {
    bool sent = false;
    auto complete =
        gp->relay().Upload(done->attachment_id(), 0, [&]() -> absl::StatusOr<std::string> {
          if (sent) return std::string();
          sent = true;
          return photo;
        });
    ASSERT_TRUE(complete.ok()) << complete.status();
    ASSERT_EQ(complete->state(), v1::UPLOAD_STATE_COMPLETE);
  }
  const std::string photo_id = done->attachment_id();

  // An urgent message from the GP on #care, which the nurse must acknowledge.
  auto urgent = gp->m().SendUrgentTeamText(team, v1::CHANNEL_CARE, "Fever 39.5, call me");
  ASSERT_TRUE(urgent.ok()) << urgent.status();
  const std::string urgent_id = *urgent;

  // The pharmacist writes to the ward tablet; the envelope waits in the
  // tablet's queue (another device later tries to acknowledge it).
  auto for_tablet = pharmacist->SendBytes(ward_tablet->account_id(), "the prescription is ready");
  ASSERT_TRUE(for_tablet.ok()) << for_tablet.status();
  ASSERT_EQ(for_tablet->envelope_ids_size(), 1);
  const uint64_t tablet_sequence = std::stoull(for_tablet->envelope_ids(0), nullptr, 16);

  // Key material of real libsignal profiles.
  auto stranger = TestDevice::Unregistered(server);
  const v1::RegisterRequest stranger_keys = stranger->MakeRegisterRequest("unused", 100);
  auto Registration = [&](const std::string& code,
                          const std::function<void(v1::RegisterRequest&)>& spoil) {
    auto device = TestDevice::Unregistered(server);
    v1::RegisterRequest r = device->MakeRegisterRequest(code);
    spoil(r);
    return Unary(*raw.accounts, &v1::Accounts::Stub::Register, nullptr, r);
  };
  auto LinkRequest = [&](int64_t issued_at, uint32_t ttl, TestDevice& signer) {
    v1::LinkDeviceRequest r;
    r.set_issued_at_unix(issued_at);
    r.set_ttl_seconds(ttl);
    auto signature = signer.profile().SignWithIdentity(
        LinkDeviceStatement(tablet_c.account_id, tablet_c.device_id, issued_at, ttl));
    EXPECT_TRUE(signature.ok()) << signature.status();
    r.set_identity_signature(signature.ok() ? *signature : "");
    return r;
  };
  const int64_t now_s = absl::ToUnixSeconds(server.clock().Now());

  // Team-side helpers.
  auto GetTeam = [&](const Who& who, const std::string& id) {
    return Unary(*raw.teams, &v1::Teams::Stub::GetTeam, &who,
                 Make<v1::GetTeamRequest>([&](auto& r) { r.set_team_id(id); }));
  };
  auto SetAccess = [&](const Who& who, const std::vector<v1::AccessRule>& rules) {
    v1::SetTeamAccessRequest r;
    r.set_team_id(team);
    for (const auto& rule : rules) *r.add_rules() = rule;
    return Unary(*raw.teams, &v1::Teams::Stub::SetTeamAccess, &who, r);
  };
  auto Rule = [](v1::Role role, v1::Channel channel, bool read, bool post) {
    v1::AccessRule rule;
    rule.set_role(role);
    rule.set_channel(channel);
    rule.set_read(read);
    rule.set_post(post);
    return rule;
  };
  // Every cell as the deployment has it: a call that narrows nothing.
  const std::vector<v1::AccessRule> deployment = core::AccessMatrix().Cells();
  ASSERT_EQ(deployment.size(), 28u);

  // Message-side helpers.
  auto Send = [&](const Who& who, const v1::SendRequest& r) {
    return Unary(*raw.messages, &v1::Messages::Stub::Send, &who, r);
  };
  auto ToNurse = [&](std::string content) {
    v1::OutgoingEnvelope e;
    e.set_account_id(nurse_c.account_id);
    e.set_device_id(nurse_c.device_id);
    e.set_type(v1::ENVELOPE_TYPE_PLAINTEXT);
    e.set_content(std::move(content));
    return e;
  };
  auto DirectToNurse = [&](std::function<void(v1::SendRequest&)> spoil) {
    v1::SendRequest r;
    r.set_account_id(nurse_c.account_id);
    *r.add_envelopes() = ToNurse("how is Mrs Dubois today?");
    spoil(r);
    return r;
  };
  // Opens a receive stream; OK if it opened (then cancelled), else its status.
  auto ReceiveStatus = [&](const Who& who, const v1::ReceiveRequest& r) {
    auto ctx = Context(&who);
    auto reader = raw.messages->Receive(ctx.get(), r);
    v1::ReceiveResponse response;
    if (reader->Read(&response)) {
      ctx->TryCancel();
      while (reader->Read(&response)) {
      }
      (void)reader->Finish();
      return grpc::Status::OK;
    }
    return reader->Finish();
  };

  // Attachment-side helpers: an upload stream of `pieces` from `offset`.
  auto UploadStatus = [&](const Who& who, const std::string& id, uint64_t offset,
                          const std::vector<std::string>& pieces) {
    auto ctx = Context(&who);
    v1::AttachmentInfo info;
    auto writer = raw.attachments->Upload(ctx.get(), &info);
    for (size_t i = 0; i < pieces.size(); ++i) {
      v1::UploadChunk chunk;
      if (i == 0) {
        chunk.set_attachment_id(id);
        chunk.set_offset(offset);
      }
      chunk.set_data(pieces[i]);
      if (!writer->Write(chunk)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  };
  auto NewLetterUpload = [&](const std::string& digest) {
    auto u = gp->relay().CreateUpload(team, v1::CHANNEL_CLINICAL, letter.size(), digest);
    EXPECT_TRUE(u.ok()) << u.status();
    return u.ok() ? u->attachment_id() : std::string();
  };
  auto DownloadStatus = [&](const Who& who, const std::string& id, uint64_t offset) {
    auto ctx = Context(&who);
    v1::DownloadRequest r;
    r.set_attachment_id(id);
    r.set_offset(offset);
    auto reader = raw.attachments->Download(ctx.get(), r);
    v1::DownloadChunk chunk;
    while (reader->Read(&chunk)) {
    }
    return reader->Finish();
  };
  auto CreateUpload = [&](const Who& who, std::function<void(v1::CreateUploadRequest&)> spoil) {
    v1::CreateUploadRequest r;
    r.set_team_id(team);
    r.set_channel(v1::CHANNEL_CLINICAL);
    r.set_ciphertext_size(1000);
    r.set_digest(std::string(32, 'd'));
    spoil(r);
    return Unary(*raw.attachments, &v1::Attachments::Stub::CreateUpload, &who, r);
  };

  // Directory and intake helpers.
  auto Publish = [&](const Who& who, std::function<void(v1::DirectoryEntry&)> spoil) {
    v1::PublishEntryRequest r;
    *r.mutable_entry() = entry;
    spoil(*r.mutable_entry());
    return Unary(*raw.directory, &v1::Directory::Stub::PublishEntry, &who, r);
  };
  auto Absence = [&](int64_t from_ms, int64_t to_ms, const std::string& substitute) {
    v1::SetAbsenceRequest r;
    r.mutable_absence()->set_from_ms(from_ms);
    r.mutable_absence()->set_to_ms(to_ms);
    r.mutable_absence()->set_substitute_account_id(substitute);
    return Unary(*raw.directory, &v1::Directory::Stub::SetAbsence, &gp_c, r);
  };
  const int64_t now_ms = absl::ToUnixMillis(server.clock().Now());
  auto OpenIntake = [&](const Who& who, std::function<void(v1::OpenIntakeRequest&)> spoil) {
    v1::OpenIntakeRequest r = call;
    spoil(r);
    return Unary(*raw.intakes, &v1::Intakes::Stub::OpenIntake, &who, r);
  };
  auto Route = [&](std::function<void(v1::RouteIntakeRequest&)> fill) {
    v1::RouteIntakeRequest r;
    r.set_intake_id(intake_id);
    fill(r);
    return Unary(*raw.intakes, &v1::Intakes::Stub::RouteIntake, &helpdesk_c, r);
  };
  auto Acknowledge = [&](const Who& who, const std::string& id) {
    return Unary(*raw.urgency, &v1::Urgency::Stub::AcknowledgeUrgent, &who,
                 Make<v1::AcknowledgeUrgentRequest>([&](auto& r) { r.set_message_id(id); }));
  };

  const std::vector<BadInput> catalogue = {
      // === Accounts: credentials, enrollment and link codes ================
      {"a device that sends no credentials at all",
       [&] { return Unary(*raw.accounts, &v1::Accounts::Stub::GetAccount, nullptr, {}); },
       StatusCode::UNAUTHENTICATED, "missing credentials"},
      {"the GP's account and device with a guessed secret",
       [&] {
         Who forged = gp_c;
         forged.secret = "password123";
         return Unary(*raw.accounts, &v1::Accounts::Stub::GetAccount, &forged, {});
       },
       StatusCode::UNAUTHENTICATED, ""},
      {"a device secret that is not base64",
       [&] {
         auto ctx = Context(nullptr);
         ctx->AddMetadata("carerelay-account", gp_c.account_id);
         ctx->AddMetadata("carerelay-device", std::to_string(gp_c.device_id));
         ctx->AddMetadata("carerelay-secret", "not*base64!");
         v1::AccountInfo out;
         return raw.accounts->GetAccount(ctx.get(), {}, &out);
       },
       StatusCode::UNAUTHENTICATED, "base64"},
      {"an account id one character short",
       [&] {
         Who forged = gp_c;
         forged.account_id.pop_back();
         return Unary(*raw.accounts, &v1::Accounts::Stub::GetAccount, &forged, {});
       },
       StatusCode::UNAUTHENTICATED, ""},
      {"the credentials of a lost phone, revoked",
       [&] { return Unary(*raw.accounts, &v1::Accounts::Stub::ListDevices, &lost_phone_c, {}); },
       StatusCode::UNAUTHENTICATED, ""},
      {"registering again with the pharmacist's used enrollment code",
       [&] { return Registration(used_enrollment_code, [](auto&) {}); },
       StatusCode::FAILED_PRECONDITION, "already been used"},
      {"registering again with the lost phone's used link code",
       [&] { return Registration(link->code(), [](auto&) {}); }, StatusCode::FAILED_PRECONDITION,
       "already been used"},
      {"registering with a locum's expired enrollment code",
       [&] { return Registration(expired_code, [](auto&) {}); }, StatusCode::FAILED_PRECONDITION,
       ""},
      {"registering with an identity key cut to 32 bytes",
       [&] {
         return Registration(server.IssueCode("Physiotherapist"),
                             [](auto& r) { r.mutable_identity_key()->resize(32); });
       },
       StatusCode::INVALID_ARGUMENT, ""},
      {"a device name of 65 bytes (at most 64)",
       [&] {
         return Registration(server.IssueCode("Physiotherapist"),
                             [](auto& r) { r.set_device_name(std::string(65, 'n')); });
       },
       StatusCode::INVALID_ARGUMENT, ""},
      // gRPC itself cannot parse it (proto3 text is UTF-8) and answers
      // INTERNAL before the server reads it (common.proto).
      {"a device name that is not UTF-8",
       [&] {
         return Registration(server.IssueCode("Physiotherapist"),
                             [](auto& r) { r.set_device_name("tablet \xff\xfe"); });
       },
       StatusCode::INTERNAL, ""},
      {"a link code asked to live two hours (at most one)",
       [&] {
         return Unary(*raw.accounts, &v1::Accounts::Stub::LinkDevice, &tablet_c,
                      LinkRequest(now_s, 7200, *ward_tablet));
       },
       StatusCode::INVALID_ARGUMENT, ""},
      {"a link request without the identity signature",
       [&] {
         v1::LinkDeviceRequest r = LinkRequest(now_s, 0, *ward_tablet);
         r.clear_identity_signature();
         return Unary(*raw.accounts, &v1::Accounts::Stub::LinkDevice, &tablet_c, r);
       },
       StatusCode::UNAUTHENTICATED, ""},
      {"a link request dated an hour ago (replayed)",
       [&] {
         return Unary(*raw.accounts, &v1::Accounts::Stub::LinkDevice, &tablet_c,
                      LinkRequest(now_s - 3600, 0, *ward_tablet));
       },
       StatusCode::UNAUTHENTICATED, ""},
      // Rosters of organisations.
      {"a roster change without an action",
       [&] {
         return Unary(*raw.accounts, &v1::Accounts::Stub::ChangeRoster, &gp_c,
                      Make<v1::ChangeRosterRequest>(
                          [&](auto& r) { r.set_staff_account_id(nurse_c.account_id); }));
       },
       StatusCode::INVALID_ARGUMENT, "action"},
      {"a roster change naming a staff id that is not hex",
       [&] {
         return Unary(*raw.accounts, &v1::Accounts::Stub::ChangeRoster, &gp_c,
                      Make<v1::ChangeRosterRequest>([&](auto& r) {
                        r.set_staff_account_id(kNotHex);
                        r.set_action(v1::ChangeRosterRequest::ACTION_ADD);
                      }));
       },
       StatusCode::INVALID_ARGUMENT, ""},
      {"an action number no version defines",
       [&] {
         return Unary(*raw.accounts, &v1::Accounts::Stub::ChangeRoster, &gp_c,
                      Make<v1::ChangeRosterRequest>([&](auto& r) {
                        r.set_staff_account_id(nurse_c.account_id);
                        r.set_action(static_cast<v1::ChangeRosterRequest::Action>(99));
                      }));
       },
       StatusCode::INVALID_ARGUMENT, "action"},
      {"a GP, not an organisation, putting a nurse on a roster",
       [&] {
         return Unary(*raw.accounts, &v1::Accounts::Stub::ChangeRoster, &gp_c,
                      Make<v1::ChangeRosterRequest>([&](auto& r) {
                        r.set_staff_account_id(nurse_c.account_id);
                        r.set_action(v1::ChangeRosterRequest::ACTION_ADD);
                      }));
       },
       StatusCode::FAILED_PRECONDITION, "not an organisation"},
      {"a nurse changing the roster of an unknown organisation",
       [&] {
         return Unary(*raw.accounts, &v1::Accounts::Stub::ChangeRoster, &nurse_c,
                      Make<v1::ChangeRosterRequest>([&](auto& r) {
                        r.set_organisation_account_id(kUnknownId);
                        r.set_staff_account_id(nurse_c.account_id);
                        r.set_action(v1::ChangeRosterRequest::ACTION_ON_DUTY);
                      }));
       },
       StatusCode::PERMISSION_DENIED, ""},
      {"the roster of someone else's account",
       [&] {
         return Unary(*raw.accounts, &v1::Accounts::Stub::GetRoster, &nurse_c,
                      Make<v1::GetRosterRequest>(
                          [&](auto& r) { r.set_organisation_account_id(gp_c.account_id); }));
       },
       StatusCode::NOT_FOUND, ""},

      // === Keys ============================================================
      {"a signed prekey whose signature is someone else's",
       [&] {
         v1::SetSignedPrekeyRequest r;
         *r.mutable_signed_prekey() = stranger_keys.signed_prekey();
         return Unary(*raw.keys, &v1::Keys::Stub::SetSignedPrekey, &tablet_c, r);
       },
       StatusCode::INVALID_ARGUMENT, ""},
      {"100 one-time prekeys in one upload: at the limit, accepted",
       [&] {
         v1::AddOneTimePrekeysRequest r;
         for (int i = 0; i < 100; ++i) {
           v1::OneTimePrekey* k = r.add_prekeys();
           *k = stranger_keys.one_time_prekeys(i);
           k->set_key_id(900000 + i);
         }
         return Unary(*raw.keys, &v1::Keys::Stub::AddOneTimePrekeys, &tablet_c, r);
       },
       StatusCode::OK, ""},
      {"101 one-time prekeys in one upload",
       [&] {
         v1::AddOneTimePrekeysRequest r;
         for (int i = 0; i < 101; ++i) {
           v1::OneTimePrekey* k = r.add_prekeys();
           *k = stranger_keys.one_time_prekeys(i % 100);
           k->set_key_id(910000 + i);
         }
         return Unary(*raw.keys, &v1::Keys::Stub::AddOneTimePrekeys, &tablet_c, r);
       },
       StatusCode::INVALID_ARGUMENT, ""},
      {"prekey bundles of an account id one character short",
       [&] {
         return Unary(
             *raw.keys, &v1::Keys::Stub::GetPrekeyBundles, &gp_c,
             Make<v1::GetPrekeyBundlesRequest>([](auto& r) { r.set_account_id(kShortId); }));
       },
       StatusCode::INVALID_ARGUMENT, "account"},

      // === Messages ========================================================
      {"a send with no destination",
       [&] { return Send(gp_c, DirectToNurse([](auto& r) { r.clear_destination(); })); },
       StatusCode::INVALID_ARGUMENT, ""},
      {"a send to an account id that is not hex",
       [&] { return Send(gp_c, DirectToNurse([](auto& r) { r.set_account_id(kNotHex); })); },
       StatusCode::INVALID_ARGUMENT, "account"},
      {"1001 envelopes in one send (at most 1000)",
       [&] {
         return Send(gp_c, DirectToNurse([&](auto& r) {
                       for (int i = 0; i < 1000; ++i) *r.add_envelopes() = ToNurse("x");
                     }));
       },
       StatusCode::RESOURCE_EXHAUSTED, "1000"},
      {"1000 envelopes: at the limit, not refused for their number but for naming the nurse's "
       "one device 1000 times",
       [&] {
         return Send(gp_c, DirectToNurse([&](auto& r) {
                       for (int i = 0; i < 999; ++i) *r.add_envelopes() = ToNurse("x");
                     }));
       },
       StatusCode::INVALID_ARGUMENT, "named twice"},
      {"an envelope one byte over 256 KiB",
       [&] {
         return Send(gp_c, DirectToNurse([&](auto& r) {
                       r.mutable_envelopes(0)->set_content(std::string(256 * 1024 + 1, 'c'));
                     }));
       },
       StatusCode::RESOURCE_EXHAUSTED, ""},
      {"an idempotency key of 65 bytes (at most 64)",
       [&] {
         return Send(gp_c,
                     DirectToNurse([](auto& r) { r.set_idempotency_key(std::string(65, 'k')); }));
       },
       StatusCode::INVALID_ARGUMENT, ""},
      {"an envelope posing as a server team event",
       [&] {
         return Send(gp_c, DirectToNurse([](auto& r) {
                       r.mutable_envelopes(0)->set_type(v1::ENVELOPE_TYPE_SERVER_EVENT);
                     }));
       },
       StatusCode::INVALID_ARGUMENT, ""},
      {"a team post on channel 99",
       [&] {
         return Send(gp_c, DirectToNurse([&](auto& r) {
                       r.set_team_id(team);
                       r.set_channel(static_cast<v1::Channel>(99));
                     }));
       },
       StatusCode::INVALID_ARGUMENT, ""},
      {"a post to another patient's team the GP is not on",
       [&] {
         return Send(gp_c, DirectToNurse([&](auto& r) {
                       r.set_team_id(other_team);
                       r.set_channel(v1::CHANNEL_CARE);
                     }));
       },
       StatusCode::NOT_FOUND, ""},
      {"a receive window of 257 messages (at most 256)",
       [&] {
         return ReceiveStatus(
             daughter_c, Make<v1::ReceiveRequest>([](auto& r) { r.set_window_messages(257); }));
       },
       StatusCode::INVALID_ARGUMENT, "256"},
      {"the social worker acknowledges the ward tablet's envelope: applies to her own stream only",
       [&] {
         // Her own stream is open (it delivered her team's events).
         StreamCollector own_stream(social->relay());
         EXPECT_FALSE(own_stream.WaitFor(1).empty());
         v1::AckResponse out;
         auto ctx = Context(&social_c);
         grpc::Status s = raw.messages->Ack(
             ctx.get(),
             Make<v1::AckRequest>([&](auto& r) { r.set_through_sequence(tablet_sequence); }), &out);
         // Whatever it deleted was hers; the tablet's envelope is checked
         // after the catalogue, when the tablet receives.
         return s;
       },
       StatusCode::OK, ""},
      {"an acknowledgement through the largest sequence, with no stream open",
       [&] {
         v1::AckResponse out;
         auto ctx = Context(&daughter_c);
         grpc::Status s =
             raw.messages->Ack(ctx.get(), Make<v1::AckRequest>([](auto& r) {
                                 r.set_through_sequence(std::numeric_limits<uint64_t>::max());
                               }),
                               &out);
         EXPECT_EQ(out.acknowledged_through(), 0u);
         return s;
       },
       StatusCode::OK, ""},

      // === Teams ===========================================================
      {"a team id left empty", [&] { return GetTeam(gp_c, ""); }, StatusCode::INVALID_ARGUMENT,
       "team"},
      {"a team id one character short", [&] { return GetTeam(gp_c, kShortId); },
       StatusCode::INVALID_ARGUMENT, "team"},
      // gRPC itself cannot parse it (proto3 text is UTF-8) and answers
      // INTERNAL before the server reads it (common.proto).
      {"a team id that is not UTF-8", [&] { return GetTeam(gp_c, kNotUtf8); }, StatusCode::INTERNAL,
       ""},
      {"another patient's team, which the GP is not on", [&] { return GetTeam(gp_c, other_team); },
       StatusCode::NOT_FOUND, ""},
      {"an intake id where a team id goes", [&] { return GetTeam(gp_c, intake_id); },
       StatusCode::NOT_FOUND, ""},
      // History for members who join later (issue 19).
      {"what newcomers receive of the history, without saying what",
       [&] {
         return Unary(*raw.teams, &v1::Teams::Stub::SetHistoryVisibility, &gp_c,
                      Make<v1::SetHistoryVisibilityRequest>([&](auto& r) { r.set_team_id(team); }));
       },
       StatusCode::INVALID_ARGUMENT, "from joining"},
      {"the last 3651 days of history for newcomers (at most 3650)",
       [&] {
         return Unary(*raw.teams, &v1::Teams::Stub::SetHistoryVisibility, &gp_c,
                      Make<v1::SetHistoryVisibilityRequest>([&](auto& r) {
                        r.set_team_id(team);
                        r.set_scope(v1::HistoryVisibility::SCOPE_LAST_DAYS);
                        r.set_days(3651);
                      }));
       },
       StatusCode::INVALID_ARGUMENT, "3650"},
      {"the nurse deciding what newcomers receive of the history",
       [&] {
         return Unary(*raw.teams, &v1::Teams::Stub::SetHistoryVisibility, &nurse_c,
                      Make<v1::SetHistoryVisibilityRequest>([&](auto& r) {
                        r.set_team_id(team);
                        r.set_scope(v1::HistoryVisibility::SCOPE_WHOLE_PATHWAY);
                      }));
       },
       StatusCode::PERMISSION_DENIED, ""},
      {"history recorded as shared with someone not on the team",
       [&] {
         return Unary(*raw.teams, &v1::Teams::Stub::RecordHistoryShared, &gp_c,
                      Make<v1::RecordHistorySharedRequest>([&](auto& r) {
                        r.set_team_id(team);
                        r.set_recipient_account_id(social_c.account_id);
                        r.set_entry_count(3);
                        r.add_channels(v1::CHANNEL_TEAM);
                      }));
       },
       StatusCode::NOT_FOUND, ""},
      {"history recorded as shared on #team twice",
       [&] {
         return Unary(*raw.teams, &v1::Teams::Stub::RecordHistoryShared, &gp_c,
                      Make<v1::RecordHistorySharedRequest>([&](auto& r) {
                        r.set_team_id(team);
                        r.set_recipient_account_id(nurse_c.account_id);
                        r.add_channels(v1::CHANNEL_TEAM);
                        r.add_channels(v1::CHANNEL_TEAM);
                      }));
       },
       StatusCode::INVALID_ARGUMENT, "twice"},
      {"history recorded as shared on channel 9",
       [&] {
         return Unary(*raw.teams, &v1::Teams::Stub::RecordHistoryShared, &gp_c,
                      Make<v1::RecordHistorySharedRequest>([&](auto& r) {
                        r.set_team_id(team);
                        r.set_recipient_account_id(nurse_c.account_id);
                        r.add_channels(static_cast<v1::Channel>(9));
                      }));
       },
       StatusCode::INVALID_ARGUMENT, "channel"},
      {"the nurse recording history shared on #intake, which she does not read",
       [&] {
         return Unary(*raw.teams, &v1::Teams::Stub::RecordHistoryShared, &nurse_c,
                      Make<v1::RecordHistorySharedRequest>([&](auto& r) {
                        r.set_team_id(team);
                        r.set_recipient_account_id(gp_c.account_id);
                        r.add_channels(v1::CHANNEL_INTAKE);
                      }));
       },
       StatusCode::PERMISSION_DENIED, "intake"},
      {"inviting the social worker with role 99",
       [&] {
         return Unary(*raw.teams, &v1::Teams::Stub::Invite, &gp_c,
                      Make<v1::InviteRequest>([&](auto& r) {
                        r.set_team_id(team);
                        r.set_account_id(social_c.account_id);
                        r.set_role(static_cast<v1::Role>(99));
                      }));
       },
       StatusCode::INVALID_ARGUMENT, ""},
      {"inviting someone into another patient's team",
       [&] {
         return Unary(*raw.teams, &v1::Teams::Stub::Invite, &gp_c,
                      Make<v1::InviteRequest>([&](auto& r) {
                        r.set_team_id(other_team);
                        r.set_account_id(nurse_c.account_id);
                        r.set_role(v1::ROLE_PROFESSIONAL);
                      }));
       },
       StatusCode::NOT_FOUND, ""},
      {"the daughter accepting an invitation nobody sent her",
       [&] {
         return Unary(*raw.teams, &v1::Teams::Stub::RespondToInvitation, &daughter_c,
                      Make<v1::RespondToInvitationRequest>([&](auto& r) {
                        r.set_team_id(team);
                        r.set_accept(true);
                      }));
       },
       StatusCode::NOT_FOUND, ""},
      {"a consent reference of 65 bytes (at most 64)",
       [&] {
         return Unary(*raw.teams, &v1::Teams::Stub::RecordConsent, &gp_c,
                      Make<v1::RecordConsentRequest>([&](auto& r) {
                        r.set_team_id(team);
                        r.set_given_by(v1::CONSENT_GIVER_PATIENT);
                        r.set_method(v1::CONSENT_METHOD_WRITTEN);
                        r.set_reference(std::string(65, 'f'));
                      }));
       },
       StatusCode::INVALID_ARGUMENT, ""},
      {"28 access rules, every cell once as the deployment has it: at the limit, accepted",
       [&] { return SetAccess(gp_c, deployment); }, StatusCode::OK, ""},
      {"29 access rules (at most 28)",
       [&] {
         std::vector<v1::AccessRule> rules = deployment;
         rules.push_back(deployment[0]);
         return SetAccess(gp_c, rules);
       },
       StatusCode::INVALID_ARGUMENT, "28"},
      {"one access cell named twice",
       [&] {
         return SetAccess(gp_c, {Rule(v1::ROLE_SOCIAL, v1::CHANNEL_CARE, true, false),
                                 Rule(v1::ROLE_SOCIAL, v1::CHANNEL_CARE, false, false)});
       },
       StatusCode::INVALID_ARGUMENT, ""},
      {"opening #clinical to social workers, wider than the deployment",
       [&] { return SetAccess(gp_c, {Rule(v1::ROLE_SOCIAL, v1::CHANNEL_CLINICAL, true, false)}); },
       StatusCode::INVALID_ARGUMENT, "never widen"},
      {"taking #team away from the patient",
       [&] { return SetAccess(gp_c, {Rule(v1::ROLE_PATIENT, v1::CHANNEL_TEAM, false, false)}); },
       StatusCode::INVALID_ARGUMENT, ""},
      {"a blind index of 31 bytes (32)",
       [&] {
         return Unary(*raw.teams, &v1::Teams::Stub::SetBlindIndex, &gp_c,
                      Make<v1::SetBlindIndexRequest>([&](auto& r) {
                        r.set_team_id(team);
                        r.set_index(std::string(31, 'i'));
                        r.set_key_version("2026-1");
                      }));
       },
       StatusCode::INVALID_ARGUMENT, ""},
      {"an audit page of 1001 entries (at most 1000)",
       [&] {
         return Unary(*raw.teams, &v1::Teams::Stub::ReadAudit, &gp_c,
                      Make<v1::ReadAuditRequest>([&](auto& r) {
                        r.set_team_id(team);
                        r.set_limit(1001);
                      }));
       },
       StatusCode::INVALID_ARGUMENT, "1000"},
      {"erasing another patient's team",
       [&] {
         return Unary(*raw.teams, &v1::Teams::Stub::EraseTeam, &gp_c,
                      Make<v1::EraseTeamRequest>([&](auto& r) { r.set_team_id(other_team); }));
       },
       StatusCode::NOT_FOUND, ""},

      // === Attachments =====================================================
      {"a document digest of 31 bytes (32)",
       [&] { return CreateUpload(gp_c, [](auto& r) { r.set_digest(std::string(31, 'd')); }); },
       StatusCode::INVALID_ARGUMENT, ""},
      {"a document of 100 MiB and one byte",
       [&] {
         return CreateUpload(gp_c,
                             [](auto& r) { r.set_ciphertext_size((uint64_t{100} << 20) + 1); });
       },
       StatusCode::RESOURCE_EXHAUSTED, ""},
      {"a document for another patient's team",
       [&] { return CreateUpload(gp_c, [&](auto& r) { r.set_team_id(other_team); }); },
       StatusCode::NOT_FOUND, ""},
      {"an attachment id one character short",
       [&] {
         return Unary(*raw.attachments, &v1::Attachments::Stub::GetUpload, &gp_c,
                      Make<v1::GetUploadRequest>([](auto& r) { r.set_attachment_id(kShortId); }));
       },
       StatusCode::INVALID_ARGUMENT, "attachment"},
      {"a team id where an attachment id goes",
       [&] {
         return Unary(*raw.attachments, &v1::Attachments::Stub::GetUpload, &gp_c,
                      Make<v1::GetUploadRequest>([&](auto& r) { r.set_attachment_id(team); }));
       },
       StatusCode::NOT_FOUND, ""},
      {"a letter uploaded with one byte more than declared",
       [&] { return UploadStatus(gp_c, NewLetterUpload(Sha256(letter)), 0, {letter + "!"}); },
       StatusCode::RESOURCE_EXHAUSTED, ""},
      {"a letter whose bytes do not match the declared digest",
       [&] {
         return UploadStatus(gp_c, NewLetterUpload(Sha256(letter)), 0,
                             {std::string(letter.size(), 'X')});
       },
       StatusCode::DATA_LOSS, ""},
      {"resuming the letter from an offset the server does not hold",
       [&] { return UploadStatus(gp_c, upload_id, 500, {letter.substr(500)}); },
       StatusCode::ABORTED, ""},
      {"the nurse writing into the GP's upload",
       [&] { return UploadStatus(nurse_c, upload_id, 0, {letter}); }, StatusCode::NOT_FOUND, ""},
      {"downloading a letter still uploading", [&] { return DownloadStatus(gp_c, upload_id, 0); },
       StatusCode::FAILED_PRECONDITION, ""},
      {"the social worker downloading the wound photo of a team she is not on",
       [&] { return DownloadStatus(social_c, photo_id, 0); }, StatusCode::NOT_FOUND, ""},

      // === Directory =======================================================
      {"a directory name of 257 bytes (at most 256)",
       [&] { return Publish(gp_c, [](auto& e) { e.set_name(std::string(257, 'n')); }); },
       StatusCode::INVALID_ARGUMENT, ""},
      {"a language tag of 36 bytes (at most 35)",
       [&] { return Publish(gp_c, [](auto& e) { e.add_languages(std::string(36, 'l')); }); },
       StatusCode::INVALID_ARGUMENT, ""},
      // gRPC itself cannot parse it (proto3 text is UTF-8) and answers
      // INTERNAL before the server reads it (common.proto).
      {"a profession that is not UTF-8",
       [&] {
         return Publish(gp_c, [](auto& e) {
           e.set_profession(
               "m\xe9"
               "decin");
         });
       },
       StatusCode::INTERNAL, ""},
      {"the daughter publishing herself in the directory",
       [&] { return Publish(daughter_c, [](auto&) {}); }, StatusCode::PERMISSION_DENIED, ""},
      {"a directory search without any criterion",
       [&] { return Unary(*raw.directory, &v1::Directory::Stub::SearchDirectory, &nurse_c, {}); },
       StatusCode::INVALID_ARGUMENT, ""},
      {"an absence that ends before it starts",
       [&] { return Absence(now_ms + 86'400'000, now_ms, nurse_c.account_id); },
       StatusCode::INVALID_ARGUMENT, ""},
      {"an absence with a substitute nobody is",
       [&] { return Absence(now_ms, now_ms + 86'400'000, kUnknownId); }, StatusCode::NOT_FOUND, ""},
      {"the GP as his own substitute",
       [&] { return Absence(now_ms, now_ms + 86'400'000, gp_c.account_id); },
       StatusCode::FAILED_PRECONDITION, ""},

      // === Intakes =========================================================
      {"a call logged without an urgency",
       [&] {
         return OpenIntake(helpdesk_c,
                           [](auto& r) { r.set_urgency(v1::INTAKE_URGENCY_UNSPECIFIED); });
       },
       StatusCode::INVALID_ARGUMENT, ""},
      {"a call of category 99",
       [&] {
         return OpenIntake(helpdesk_c,
                           [](auto& r) { r.set_category(static_cast<v1::IntakeCategory>(99)); });
       },
       StatusCode::INVALID_ARGUMENT, ""},
      {"a call about an intake id where the team goes",
       [&] { return OpenIntake(helpdesk_c, [&](auto& r) { r.set_team_id(intake_id); }); },
       StatusCode::NOT_FOUND, ""},
      {"routing of kind 99",
       [&] { return Route([](auto& r) { r.set_route_kind(static_cast<v1::RouteKind>(99)); }); },
       StatusCode::INVALID_ARGUMENT, ""},
      {"routing to a professional nobody is",
       [&] {
         return Route([](auto& r) {
           r.set_route_kind(v1::ROUTE_KIND_PROFESSIONAL);
           r.set_account_id(kUnknownId);
         });
       },
       StatusCode::NOT_FOUND, ""},
      {"routing a team id as if it were an intake",
       [&] {
         return Route([&](auto& r) {
           r.set_intake_id(team);
           r.set_route_kind(v1::ROUTE_KIND_TEAM_COORDINATOR);
         });
       },
       StatusCode::NOT_FOUND, ""},
      {"an intake id that is not hex",
       [&] {
         return Unary(*raw.intakes, &v1::Intakes::Stub::GetIntake, &helpdesk_c,
                      Make<v1::GetIntakeRequest>([](auto& r) { r.set_intake_id(kNotHex); }));
       },
       StatusCode::INVALID_ARGUMENT, ""},
      {"the daughter reading an intake not offered to her",
       [&] {
         return Unary(*raw.intakes, &v1::Intakes::Stub::GetIntake, &daughter_c,
                      Make<v1::GetIntakeRequest>([&](auto& r) { r.set_intake_id(intake_id); }));
       },
       StatusCode::NOT_FOUND, ""},
      {"resolving an intake nobody has accepted",
       [&] {
         return Unary(*raw.intakes, &v1::Intakes::Stub::ResolveIntake, &helpdesk_c,
                      Make<v1::ResolveIntakeRequest>([&](auto& r) { r.set_intake_id(intake_id); }));
       },
       StatusCode::FAILED_PRECONDITION, ""},
      {"listing intakes with filter 99",
       [&] {
         return Unary(*raw.intakes, &v1::Intakes::Stub::ListIntakes, &helpdesk_c,
                      Make<v1::ListIntakesRequest>([](auto& r) {
                        r.set_filter(static_cast<v1::ListIntakesRequest::Filter>(99));
                      }));
       },
       StatusCode::INVALID_ARGUMENT, ""},

      // === Urgency =========================================================
      {"acknowledging an urgent message id nobody sent",
       [&] { return Acknowledge(nurse_c, "00000000deadbeef"); }, StatusCode::NOT_FOUND, ""},
      {"the daughter acknowledging an urgent message sent to the nurse",
       [&] { return Acknowledge(daughter_c, urgent_id); }, StatusCode::NOT_FOUND, ""},
      {"an intake id as an urgent message id (16 hex digits)",
       [&] { return Acknowledge(nurse_c, intake_id); }, StatusCode::INVALID_ARGUMENT, "16 hex"},
      {"the nurse, a recipient, asking who acknowledged",
       [&] {
         return Unary(
             *raw.urgency, &v1::Urgency::Stub::ListAcknowledgements, &nurse_c,
             Make<v1::ListAcknowledgementsRequest>([&](auto& r) { r.set_message_id(urgent_id); }));
       },
       StatusCode::NOT_FOUND, ""},
  };

  std::map<std::string, int> names;
  for (const BadInput& row : catalogue) {
    ASSERT_EQ(++names[row.name], 1) << "two rows named " << row.name;
    grpc::Status got = row.call();
    EXPECT_EQ(got.error_code(), row.expected)
        << row.name << ": got " << got.error_code() << " \"" << got.error_message() << "\"";
    if (!row.message_contains.empty()) {
      EXPECT_TRUE(absl::StrContains(got.error_message(), row.message_contains))
          << row.name << ": \"" << got.error_message() << "\" does not name \""
          << row.message_contains << "\"";
    }
  }
  std::cout << "[ catalogue ] " << catalogue.size() << " bad inputs\n";

  // --- Still serving --------------------------------------------------------
  // The tablet still gets the envelope another device tried to acknowledge,
  // and a new send goes through and arrives.
  auto sent = pharmacist->SendBytes(ward_tablet->account_id(), "and the dressings");
  ASSERT_TRUE(sent.ok()) << sent.status();
  std::set<std::string> got;
  for (const auto& e : ward_tablet->ReceiveBacklog(/*ack=*/true)) {
    if (e.type() == v1::ENVELOPE_TYPE_PLAINTEXT) got.insert(e.content());
  }
  EXPECT_TRUE(got.count("the prescription is ready"));
  EXPECT_TRUE(got.count("and the dressings"));
  ASSERT_TRUE(gp->m().SendTeamText(team, v1::CHANNEL_CARE, "Temperature down to 37.8").ok());
  std::vector<std::string> texts = nurse->Texts();
  EXPECT_NE(std::find(texts.begin(), texts.end(), "Temperature down to 37.8"), texts.end());

  // --- Still consistent -----------------------------------------------------
  TempDir copy;
  ASSERT_TRUE(server.server().database().Checkpoint(copy.Sub("checkpoint")).ok());
  auto db = store::Database::Open(copy.Sub("checkpoint"), store::DatabaseOptions());
  ASSERT_TRUE(db.ok()) << db.status();
  auto report = core::CheckConsistency(**db);
  ASSERT_TRUE(report.ok()) << report.status();
  for (const std::string& violation : report->violations) ADD_FAILURE() << violation;
  EXPECT_GT(report->teams, 0u);
  EXPECT_GT(report->attachments, 0u);
  EXPECT_GT(report->intakes, 0u);
}

}  // namespace
}  // namespace carerelay::testing
