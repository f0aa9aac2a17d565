// The liaison notebook ("carnet de liaison") of a care team: dated entries
// of a kind — a visit done, an observation, a treatment change, an
// incident, a note to the next visitor — on a team channel, pinned beside
// the conversation, that the team keeps feeding.
//
// An entry is end-to-end encrypted content like a message
// (content.proto, NotebookEntry), sent on the channel with the sender key,
// so only the channel's readers hold it, and it is kept in each device's
// history (history.h). Editing sends a new revision under the same entry
// id; every revision stays in the history, so the notebook shows the
// latest text and what it said before, and who changed it when. Only the
// entry's author (the account that wrote revision 1) may edit it: the
// sender's device refuses otherwise, and every receiving device refuses an
// edit by anyone else (CheckNotebookEntry), so a member cannot rewrite what
// another noted.
//
// Thread-safety: free functions over a History; as thread-safe as it is.
#ifndef CARERELAY_CLIENT_NOTEBOOK_H_
#define CARERELAY_CLIENT_NOTEBOOK_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "carerelay/v1/common.pb.h"
#include "carerelay/v1/content.pb.h"
#include "client/history.h"

namespace carerelay::client {

// The longest entry text, in bytes: a careful page, not a document (those
// are attachments).
inline constexpr size_t kMaxNotebookBodyBytes = 16 * 1024;

// An entry as it stands now.
struct NotebookItem {
  std::string entry_id;
  // Every revision, oldest first; the last is the current text.
  std::vector<v1::HistoryEntry> revisions;
  const v1::HistoryEntry& latest() const { return revisions.back(); }
  const v1::NotebookEntry& current() const { return latest().content().notebook_entry(); }
};

// Content for a new entry (revision 1, its entry id its message id).
//   INVALID_ARGUMENT  kind unspecified, empty or too long a body
absl::StatusOr<v1::Content> NewNotebookEntry(v1::NotebookEntry::Kind kind, const std::string& body,
                                             absl::Time dated);

// Content for the next revision of `entry_id` on `team_id`, written by
// `author_account_id` (this account), and the channel it is on. The kind
// and date stay unless given (KIND_UNSPECIFIED, InfinitePast: unchanged).
//   NOT_FOUND          this device holds no such entry
//   PERMISSION_DENIED  someone else wrote it
//   INVALID_ARGUMENT   empty or too long a body
struct NotebookEdit {
  v1::Content content;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
};
absl::StatusOr<NotebookEdit> EditNotebookEntry(const History& history, const std::string& team_id,
                                               const std::string& entry_id,
                                               const std::string& author_account_id,
                                               const std::string& body,
                                               v1::NotebookEntry::Kind kind, absl::Time dated);

// Whether `entry` (a notebook entry that arrived, about to be kept) is well
// formed and, for an edit, written by the entry's author on its channel.
//   INVALID_ARGUMENT   not on a team channel, no kind, an empty or too long
//                      body, a revision 1 whose entry id is not its own, or
//                      an edit on another channel than the entry
//   PERMISSION_DENIED  an edit of someone else's entry
// An edit of an entry this device does not hold (it joined later) is taken:
// there is nothing to check it against, and it shows its own author.
// Storage errors of the history otherwise.
absl::Status CheckNotebookEntry(const History& history, const v1::HistoryEntry& entry);

// The notebook of `team_id`: its entries on `channels` (every channel when
// empty), in the order of the dates they are about.
absl::StatusOr<std::vector<NotebookItem>> ListNotebook(const History& history,
                                                       const std::string& team_id,
                                                       const std::vector<int>& channels = {});

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_NOTEBOOK_H_
