// The audit chain rule shared by the server and the clients
// (proto/audit_chain.h), on entries built here: every kind of break is named
// at the right entry.
#include "proto/audit_chain.h"

#include <gtest/gtest.h>

#include <vector>

namespace carerelay {
namespace {

std::vector<v1::AuditEntry> Chain(int n) {
  std::vector<v1::AuditEntry> entries;
  std::string previous(kAuditHashSize, '\0');
  for (int i = 1; i <= n; ++i) {
    v1::AuditEntry e;
    e.set_sequence(i);
    e.mutable_event()->set_kind(v1::TeamEvent::KIND_JOINED);
    e.mutable_event()->set_subject_account_id(std::string(32, 'a' + i % 6));
    e.mutable_event()->set_at_ms(1000 * i);
    e.set_previous_hash(previous);
    e.set_hash(AuditEntryHash(e));
    previous = e.hash();
    entries.push_back(e);
  }
  return entries;
}

AuditChainCheck Check(const std::vector<v1::AuditEntry>& entries, uint64_t end = 0,
                      uint64_t required = 0, std::string required_hash = "") {
  AuditChainCheck check;
  check.Require(required, std::move(required_hash));
  for (const auto& e : entries) {
    if (!check.Add(e.sequence(), &e)) break;
  }
  check.Finish(end);
  return check;
}

TEST(AuditChainTest, IntactChainChecksToTheEnd) {
  auto entries = Chain(5);
  auto check = Check(entries, 5, 5, entries[4].hash());
  EXPECT_TRUE(check.intact()) << check.problem();
  EXPECT_EQ(check.entries(), 5u);
  EXPECT_EQ(check.last_hash(), entries[4].hash());
  // The hash covers every field: any change gives another hash.
  v1::AuditEntry changed = entries[2];
  changed.mutable_event()->set_at_ms(changed.event().at_ms() + 1);
  EXPECT_NE(AuditEntryHash(changed), entries[2].hash());
}

TEST(AuditChainTest, EachKindOfBreakIsNamedAtItsEntry) {
  auto altered = Chain(5);
  altered[2].mutable_event()->set_kind(v1::TeamEvent::KIND_REMOVED);
  auto check = Check(altered);
  EXPECT_EQ(check.broken_at(), 3u);
  EXPECT_EQ(check.entries(), 2u);

  auto relinked = Chain(5);  // altered with its hash recomputed: the next link breaks
  relinked[2].mutable_event()->set_kind(v1::TeamEvent::KIND_REMOVED);
  relinked[2].set_hash(AuditEntryHash(relinked[2]));
  check = Check(relinked);
  EXPECT_EQ(check.broken_at(), 4u);
  EXPECT_NE(check.problem().find("does not link to entry 3"), std::string::npos);

  auto gap = Chain(5);
  gap.erase(gap.begin() + 1);
  check = Check(gap);
  EXPECT_EQ(check.broken_at(), 2u);
  EXPECT_NE(check.problem().find("missing"), std::string::npos);

  AuditChainCheck unreadable;
  auto entries = Chain(3);
  EXPECT_TRUE(unreadable.Add(1, &entries[0]));
  EXPECT_FALSE(unreadable.Add(2, nullptr));
  EXPECT_EQ(unreadable.broken_at(), 2u);
}

TEST(AuditChainTest, RewrittenOrShortenedLogsMissTheirRecordedHead) {
  // A log rebuilt from entry 3 on with consistent hashes checks link by
  // link, but not against the head recorded when entry 4 was written.
  auto original = Chain(4);
  auto rewritten = Chain(4);
  rewritten[2].mutable_event()->set_kind(v1::TeamEvent::KIND_LEFT);
  for (size_t i = 2; i < rewritten.size(); ++i) {
    rewritten[i].set_previous_hash(rewritten[i - 1].hash());
    rewritten[i].set_hash(AuditEntryHash(rewritten[i]));
  }
  EXPECT_TRUE(Check(rewritten).intact());
  auto check = Check(rewritten, 0, 4, original[3].hash());
  EXPECT_FALSE(check.intact());
  EXPECT_EQ(check.broken_at(), 4u);

  auto shortened = Chain(4);
  shortened.pop_back();
  check = Check(shortened, 4);
  EXPECT_EQ(check.broken_at(), 4u);
  EXPECT_NE(check.problem().find("missing"), std::string::npos);
  check = Check(Chain(5), 4);
  EXPECT_FALSE(check.intact()) << "a log longer than its recorded end";
}

}  // namespace
}  // namespace carerelay
