// HistoryHandover: history for people who join a team later, end to end
// encrypted (docs/design/team-history.md, section 2).
//
// When a member becomes active (a JOINED event), or a staff member comes on
// duty for an organisation on the team, the devices of the team's
// coordinator and case manager build a history bundle for them: the entries
// this device holds (history.h) of the channels both may read, within the
// team's history visibility (Team.history_visibility: nothing from before
// they joined, the last N days, or the whole pathway). The bundle is
// encrypted with the attachment cipher under a fresh key and uploaded as a
// document of the team; its pointer, with the key, goes pairwise to the
// newcomer's devices (Content.history_share); and the server records in the
// team's audit log that history was shared with whom (how many entries,
// from when, on which channels), never what. Each device hands a team's
// history to one person once.
//
// The newcomer's device takes a bundle only over a pairwise session, only
// from someone who acts on the team as an active member now (checked on a
// fresh GetTeam), and keeps only entries of that team on channels its own
// role reads, whatever the builder put in; each is marked "shared by NAME"
// (HistoryEntry.shared_by_*), since a bundle is only as true as its builder,
// and never replaces an entry the device already holds. The document
// pointers in it are kept, so the newcomer can fetch the discharge letter
// posted before they joined.
//
// Errors: those of the relay, of AttachmentTransfer (upload and download),
// of Messenger (the pairwise send) and of the profile store.
//
// Thread-safety: not thread-safe (it drives a Messenger, which is not).
// Ownership: borrows everything; all must outlive it.
#ifndef CARERELAY_CLIENT_HISTORY_HANDOVER_H_
#define CARERELAY_CLIENT_HISTORY_HANDOVER_H_

#include <string>

#include "absl/status/statusor.h"
#include "carerelay/v1/content.pb.h"
#include "client/attachment_transfer.h"
#include "client/history.h"
#include "client/messenger.h"
#include "crypto/profile_store.h"

namespace carerelay::client {

// The media type of a history bundle's blob.
inline constexpr char kHistoryBundleMediaType[] = "application/x-carerelay-history";

class HistoryHandover {
 public:
  HistoryHandover(Messenger* messenger, AttachmentTransfer* transfer, RelayClient* relay,
                  crypto::ProfileStore* profile);

  // Hands `account_id` (who just became active on `team_id`, or came on
  // duty for an organisation on it) the history this device holds, if this
  // account convenes the team (coordinator or case manager), the team's
  // setting lets any go, and this device has not handed it to them before
  // (`again`: even if it has, e.g. when the first hand-over failed).
  // Returns how many entries went (0 when nothing did).
  absl::StatusOr<int> OfferTo(const std::string& team_id, const std::string& account_id,
                              bool again = false);

  // Hands a new device of this same account (a linked device,
  // `device_id`) what this device holds of every team the account is
  // active on, every channel it reads, with no window: the same person's
  // history (design, section 3). One bundle per team, sent to the account's
  // devices with `for_device_id` set, so only the new one takes it; no
  // audit entry. Once per device and team. Returns how many entries went.
  // The direct conversations stay on this device (a bundle is a team's
  // document).
  absl::StatusOr<int> OfferToNewDevice(uint32_t device_id);

  // Takes the bundle `m` carries (a HistoryShare). Returns how many
  // entries were kept (0 for this account's own copy of a share it sent,
  // or a linked-device share meant for another of its devices).
  //   INVALID_ARGUMENT   not over a pairwise session, or not about one team
  //   PERMISSION_DENIED  the sender does not act on the team as an active
  //                      member, or this account no longer does
  //   DATA_LOSS          the bundle failed its integrity check or does not
  //                      parse
  absl::StatusOr<int> Take(const ReceivedMessage& m);

 private:
  // Uploads `bundle` as a blob of `team_id` and sends its pointer to
  // `account_id`'s devices (`for_device_id`: only that one takes it).
  absl::Status Send(const v1::HistoryBundle& bundle, const std::string& account_id,
                    uint32_t for_device_id);

  Messenger* messenger_;
  AttachmentTransfer* transfer_;
  RelayClient* relay_;
  crypto::ProfileStore* profile_;
  History history_;
};

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_HISTORY_HANDOVER_H_
