// The relay's limits. Every one is configurable (server_config.h) and every
// one is enforced with a precise status (RESOURCE_EXHAUSTED or
// INVALID_ARGUMENT) and a message that names the limit.
#ifndef CARERELAY_SERVER_CORE_LIMITS_H_
#define CARERELAY_SERVER_CORE_LIMITS_H_

#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"

namespace carerelay::core {

struct Limits {
  // Ciphertext bytes in one envelope.
  size_t max_envelope_bytes = 256 * 1024;
  // Envelopes (recipient devices) in one send.
  size_t max_envelopes_per_send = 1000;
  // Envelopes waiting in one device's queue.
  uint64_t max_queue_depth = 10000;
  // Envelopes from one sender account waiting in one device's queue: its
  // share of max_queue_depth, so that no one sender can fill a colleague's
  // queue. The server's own envelopes (team events, alerts) count as one
  // sender with the same share.
  uint64_t max_queue_share = 2000;
  // How long an envelope waits for its device before it is deleted.
  absl::Duration queue_ttl = absl::Hours(24 * 30);
  // Sends per device: a token bucket refilled at this rate, this deep.
  double sends_per_second = 100;
  double send_burst = 500;
  // Every other authenticated call of a device: a token bucket refilled at
  // this rate, this deep; each call costs its weight (call_weight.h).
  double calls_per_second = 20;
  double call_burst = 300;
  // A device that calls again before the retry-after it was given is held
  // until then, at most this long (refusal_hold.h; zero: never held), with
  // at most this many calls held per device and in all (a held synchronous
  // call keeps one of the server's threads, --max-threads).
  absl::Duration refusal_hold = absl::Seconds(1);
  size_t max_held_calls_per_device = 16;
  size_t max_held_calls = 64;
  // Registrations per client address (unauthenticated, so per peer).
  double registrations_per_minute = 30;
  double registration_burst = 30;
  // Lookups of a patient's teams by national number (FindTeams) per
  // account and day, refilled evenly: the helpdesk's real use is tens a day.
  double team_lookups_per_day = 200;
  // Prekey bundle fetches by one account of another account's devices, per
  // hour (and at once): a client fetches them once per new session.
  double prekey_fetches_per_hour = 60;
  // One-time prekeys per upload, and stock per device.
  size_t max_prekeys_per_upload = 100;
  size_t max_prekey_stock = 1000;
  // Stream messages a receiving device may leave unacknowledged at once
  // (the largest ReceiveRequest.window_messages accepted): bounds what a
  // stream holds in memory, and what a reconnect delivers again.
  uint32_t max_receive_window = 256;
  // Active devices per account.
  size_t max_devices_per_account = 16;
  // Device name, display name.
  size_t max_name_bytes = 64;
  // People on one team (members, invited, the case manager).
  size_t max_team_members = 100;
  // Open teams one account has created (closed and erased ones do not count;
  // being invited to others' teams never does, so no one can use it up for
  // someone else).
  size_t max_teams_per_account = 2000;
  // Staff accounts on one organisation's roster (Accounts.ChangeRoster).
  size_t max_roster_size = 500;
  // How long a closed team's history is kept before it is erased.
  absl::Duration closed_team_retention = absl::Hours(24 * 90);
  // How long an erased team's content-free audit log is kept for the
  // administrator (erased_teams.h): 30 years, as long as the Belgian law
  // keeps a patient record (README, "Close and erase", says why and how a
  // deployment changes it).
  absl::Duration erased_team_audit_retention = absl::Hours(24 * 365 * 30);
  // Ciphertext bytes of one attachment (a 100 MiB scan is 100 MiB + 0.02%).
  uint64_t max_attachment_bytes = uint64_t{100} << 20;
  // Documents one account holds on the server (uploaded, not yet expired),
  // in ciphertext bytes, and unfinished uploads one device may have open.
  uint64_t max_attachment_bytes_per_account = uint64_t{2} << 30;
  size_t max_open_uploads_per_device = 8;
  // Ciphertext bytes one account may upload (all its devices together): a
  // token bucket refilled at this rate, this deep, charged as the bytes
  // arrive (attachments.h). The quota above bounds what an account holds;
  // this bounds how fast it makes the server write, which is what slows
  // everyone else's sends (bench/README.md, "Issue 16: overload": 70 MiB/s
  // of 64 MiB documents took a colleague's p99 up 7-9x; documents' bytes
  // share the write-ahead log and its syncs with everyone's sends). The
  // burst is as deep as the largest document (max_attachment_bytes), so one
  // document on a full bucket never waits. After it, 1 MiB/s (3.5 GiB an
  // hour, past the account's quota) is what kept a colleague's p99 within 2x
  // under a flood of sends and uploads; 3 MiB/s doubled it.
  double upload_bytes_per_second = 1 << 20;
  double upload_byte_burst = 100 << 20;
  // Link codes one account may have open at once (neither used nor
  // expired; a link code lives at most an hour).
  size_t max_open_link_codes = 5;
  // How long a resolved or cancelled intake is kept (the line reports its
  // year's activity; then the record, and what it says about a call, go).
  absl::Duration closed_intake_retention = absl::Hours(24 * 400);
  // How long an upload may stay unfinished (a resume may come the next day).
  absl::Duration attachment_upload_timeout = absl::Hours(24);
  // How long a complete attachment is kept: as long as the message pointing
  // to it may wait in a queue.
  absl::Duration attachment_retention = absl::Hours(24 * 30);
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_LIMITS_H_
