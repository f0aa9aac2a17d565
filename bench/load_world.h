// load_world: the care teams carerelay-bench drives, set up through the
// relay's own API on a running carerelayd: T teams of M professional
// accounts with D devices each (member 0 creates the team as coordinator
// and records the patient's consent; the others are invited as
// professionals and accept), and for every device the post it sends on its
// team's TEAM channel: one PLAINTEXT envelope of E opaque bytes per reader
// device (the active members' devices that may read TEAM, from GetTeam,
// minus the sender's own device), exactly the set the relay requires.
//
// The same devices, requests and connection layout then drive the no-op
// relay too, which checks none of it.
#ifndef CARERELAY_BENCH_LOAD_WORLD_H_
#define CARERELAY_BENCH_LOAD_WORLD_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/async_load.h"
#include "carerelay/v1/accounts.pb.h"
#include "client/relay_client.h"

namespace carerelay::bench {

struct WorldSpec {
  int teams = 4;
  int members = 4;
  int devices = 1;
  // The profile whose identity key the registration template carries: it
  // signs the requests that link each member's further devices.
  std::string identity_profile_dir;
  size_t envelope_bytes = 256;
  int setup_threads = 4;
};

struct World {
  std::vector<client::DeviceCredentials> devices;  // every device of every member
  std::vector<int> team_of;                        // by device
  std::vector<std::string> team_ids;               // by team
  LoadPlan plan;                                   // by device
  double setup_seconds = 0;
};

// Sets up `spec` on the server at `connection`, with enrollment codes from
// its admin socket `admin_address` and devices registered with `tmpl` (one
// set of real libsignal keys for all: the server checks a signed prekey's
// signature, not that identities differ).
absl::StatusOr<World> BuildWorld(const client::ConnectionOptions& connection,
                                 const std::string& admin_address, const WorldSpec& spec,
                                 const v1::RegisterRequest& tmpl);

// The same shape with made-up accounts, devices and teams, and no server:
// for runs against the no-op relay alone, which checks none of it.
World SyntheticWorld(const WorldSpec& spec);

// `count` accounts of one device each named "`prefix` i", registered in
// parallel on `threads` threads (idle streams, backlogs).
absl::StatusOr<std::vector<client::DeviceCredentials>> RegisterAccounts(
    const client::ConnectionOptions& connection, const std::string& admin_address,
    const v1::RegisterRequest& tmpl, int count, int threads, const std::string& prefix);

}  // namespace carerelay::bench

#endif  // CARERELAY_BENCH_LOAD_WORLD_H_
