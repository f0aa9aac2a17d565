// Accounts through a real server over TLS: enrollment codes, registration,
// device linking, listing, revocation, and authentication failures.
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "carerelay/v1/alerts.pb.h"
#include "proto/link_device.h"
#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

TEST(AccountRegistryTest, RegistersWithEnrollmentCode) {
  TestServer server;
  auto device = TestDevice::Unregistered(server);
  auto r =
      device->client().Register(device->MakeRegisterRequest(server.IssueCode("Dr. Anne Peeters")));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->account_id().size(), 32u);
  EXPECT_EQ(r->device_id(), 1u);
  EXPECT_EQ(r->device_secret().size(), 32u);
  EXPECT_EQ(r->display_name(), "Dr. Anne Peeters");
  EXPECT_EQ(r->kind(), v1::ACCOUNT_KIND_PROFESSIONAL);

  auto account = device->client().GetAccount();
  ASSERT_TRUE(account.ok()) << account.status();
  EXPECT_EQ(account->account_id(), r->account_id());
  ASSERT_EQ(account->devices_size(), 1);
  EXPECT_EQ(account->devices(0).name(), "test device");
}

TEST(AccountRegistryTest, CodeIsSingleUse) {
  TestServer server;
  std::string code = server.IssueCode("Marie Dubois", v1::ACCOUNT_KIND_CAREGIVER);
  auto first = TestDevice::Unregistered(server);
  ASSERT_TRUE(first->client().Register(first->MakeRegisterRequest(code)).ok());
  auto second = TestDevice::Unregistered(server);
  auto replay = second->client().Register(second->MakeRegisterRequest(code));
  EXPECT_EQ(replay.status().code(), absl::StatusCode::kFailedPrecondition) << replay.status();
  EXPECT_NE(replay.status().message().find("already been used"), std::string::npos);
}

TEST(AccountRegistryTest, CodeIsCaseAndDashInsensitive) {
  TestServer server;
  std::string code = server.IssueCode("Jan Janssens");
  std::string typed;
  for (char c : code) {
    if (c != '-') typed.push_back(static_cast<char>(tolower(c)));
  }
  auto device = TestDevice::Unregistered(server);
  EXPECT_TRUE(device->client().Register(device->MakeRegisterRequest(typed)).ok());
}

TEST(AccountRegistryTest, ExpiredAndUnknownCodesAreRefused) {
  TestServer server;
  std::string code = server.IssueCode("Late", v1::ACCOUNT_KIND_PROFESSIONAL, absl::Hours(1));
  server.clock().Advance(absl::Hours(2));
  auto device = TestDevice::Unregistered(server);
  auto expired = device->client().Register(device->MakeRegisterRequest(code));
  EXPECT_EQ(expired.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos);

  auto unknown = device->client().Register(device->MakeRegisterRequest("AAAAA-BBBBB-CCCCC-DDDDD"));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
}

TEST(AccountRegistryTest, MalformedKeysAreRefusedAndCodeStaysUsable) {
  TestServer server;
  std::string code = server.IssueCode("Careful");
  auto device = TestDevice::Unregistered(server);

  v1::RegisterRequest bad = device->MakeRegisterRequest(code);
  bad.set_identity_key("short");
  EXPECT_EQ(device->client().Register(bad).status().code(), absl::StatusCode::kInvalidArgument);

  bad = device->MakeRegisterRequest(code);
  std::string sig = bad.signed_prekey().signature();
  sig[5] ^= 1;
  bad.mutable_signed_prekey()->set_signature(sig);
  auto refused = device->client().Register(bad);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("signature"), std::string::npos);

  bad = device->MakeRegisterRequest(code);
  bad.set_device_name(std::string(1000, 'x'));
  EXPECT_EQ(device->client().Register(bad).status().code(), absl::StatusCode::kInvalidArgument);

  bad = device->MakeRegisterRequest(code, 100);
  for (int i = 0; i < 5; ++i) *bad.add_one_time_prekeys() = bad.one_time_prekeys(0);
  EXPECT_EQ(device->client().Register(bad).status().code(), absl::StatusCode::kInvalidArgument);

  // None of the refusals consumed the code.
  EXPECT_TRUE(device->client().Register(device->MakeRegisterRequest(code)).ok());
}

