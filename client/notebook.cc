#include "client/notebook.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/messenger.h"

namespace carerelay::client {
namespace {

absl::Status CheckBody(v1::NotebookEntry::Kind kind, const std::string& body) {
  if (kind == v1::NotebookEntry::KIND_UNSPECIFIED || !v1::NotebookEntry::Kind_IsValid(kind)) {
    return absl::InvalidArgumentError(
        "a notebook entry has a kind: visit, observation, treatment, incident or handover");
  }
  if (body.empty()) return absl::InvalidArgumentError("a notebook entry has a text");
  if (body.size() > kMaxNotebookBodyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a notebook entry is at most ",
                                                   kMaxNotebookBodyBytes,
                                                   " bytes; attach a document for more"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::Content> NewNotebookEntry(v1::NotebookEntry::Kind kind, const std::string& body,
                                             absl::Time dated) {
  if (absl::Status s = CheckBody(kind, body); !s.ok()) return s;
  v1::Content content;
  content.set_message_id(NewMessageId());
  v1::NotebookEntry* entry = content.mutable_notebook_entry();
  entry->set_entry_id(content.message_id());
  entry->set_kind(kind);
  entry->set_body(body);
  entry->set_dated_ms(absl::ToUnixMillis(dated));
  entry->set_revision(1);
  return content;
}

absl::StatusOr<NotebookEdit> EditNotebookEntry(const History& history, const std::string& team_id,
                                               const std::string& entry_id,
                                               const std::string& author_account_id,
                                               const std::string& body,
                                               v1::NotebookEntry::Kind kind, absl::Time dated) {
  auto notebook = ListNotebook(history, team_id);
  if (!notebook.ok()) return notebook.status();
  auto item = std::find_if(notebook->begin(), notebook->end(),
                           [&](const NotebookItem& i) { return i.entry_id == entry_id; });
  if (item == notebook->end()) {
    return absl::NotFoundError(
        absl::StrCat("this device holds no notebook entry ", entry_id, " of team ", team_id));
  }
  if (item->revisions.front().sender_account_id() != author_account_id) {
    return absl::PermissionDeniedError(
        "only its author edits a notebook entry; add an entry of your own instead");
  }
  const v1::NotebookEntry& current = item->current();
  if (kind == v1::NotebookEntry::KIND_UNSPECIFIED) kind = current.kind();
  if (absl::Status s = CheckBody(kind, body); !s.ok()) return s;
  NotebookEdit edit;
  edit.channel = static_cast<v1::Channel>(item->latest().channel());
  edit.content.set_message_id(NewMessageId());
  v1::NotebookEntry* entry = edit.content.mutable_notebook_entry();
  entry->set_entry_id(entry_id);
  entry->set_kind(kind);
  entry->set_body(body);
  entry->set_dated_ms(dated == absl::InfinitePast() ? current.dated_ms()
                                                    : absl::ToUnixMillis(dated));
  entry->set_revision(current.revision() + 1);
  return edit;
}

absl::Status CheckNotebookEntry(const History& history, const v1::HistoryEntry& entry) {
  const v1::NotebookEntry& n = entry.content().notebook_entry();
  if (entry.team_id().empty()) {
    return absl::InvalidArgumentError("a notebook entry belongs on a team channel");
  }
  if (absl::Status s = CheckBody(n.kind(), n.body()); !s.ok()) return s;
  if (n.revision() == 0) return absl::InvalidArgumentError("a notebook entry without a revision");
  if (n.revision() == 1) {
    if (n.entry_id() != entry.content().message_id()) {
      return absl::InvalidArgumentError("a new notebook entry's id is its own message id");
    }
    return absl::OkStatus();
  }
  if (n.entry_id().empty() || n.entry_id() == entry.content().message_id()) {
    return absl::InvalidArgumentError("a notebook edit names the entry it edits");
  }
  auto original = history.Find(entry.team_id(), n.entry_id());
  if (!original.ok()) return original.status();
  if (!original->has_value()) return absl::OkStatus();
  const v1::HistoryEntry& first = **original;
  if (!first.content().has_notebook_entry() || first.content().notebook_entry().revision() != 1) {
    return absl::InvalidArgumentError("a notebook edit names something that is not an entry");
  }
  if (first.sender_account_id() != entry.sender_account_id()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "an edit of a notebook entry by someone other than its author was ignored (written by ",
        first.sender_name().empty() ? first.sender_account_id() : first.sender_name(), ")"));
  }
  if (first.channel() != entry.channel()) {
    return absl::InvalidArgumentError("a notebook edit came on another channel than its entry");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<NotebookItem>> ListNotebook(const History& history,
                                                       const std::string& team_id,
                                                       const std::vector<int>& channels) {
  HistoryQuery query;
  query.team_id = team_id;
  query.channels = channels;
  auto entries = history.List(query);
  if (!entries.ok()) return entries.status();
  std::map<std::string, NotebookItem> by_id;
  for (v1::HistoryEntry& e : *entries) {
    if (!e.content().has_notebook_entry()) continue;
    const std::string& id = e.content().notebook_entry().entry_id();
    NotebookItem& item = by_id[id];
    item.entry_id = id;
    item.revisions.push_back(std::move(e));
  }
  std::vector<NotebookItem> items;
  for (auto& [id, item] : by_id) {
    // By revision; two devices of the author editing at once give two of
    // the same number, ordered by when they were sent.
    std::stable_sort(item.revisions.begin(), item.revisions.end(),
                     [](const v1::HistoryEntry& a, const v1::HistoryEntry& b) {
                       return a.content().notebook_entry().revision() <
                              b.content().notebook_entry().revision();
                     });
    items.push_back(std::move(item));
  }
  std::stable_sort(items.begin(), items.end(), [](const NotebookItem& a, const NotebookItem& b) {
    return a.current().dated_ms() < b.current().dated_ms();
  });
  return items;
}

}  // namespace carerelay::client
