// Prekeys through a real server: upload, signature refusal, counting, and
// one-time prekeys handed out at most once under concurrent fetches.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "client/key_upload.h"
#include "tests/test_support.h"

namespace carerelay::testing {
namespace {

using client::ToProto;

TEST(PrekeyDirectoryTest, BundleCarriesKeysOfEveryDevice) {
  TestServer server;
  auto bob = TestDevice::Enroll(server, "Bob");
  auto bob2 = TestDevice::Link(server, *bob);
  auto alice = TestDevice::Enroll(server, "Alice");
  auto bundles = alice->client().GetPrekeyBundles(bob->account_id());
  ASSERT_TRUE(bundles.ok()) << bundles.status();
  ASSERT_EQ(bundles->bundles_size(), 2);
  for (const auto& b : bundles->bundles()) {
    EXPECT_EQ(b.identity_key().size(), 33u);
    EXPECT_EQ(b.signed_prekey().signature().size(), 64u);
    EXPECT_TRUE(b.has_one_time_prekey());
    EXPECT_NE(b.registration_id(), 0u);
  }
  auto one = alice->client().GetPrekeyBundles(bob->account_id(), 2);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->bundles_size(), 1);
  EXPECT_EQ(one->bundles(0).device_id(), 2u);
  EXPECT_EQ(alice->client().GetPrekeyBundles(bob->account_id(), 9).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(alice->client().GetPrekeyBundles("zz").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(alice->client().GetPrekeyBundles(std::string(32, 'a')).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(PrekeyDirectoryTest, SignedPrekeyMustVerify) {
  TestServer server;
  auto device = TestDevice::Enroll(server, "Rotating");
  auto rotated = device->keys().RotateSignedPreKey(absl::Now());
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  v1::SignedPrekey prekey = ToProto(*rotated);
  EXPECT_TRUE(device->client().SetSignedPrekey(prekey).ok());

  v1::SignedPrekey forged = prekey;
  std::string sig = forged.signature();
  sig[10] ^= 0x40;
  forged.set_signature(sig);
  auto refused = device->client().SetSignedPrekey(forged);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("does not verify"), std::string::npos);

  // Signed by another identity: refused too.
  auto other = TestDevice::Enroll(server, "Other");
  auto theirs = other->keys().RotateSignedPreKey(absl::Now());
  ASSERT_TRUE(theirs.ok());
  v1::SignedPrekey foreign = ToProto(*theirs);
  EXPECT_EQ(device->client().SetSignedPrekey(foreign).code(), absl::StatusCode::kInvalidArgument);

  // The bundle still carries the accepted key.
  auto bundle = other->client().GetPrekeyBundles(device->account_id());
  ASSERT_TRUE(bundle.ok());
  EXPECT_EQ(bundle->bundles(0).signed_prekey().public_key(), rotated->public_key);
}

TEST(PrekeyDirectoryTest, UploadAndCountOneTimePrekeys) {
  TestServer server;
  auto device = TestDevice::Enroll(server, "Uploader");
  auto count = device->client().CountOneTimePrekeys();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 10u);  // registered with 10
  auto keys = device->keys().GenerateOneTimePreKeys(100);
  ASSERT_TRUE(keys.ok());
  auto added = device->client().AddOneTimePrekeys(ToProto(*keys));
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, 110u);

  auto too_many = ToProto(*keys);
  too_many.push_back(too_many.front());
  EXPECT_EQ(device->client().AddOneTimePrekeys(too_many).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<v1::OneTimePrekey> malformed(1);
  malformed[0].set_key_id(5);
  malformed[0].set_public_key("not a key");
  EXPECT_EQ(device->client().AddOneTimePrekeys(malformed).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(device->client().AddOneTimePrekeys({}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*device->client().CountOneTimePrekeys(), 110u);
}

TEST(PrekeyDirectoryTest, StockLimitIsEnforced) {
  core::Limits limits = TestLimits();
  limits.max_prekey_stock = 50;
  TestServer server(limits);
  auto device = TestDevice::Enroll(server, "Hoarder");
  auto keys = device->keys().GenerateOneTimePreKeys(41);
  ASSERT_TRUE(keys.ok());
  auto refused = device->client().AddOneTimePrekeys(ToProto(*keys));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_EQ(*device->client().CountOneTimePrekeys(), 10u);
}

// Issue 15 (lower): the stock was counted outside the write, so uploads at
// once could together pass the limit each one checked.
TEST(PrekeyDirectoryTest, StockLimitHoldsUnderConcurrentUploads) {
  core::Limits limits = TestLimits();
  limits.max_prekey_stock = 60;  // 10 at registration + 5 uploads of 10
  TestServer server(limits);
  constexpr int kUploaders = 8;
  for (int round = 0; round < 4; ++round) {
    auto device = TestDevice::Enroll(server, "Uploader " + std::to_string(round));
    auto keys = device->keys().GenerateOneTimePreKeys(10 * kUploaders);
    ASSERT_TRUE(keys.ok());
    auto all = ToProto(*keys);
    std::atomic<int> ready{0};
    std::atomic<int> accepted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kUploaders; ++t) {
      threads.emplace_back([&, t] {
        std::vector<v1::OneTimePrekey> mine(all.begin() + 10 * t, all.begin() + 10 * (t + 1));
        ++ready;
        while (ready.load() < kUploaders) std::this_thread::yield();
        if (device->client().AddOneTimePrekeys(mine).ok()) ++accepted;
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(accepted.load(), 5) << "round " << round;
    EXPECT_EQ(*device->client().CountOneTimePrekeys(), 60u) << "round " << round;
  }
}

TEST(PrekeyDirectoryTest, EachOneTimePrekeyIsHandedOutOnce) {
  TestServer server;
  auto bob = TestDevice::Enroll(server, "Bob");
  auto keys = bob->keys().GenerateOneTimePreKeys(90);
  ASSERT_TRUE(keys.ok());
  ASSERT_TRUE(bob->client().AddOneTimePrekeys(ToProto(*keys)).ok());  // 100 in stock

  constexpr int kFetchers = 8;
  constexpr int kFetchesEach = 16;  // 128 fetches for 100 keys
  std::vector<std::unique_ptr<TestDevice>> fetchers;
  for (int i = 0; i < kFetchers; ++i) {
    fetchers.push_back(TestDevice::Enroll(server, "Fetcher " + std::to_string(i)));
  }
  std::mutex mu;
  std::vector<uint32_t> handed_out;
  int without = 0;
  std::vector<std::thread> threads;
  for (auto& f : fetchers) {
    threads.emplace_back([&, client = &f->client()] {
      for (int j = 0; j < kFetchesEach; ++j) {
        auto b = client->GetPrekeyBundles(bob->account_id());
        ASSERT_TRUE(b.ok()) << b.status();
        std::lock_guard<std::mutex> lock(mu);
        if (b->bundles(0).has_one_time_prekey()) {
          handed_out.push_back(b->bundles(0).one_time_prekey().key_id());
        } else {
          ++without;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<uint32_t> unique(handed_out.begin(), handed_out.end());
  EXPECT_EQ(handed_out.size(), 100u);
  EXPECT_EQ(unique.size(), handed_out.size()) << "a one-time prekey was handed out twice";
  EXPECT_EQ(without, kFetchers * kFetchesEach - 100);
  EXPECT_EQ(*bob->client().CountOneTimePrekeys(), 0u);
}

}  // namespace
}  // namespace carerelay::testing
