// async_load: the load generator of carerelay-bench, asynchronous, on one or
// two threads (a thread per device on a 2-core machine would measure the
// scheduler, not the relay).
//
// Every device has its own channel (device_channel.h), one Receive stream
// and its sends and acknowledgements, all on gRPC's asynchronous API with
// one completion queue per worker thread; a device belongs to one worker,
// so its state needs no lock. One run:
//
//  - opens every device's Receive stream with the run's window
//    (window_messages, max_envelopes_per_message, the device's watermark
//    version) and waits for each stream's queue_drained marker;
//  - sends, for warmup + seconds: closed loop (`in_flight` sends in flight
//    end to end: a slot sends again once its Send is answered and every
//    envelope of it was received, so the loop measures delivery, not a
//    growing queue) or open loop (`envelope_rate` envelopes/s offered on a
//    fixed schedule whatever the answers; latency counts from each send's
//    due time, so a relay that falls behind shows as latency, and the
//    generator's own lag behind the schedule is measured: a run whose lag
//    is high is marked invalid);
//  - acknowledges cumulatively: windowed, with one Ack in flight per device
//    through the highest sequence received (reads go on meanwhile), or
//    stop-and-wait (window 1; each message acknowledged before the next
//    read, as the v1 clients did);
//  - measures, on envelopes received in the window: delivered/s and
//    send->delivery latency (the send time travels in the payload; both
//    ends read CLOCK_MONOTONIC on this machine); envelopes per stream
//    message; Ack and Send round trips; send->receipt latency from the
//    delivery watermarks on the senders' streams;
//  - drains: waits for everything sent to arrive and be acknowledged, so
//    the next run starts with empty queues, then ends the streams.
//
// Payloads are opaque bytes (PLAINTEXT type), not encrypted: this measures
// the relay, not libsignal.
#ifndef CARERELAY_BENCH_ASYNC_LOAD_H_
#define CARERELAY_BENCH_ASYNC_LOAD_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/device_channel.h"
#include "carerelay/v1/messages.pb.h"

namespace carerelay::bench {

enum class SendMode { kClosedLoop, kOpenLoop, kNone };
enum class AckMode { kCumulative, kStopAndWait };

struct LoadSpec {
  SendMode send_mode = SendMode::kClosedLoop;
  AckMode ack_mode = AckMode::kCumulative;
  // ReceiveRequest: 0 leaves the server's default. Stop-and-wait uses 1.
  uint32_t window_messages = 16;
  uint32_t max_envelopes_per_message = 0;
  // Closed loop: sends in flight end to end, spread over the devices.
  int in_flight = 256;
  // Open loop: envelopes offered per second (sends/s = this / envelopes
  // per send).
  double envelope_rate = 0;
  double warmup_seconds = 2;
  double seconds = 30;
  // At most this long after the window for what was sent to arrive.
  double drain_seconds = 10;
  // SendRequest.want_receipts and SendRequest.idempotency_key on each send.
  bool want_receipts = true;
  bool idempotency_keys = true;
  // Worker threads (completion queues).
  int threads = 2;
  // False: no Receive streams (a backlog fill): a closed-loop slot sends
  // again as soon as its Send is answered, and the window ends once
  // `stop_after_envelopes` envelopes were accepted (or after `seconds`).
  // SendMode::kNone (a backlog drain) has no such bound: its window ends
  // once every stream signalled queue_drained (its backlog is all
  // delivered), or after `seconds`.
  bool receive = true;
  uint64_t stop_after_envelopes = 0;
  // Open loop: the run is invalid when the generator's p99 lag behind its
  // schedule exceeds this.
  double max_lag_p99_ms = 1.0;
};

// What a run sends: per device, the request it posts (its team's readers,
// one envelope each) and, per envelope, the index of the receiving device.
struct LoadPlan {
  std::vector<v1::SendRequest> sends;
  std::vector<std::vector<int>> recipients;
};

// Called by the run on the calling thread at the edges of the measured
// window, to sample what the generator cannot see (the server's /proc, its
// syncs, the disk).
class WindowObserver {
 public:
  virtual ~WindowObserver() = default;
  virtual void OnWindowStart() = 0;
  virtual void OnWindowEnd() = 0;
};

struct Distribution {
  uint64_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
};

struct LoadResult {
  double seconds = 0;  // the measured window
  // Sends answered OK in the window, and their envelopes.
  uint64_t sends = 0;
  uint64_t envelopes_sent = 0;
  // Bench envelopes received in the window; their send->delivery times (ms).
  // A drain (SendMode::kNone) counts every envelope received instead.
  uint64_t delivered = 0;
  Distribution latency_ms;
  Distribution send_rtt_ms;
  // Delivery watermarks: watermark updates received, stream messages that
  // carried only watermarks, and send->receipt times (ms) of the envelopes
  // they covered, in the window.
  uint64_t watermarks = 0;
  uint64_t watermark_only_messages = 0;
  Distribution receipt_ms;
  uint64_t receipts_untracked = 0;  // too many pending per recipient
  // Stream messages with envelopes in the window, and Acks.
  uint64_t messages = 0;
  uint64_t message_envelopes = 0;
  uint64_t acks = 0;
  uint64_t acked_deleted = 0;  // AckResponse.deleted summed (whole run)
  Distribution ack_rtt_ms;
  // Envelopes that were not this run's: repeats of a sequence already seen
  // (at-least-once), left over from an earlier run, or not the bench's.
  uint64_t duplicates = 0;
  uint64_t stale = 0;
  uint64_t other = 0;
  // Sent in the run (warm-up included) and never received within the drain.
  uint64_t undelivered_after_drain = 0;
  int streams = 0;
  int streams_ready = 0;
  // Open loop: sends due in the window, sends started in the window, and
  // how late they started (ms behind their due time).
  uint64_t offered_sends = 0;
  uint64_t issued_sends = 0;
  Distribution lag_ms;
  double generator_cpu_seconds = 0;        // this process, in the window
  std::map<std::string, uint64_t> errors;  // by status code, in the whole run
  std::map<std::string, std::string> error_examples;
  bool valid = true;
  std::vector<std::string> invalid_reasons;

  double delivered_per_second() const { return seconds > 0 ? delivered / seconds : 0; }
  double sends_per_second() const { return seconds > 0 ? sends / seconds : 0; }
  double envelopes_per_message() const {
    return messages ? static_cast<double>(message_envelopes) / messages : 0;
  }
};

// Runs `spec` over `channels` (one per device, in the order of `plan`;
// their watermark versions are updated). INVALID_ARGUMENT for a spec that
// cannot run; errors of the relay are counted in the result, not returned.
absl::StatusOr<LoadResult> RunLoad(std::vector<DeviceChannel>& channels, const LoadPlan& plan,
                                   const LoadSpec& spec, WindowObserver* observer);

}  // namespace carerelay::bench

#endif  // CARERELAY_BENCH_ASYNC_LOAD_H_
