// idle_streams: the server's memory per open, idle Receive stream (issue 8's
// scale figure, on the v2 stream): N devices each open a stream with the
// default window, held by one completion queue (a thread per stream would
// measure the generator), sharing TLS connections `streams_per_connection`
// at a time (N connections would measure the kernel's sockets). The server's
// RSS is read from /proc before and after.
#ifndef CARERELAY_BENCH_IDLE_STREAMS_H_
#define CARERELAY_BENCH_IDLE_STREAMS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "bench/proc_stats.h"
#include "client/relay_client.h"

namespace carerelay::bench {

struct IdleStreamsResult {
  int requested = 0;
  int established = 0;  // streams that got their first message
  double open_seconds = 0;
  ProcessSample before, after;
  std::string error;
};

// Opens a stream for each of `devices` on `target` (CA PEM `ca_pem`),
// waits for each one's first message, samples `server_pid`, and closes them.
IdleStreamsResult RunIdleStreams(const std::string& target, const std::string& ca_pem,
                                 const std::vector<client::DeviceCredentials>& devices,
                                 int streams_per_connection, pid_t server_pid);

}  // namespace carerelay::bench

#endif  // CARERELAY_BENCH_IDLE_STREAMS_H_
