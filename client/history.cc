#include "client/history.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "text/latin_folding.h"

namespace carerelay::client {
namespace {

// A team's history is one record kind, a conversation's another, so that
// listing one reads only its own records (ProfileStore::ListRecords).
std::string KindOf(const std::string& team_id, const std::string& peer_account_id) {
  return team_id.empty() ? "history@" + peer_account_id : "history:" + team_id;
}

// The record key: the channel (one byte, 0 for a conversation), the send
// time (8 bytes, big endian, offset so that negative times order first),
// then the message id; so keys sort in the order a thread reads.
constexpr size_t kKeyHeader = 9;

std::string KeyOf(const v1::HistoryEntry& entry) {
  std::string key(1, static_cast<char>(entry.channel()));
  const uint64_t time = static_cast<uint64_t>(entry.content().sent_at_ms()) ^ (uint64_t{1} << 63);
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(time >> shift));
  key += entry.content().message_id();
  return key;
}

// What a search matches against, folded.
std::string Searchable(const v1::HistoryEntry& entry) {
  const v1::Content& c = entry.content();
  return text::FoldForSearch(absl::StrCat(c.text().body(), "\n", c.notebook_entry().body(), "\n",
                                          c.attachment().file_name(), "\n",
                                          c.attachment().caption(), "\n", entry.sender_name()));
}

}  // namespace

History::History(crypto::ProfileStore* profile) : profile_(profile) {}

bool History::Keeps(const v1::Content& content) {
  return content.has_text() || content.has_attachment() || content.has_notebook_entry();
}

absl::Status History::Keep(const v1::HistoryEntry& entry) {
  return Put(entry, /*replace=*/true).status();
}

absl::StatusOr<bool> History::KeepIfNew(const v1::HistoryEntry& entry) {
  return Put(entry, /*replace=*/false);
}

absl::StatusOr<bool> History::Put(const v1::HistoryEntry& entry, bool replace) {
  if (entry.team_id().empty() == entry.peer_account_id().empty()) {
    return absl::InvalidArgumentError("a history entry belongs to a team or to a conversation");
  }
  if (!entry.team_id().empty() && entry.channel() == 0) {
    return absl::InvalidArgumentError("a team's history entry names its channel");
  }
  if (entry.content().message_id().empty() || !Keeps(entry.content())) {
    return absl::InvalidArgumentError(
        "a history entry is a text, a document or a notebook entry with a message id");
  }
  const std::string kind = KindOf(entry.team_id(), entry.peer_account_id());
  const std::string key = KeyOf(entry);
  // Someone reusing another's message id and time must not overwrite what
  // that person said here.
  auto held = profile_->GetRecord(kind, key);
  if (!held.ok()) return held.status();
  if (held->has_value()) {
    if (!replace) return false;
    v1::HistoryEntry previous;
    if (!previous.ParseFromString(**held)) {
      return absl::DataLossError("a history entry of this profile does not parse");
    }
    if (previous.sender_account_id() != entry.sender_account_id()) {
      return absl::AlreadyExistsError(
          "a message reusing the id of another person's message was not kept");
    }
  }
  absl::Status s = profile_->PutRecord(kind, key, entry.SerializeAsString());
  if (!s.ok()) return s;
  return true;
}

absl::StatusOr<std::vector<v1::HistoryEntry>> History::List(const HistoryQuery& query) const {
  if (query.team_id.empty() && query.peer_account_id.empty()) {
    return absl::InvalidArgumentError("name a team or a person whose history to list");
  }
  auto records = profile_->ListRecords(KindOf(query.team_id, query.peer_account_id));
  if (!records.ok()) return records.status();
  std::vector<std::string> words;
  for (absl::string_view w : absl::StrSplit(text::FoldForSearch(query.search),
                                            absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    words.emplace_back(w);
  }
  std::vector<v1::HistoryEntry> entries;
  for (const auto& [key, value] : *records) {
    if (key.size() < kKeyHeader) continue;
    const int channel = static_cast<uint8_t>(key[0]);
    if (!query.channels.empty() &&
        std::find(query.channels.begin(), query.channels.end(), channel) == query.channels.end()) {
      continue;
    }
    v1::HistoryEntry entry;
    if (!entry.ParseFromString(value)) {
      return absl::DataLossError("a history entry of this profile does not parse");
    }
    if (entry.content().sent_at_ms() < query.since_ms) continue;
    if (!words.empty()) {
      const std::string haystack = Searchable(entry);
      if (!std::all_of(words.begin(), words.end(), [&](const std::string& w) {
            return haystack.find(w) != std::string::npos;
          })) {
        continue;
      }
    }
    entries.push_back(std::move(entry));
  }
  // Keys sort by channel first: a thread over several channels reads by time.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const v1::HistoryEntry& a, const v1::HistoryEntry& b) {
                     return a.content().sent_at_ms() < b.content().sent_at_ms();
                   });
  if (query.limit > 0 && entries.size() > query.limit) {
    entries.erase(entries.begin(), entries.end() - static_cast<ptrdiff_t>(query.limit));
  }
  return entries;
}

absl::StatusOr<std::optional<v1::HistoryEntry>> History::Find(const std::string& team_id,
                                                              const std::string& message_id) const {
  auto records = profile_->ListRecords(KindOf(team_id, ""));
  if (!records.ok()) return records.status();
  for (const auto& [key, value] : *records) {
    if (key.size() < kKeyHeader || key.compare(kKeyHeader, std::string::npos, message_id) != 0) {
      continue;
    }
    v1::HistoryEntry entry;
    if (!entry.ParseFromString(value)) {
      return absl::DataLossError("a history entry of this profile does not parse");
    }
    return std::optional<v1::HistoryEntry>(std::move(entry));
  }
  return std::optional<v1::HistoryEntry>();
}

absl::Status History::ForgetTeam(const std::string& team_id) {
  const std::string kind = KindOf(team_id, "");
  auto records = profile_->ListRecords(kind);
  if (!records.ok()) return records.status();
  // One write: the team's history goes whole or not at all.
  return profile_->WriteAtomically([&]() -> absl::Status {
    for (const auto& [key, value] : *records) {
      if (absl::Status s = profile_->DeleteRecord(kind, key); !s.ok()) return s;
    }
    return absl::OkStatus();
  });
}

}  // namespace carerelay::client
