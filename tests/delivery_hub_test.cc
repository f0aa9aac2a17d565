// DeliveryHub unit tests: the watermark never passes an unfinished write, and
// listeners are told exactly when their envelopes become readable.
#include "server/core/delivery_hub.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace carerelay::core {
namespace {

class RecordingListener : public QueueListener {
 public:
  void OnQueued(uint64_t watermark) override { seen.push_back(watermark); }
  void OnClosed(const absl::Status& status) override { closed = status; }
  Acknowledged TakeAcknowledged(uint64_t through) override {
    acknowledged.push_back(through);
    return Acknowledged{through, {}};
  }
  void OnWatermark(const store::Watermark& w) override { watermarks.push_back(w); }
  std::vector<uint64_t> acknowledged;
  std::vector<store::Watermark> watermarks;
  std::vector<uint64_t> seen;
  absl::Status closed;
};

class DeliveryHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/carerelay-hub-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    auto db = store::Database::Open(dir_, store::DatabaseOptions{});
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    auto seq = store::SequenceAllocator::Open(db_.get(), 100);
    ASSERT_TRUE(seq.ok());
    sequences_ = *std::move(seq);
  }
  void TearDown() override {
    sequences_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::SequenceAllocator> sequences_;
};

TEST_F(DeliveryHubTest, WatermarkWaitsForEarlierWrites) {
  DeliveryHub hub(sequences_.get());
  store::DeviceRef bob{store::AccountId::Random(), 1};
  auto listener = std::make_shared<RecordingListener>();
  hub.Subscribe(bob, listener);

  uint64_t a = *hub.Begin(2);  // a, a+1
  uint64_t b = *hub.Begin(1);  // a+2
  EXPECT_EQ(b, a + 2);
  EXPECT_EQ(hub.Watermark(), a - 1);

  hub.Publish(b, {bob});  // later write finishes first: not visible yet
  EXPECT_EQ(hub.Watermark(), a - 1);
  EXPECT_TRUE(listener->seen.empty());

  hub.Abandon(a);  // earlier write failed: both become final
  EXPECT_EQ(hub.Watermark(), b);
  EXPECT_EQ(listener->seen, (std::vector<uint64_t>{b}));
}

TEST_F(DeliveryHubTest, WatermarkWaitersAreToldWhenEarlierWritesAreFinal) {
  DeliveryHub hub(sequences_.get());
  uint64_t a = *hub.Begin(1);
  uint64_t b = *hub.Begin(1);
  EXPECT_EQ(hub.HighestBegun(), b);
  auto waiter = std::make_shared<RecordingListener>();
  hub.NotifyAtWatermark(hub.HighestBegun(), waiter);
  hub.Publish(b, {});
  EXPECT_TRUE(waiter->seen.empty());  // a is still being written
  hub.Publish(a, {});
  EXPECT_EQ(waiter->seen, (std::vector<uint64_t>{b}));
  auto late = std::make_shared<RecordingListener>();
  hub.NotifyAtWatermark(a, late);  // already reached: told at once
  EXPECT_EQ(late->seen, (std::vector<uint64_t>{b}));
}

TEST_F(DeliveryHubTest, SequencesSurviveReopenWithoutReuse) {
  uint64_t first;
  {
    DeliveryHub hub(sequences_.get());
    first = *hub.Begin(150);  // crosses the lease of 100
    hub.Publish(first, {});
  }
  sequences_.reset();
  auto reopened = store::SequenceAllocator::Open(db_.get(), 100);
  ASSERT_TRUE(reopened.ok());
  uint64_t next = *(*reopened)->Allocate(1);
  EXPECT_GE(next, first + 150);
}

TEST_F(DeliveryHubTest, ReplacedAndShutDownListenersAreClosed) {
  DeliveryHub hub(sequences_.get());
  store::DeviceRef bob{store::AccountId::Random(), 1};
  auto first = std::make_shared<RecordingListener>();
  auto second = std::make_shared<RecordingListener>();
  hub.Subscribe(bob, first);
  hub.Subscribe(bob, second);
  EXPECT_EQ(first->closed.code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(second->closed.ok());
  hub.Unsubscribe(bob, first.get());  // stale unsubscribe leaves the new one
  EXPECT_EQ(hub.StreamCount(), 1u);
  hub.Shutdown();
  EXPECT_EQ(second->closed.code(), absl::StatusCode::kUnavailable);
  auto late = std::make_shared<RecordingListener>();
  hub.Subscribe(bob, late);
  EXPECT_EQ(late->closed.code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace carerelay::core