TEST(AccountRegistryTest, AdminRefusesBadCodeRequests) {
  TestServer server;
  auto& accounts = server.server().accounts();
  EXPECT_EQ(
      accounts.IssueEnrollmentCode("", v1::ACCOUNT_KIND_PATIENT, absl::Hours(1)).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(accounts.IssueEnrollmentCode("x", v1::ACCOUNT_KIND_UNSPECIFIED, absl::Hours(1))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      accounts.IssueEnrollmentCode(std::string(65, 'n'), v1::ACCOUNT_KIND_PATIENT, absl::Hours(1))
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(AccountRegistryTest, LinksListsAndRevokesDevices) {
  TestServer server;
  auto laptop = TestDevice::Enroll(server, "Dr. Lucas Martin");
  auto phone = TestDevice::Link(server, *laptop);
  EXPECT_EQ(phone->account_id(), laptop->account_id());
  EXPECT_EQ(phone->device_id(), 2u);

  auto devices = laptop->client().ListDevices();
  ASSERT_TRUE(devices.ok()) << devices.status();
  ASSERT_EQ(devices->size(), 2u);

  // Revoking the phone cuts it off at once and deletes its queue.
  auto sender = TestDevice::Enroll(server, "Sender");
  ASSERT_TRUE(sender->SendBytes(laptop->account_id(), "for both").ok());
  ASSERT_TRUE(laptop->client().RevokeDevice(phone->device_id()).ok());
  auto after = phone->client().ListDevices();
  EXPECT_EQ(after.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(after.status().message().find("revoked"), std::string::npos);
  store::DeviceRef phone_ref{*store::AccountId::FromHex(phone->account_id()), phone->device_id()};
  std::vector<v1::Envelope> queued;
  bool more = false;
  ASSERT_TRUE(server.server()
                  .relay()
                  .ReadQueue(phone_ref, 0, UINT64_MAX, 100, 1 << 20, &queued, &more)
                  .ok());
  EXPECT_TRUE(queued.empty());

  devices = laptop->client().ListDevices();
  ASSERT_TRUE(devices.ok());
  EXPECT_EQ(devices->size(), 1u);
  EXPECT_EQ(laptop->client().RevokeDevice(phone->device_id()).code(), absl::StatusCode::kNotFound);

  // A new device never reuses the revoked id.
  auto tablet = TestDevice::Link(server, *laptop);
  EXPECT_EQ(tablet->device_id(), 3u);
}

TEST(AccountRegistryTest, LinkCodeIsSingleUseAndExpires) {
  TestServer server;
  auto laptop = TestDevice::Enroll(server, "Dr. Ines Claes");
  auto link = laptop->client().LinkDevice(60);
  ASSERT_TRUE(link.ok());
  server.clock().Advance(absl::Minutes(2));
  auto late = TestDevice::Unregistered(server);
  EXPECT_EQ(late->client().Register(late->MakeRegisterRequest(link->code())).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(laptop->client().LinkDevice(7200).status().code(), absl::StatusCode::kInvalidArgument);
}

// Issue 15, lower findings: link codes had no quota, so one account could
// fill the code table. At most --max-open-link-codes unused, unexpired
// codes per account; a used or expired code no longer counts. Fails before
// the fix: the sixth code was issued.
TEST(AccountRegistryTest, OpenLinkCodesPerAccountAreBounded) {
  TestServer server;  // 5 open link codes per account
  auto laptop = TestDevice::Enroll(server, "Dr. Ines Claes");
  auto other = TestDevice::Enroll(server, "Someone else");
  std::vector<std::string> codes;
  for (int i = 0; i < 5; ++i) {
    auto link = laptop->client().LinkDevice(600);
    ASSERT_TRUE(link.ok()) << link.status();
    codes.push_back(link->code());
  }
  auto sixth = laptop->client().LinkDevice(600);
  EXPECT_EQ(sixth.status().code(), absl::StatusCode::kResourceExhausted) << sixth.status();
  EXPECT_TRUE(absl::StrContains(sixth.status().message(), "at most 5")) << sixth.status();
  // Another account is not held back by this one's codes.
  EXPECT_TRUE(other->client().LinkDevice(600).ok());
  // Using a code frees its place.
  auto phone = TestDevice::Unregistered(server);
  ASSERT_TRUE(phone->client().Register(phone->MakeRegisterRequest(codes[0])).ok());
  EXPECT_TRUE(laptop->client().LinkDevice(600).ok());
  EXPECT_EQ(laptop->client().LinkDevice(600).status().code(), absl::StatusCode::kResourceExhausted);
  // So does expiry.
  server.clock().Advance(absl::Minutes(11));
  EXPECT_TRUE(laptop->client().LinkDevice(600).ok());
}

// Issue 15, finding 3: the device secret (which config.json held in clear)
// was enough to link a device silently. Now LinkDevice needs a fresh
// signature by the calling device's identity key, and a linked device is
// announced to the account's other devices. Fails before the fix: the bare
// request got a code, and nobody was told.
TEST(AccountRegistryTest, LinkDeviceNeedsIdentityKeyProofAndIsAnnounced) {
  TestServer server;
  auto laptop = TestDevice::Enroll(server, "Dr. Ines Claes");
  auto other = TestDevice::Enroll(server, "Someone else");
  const int64_t now = absl::ToUnixSeconds(server.clock().Now());
  const auto statement = [&](int64_t at, uint32_t ttl) {
    return LinkDeviceStatement(laptop->account_id(), laptop->device_id(), at, ttl);
  };
  const auto signed_by = [](TestDevice& d, const std::string& message) {
    auto signature = d.profile().SignWithIdentity(message);
    EXPECT_TRUE(signature.ok()) << signature.status();
    return signature.ok() ? *signature : std::string();
  };
  const auto refused = [&](const v1::LinkDeviceRequest& request) {
    auto link = laptop->client().LinkDeviceRaw(request);
    EXPECT_EQ(link.status().code(), absl::StatusCode::kUnauthenticated) << link.status();
  };

  // The secret alone: what a copy of a profile directory gives.
  v1::LinkDeviceRequest bare;
  bare.set_ttl_seconds(60);
  bare.set_issued_at_unix(now);
  refused(bare);
  // Signed by another device's identity key; a malformed signature.
  v1::LinkDeviceRequest forged = bare;
  forged.set_identity_signature(signed_by(*other, statement(now, 60)));
  refused(forged);
  forged.set_identity_signature(std::string(64, 'x'));
  refused(forged);
  // The right key, but an old request, or not the request that was signed.
  v1::LinkDeviceRequest stale = bare;
  stale.set_issued_at_unix(now - 3600);
  stale.set_identity_signature(signed_by(*laptop, statement(now - 3600, 60)));
  refused(stale);
  v1::LinkDeviceRequest altered = bare;
  altered.set_identity_signature(signed_by(*laptop, statement(now, 60)));
  altered.set_ttl_seconds(3600);
  refused(altered);
  // None of them linked anything.
  auto devices = laptop->client().ListDevices();
  ASSERT_TRUE(devices.ok()) << devices.status();
  EXPECT_EQ(devices->size(), 1u);

  // The proper request links, and the laptop is told.
  v1::LinkDeviceRequest good = bare;
  good.set_identity_signature(signed_by(*laptop, statement(now, 60)));
  auto link = laptop->client().LinkDeviceRaw(good);
  ASSERT_TRUE(link.ok()) << link.status();
  auto phone = TestDevice::Unregistered(server);
  v1::RegisterRequest request = phone->MakeRegisterRequest(link->code());
  request.set_device_name("phone");
  auto registered = phone->client().Register(request);
  ASSERT_TRUE(registered.ok()) << registered.status();

  const auto device_added = [](const std::vector<v1::Envelope>& envelopes) {
    std::vector<v1::Alert> found;
    for (const auto& e : envelopes) {
      v1::Alert alert;
      if (e.type() == v1::ENVELOPE_TYPE_ALERT && alert.ParseFromString(e.content()) &&
          alert.kind() == v1::Alert::KIND_DEVICE_ADDED) {
        found.push_back(alert);
      }
    }
    return found;
  };
  auto told = device_added(laptop->ReceiveBacklog(/*ack=*/true));
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].subject_account_id(), laptop->account_id());
  EXPECT_EQ(told[0].new_device().account_id(), laptop->account_id());
  EXPECT_EQ(told[0].new_device().device_id(), phone->device_id());
  EXPECT_EQ(told[0].device_name(), "phone");
  // Not the new device itself, and not other accounts (their clients see
  // the new device when they next write to it: messenger_test).
  EXPECT_TRUE(device_added(phone->ReceiveBacklog()).empty());
  EXPECT_TRUE(device_added(other->ReceiveBacklog()).empty());
}

TEST(AccountRegistryTest, DeviceLimitPerAccount) {
  core::Limits limits = TestLimits();
  limits.max_devices_per_account = 2;
  TestServer server(limits);
  auto first = TestDevice::Enroll(server, "Two devices");
  auto second = TestDevice::Link(server, *first);
  auto link = first->client().LinkDevice();
  ASSERT_TRUE(link.ok());
  auto third = TestDevice::Unregistered(server);
  auto refused = third->client().Register(third->MakeRegisterRequest(link->code()));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
}

TEST(AccountRegistryTest, WrongCredentialsAreUnauthenticated) {
  TestServer server;
  auto device = TestDevice::Enroll(server, "Someone");
  client::DeviceCredentials good = device->client().credentials();

  auto expect_denied = [&](client::DeviceCredentials creds) {
    device->client().SetCredentials(creds);
    EXPECT_EQ(device->client().ListDevices().status().code(), absl::StatusCode::kUnauthenticated);
  };
  client::DeviceCredentials c = good;
  c.secret[0] ^= 1;
  expect_denied(c);
  c = good;
  c.device_id = 7;
  expect_denied(c);
  c = good;
  c.account_id = "not-hex";
  expect_denied(c);
  c = good;
  c.account_id = std::string(32, '0');
  expect_denied(c);
  c = good;
  c.secret = "";
  expect_denied(c);
  device->client().SetCredentials(good);
  EXPECT_TRUE(device->client().ListDevices().ok());

  // A stream with wrong credentials ends at once.
  c = good;
  c.secret[1] ^= 1;
  device->client().SetCredentials(c);
  StreamCollector stream(device->client());
  EXPECT_EQ(stream.WaitEnd().code(), absl::StatusCode::kUnauthenticated);
}

TEST(AccountRegistryTest, RegistrationRateIsLimitedPerAddress) {
  core::Limits limits = TestLimits();
  limits.registration_burst = 2;
  limits.registrations_per_minute = 1;
  TestServer server(limits);
  auto device = TestDevice::Unregistered(server);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(device->client().Register(device->MakeRegisterRequest("nope")).status().code(),
              absl::StatusCode::kNotFound);
  }
  auto limited = device->client().Register(device->MakeRegisterRequest("nope"));
  EXPECT_EQ(limited.status().code(), absl::StatusCode::kResourceExhausted) << limited.status();
  server.clock().Advance(absl::Minutes(1));
  EXPECT_EQ(device->client().Register(device->MakeRegisterRequest("nope")).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace carerelay::testing
