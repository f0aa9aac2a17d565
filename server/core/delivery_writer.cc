#include "server/core/delivery_writer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/core/envelope_id.h"
#include "spdlog/spdlog.h"

namespace carerelay::core {
namespace {

// Envelopes in one store write: a bound on the write's size and on the time
// the writer holds the gate's locks.
constexpr size_t kMaxEnvelopesPerBatch = 8192;

// The id and sequence fields of an Envelope, serialized: appended to a body
// serialized without them, protobuf parsing merges the two.
std::string Stamp(uint64_t sequence) {
  v1::Envelope stamp;
  stamp.set_id(EnvelopeId(sequence));
  stamp.set_sequence(sequence);
  return stamp.SerializeAsString();
}

absl::Status Stopped() {
  return absl::UnavailableError("the server is shutting down; send again after it restarts");
}

}  // namespace

DeliveryWriter::DeliveryWriter(store::Database* db, store::QueueTable* queues,
                               store::ReceiptTable* receipts, store::SendKeyTable* send_keys,
                               DeliveryHub* hub, TeamWriteGate* gate, Metrics* metrics)
    : db_(db),
      queues_(queues),
      receipts_(receipts),
      send_keys_(send_keys),
      hub_(hub),
      gate_(gate),
      metrics_(metrics),
      writer_([this] { WriterLoop(); }),
      syncer_([this] { SyncerLoop(); }),
      completer_([this] { CompleterLoop(); }) {}

DeliveryWriter::~DeliveryWriter() { Stop(); }

absl::StatusOr<v1::SendResponse> DeliveryWriter::Replay(const std::string& idempotency_row) {
  std::vector<Written> recovered;
  {
    std::lock_guard<std::mutex> lock(mu_);
    recovered = RecoverLocked();
    // After a failed sync the record may be in the store's memtable without
    // being durable: never replayed as sent (the client's retry of an
    // UNAVAILABLE send would otherwise be told OK).
    if (!failed_.ok()) return FailureLocked();
  }
  PublishRecovered(std::move(recovered));
  absl::StatusOr<v1::SendResponse> found = send_keys_->Get(idempotency_row);
  if (!found.ok()) return found.status();
  // Written but maybe not yet synced: only a durable answer is replayed here.
  std::lock_guard<std::mutex> lock(mu_);
  if (in_flight_keys_.contains(idempotency_row) || !failed_.ok()) {
    return absl::NotFoundError("in flight");
  }
  found->set_replayed(true);
  return found;
}

absl::Status DeliveryWriter::FailureLocked() const {
  // The store's state is newer: e.g. it found since that only a restart
  // brings writes back, which the first failure's message could not say.
  // Only an UNAVAILABLE one: the code the writer's callers were promised.
  absl::Status store = db_->write_state();
  return absl::IsUnavailable(store) ? store : failed_;
}

void DeliveryWriter::FailLocked(absl::Status status) {
  failed_ = std::move(status);
  // Only a failure the store knows of is resumed from (Database::RecoveredFrom).
  failed_at_ = db_->write_state().ok() ? 0 : db_->write_failures();
}

std::vector<DeliveryWriter::Written> DeliveryWriter::RecoverLocked() {
  if (failed_.ok() || !db_->RecoveredFrom(failed_at_)) return {};
  spdlog::warn("event=delivery_resumed unsynced_batches_now_durable={}", stranded_.size());
  failed_ = absl::OkStatus();
  failed_at_ = 0;
  return std::exchange(stranded_, {});
}

void DeliveryWriter::PublishRecovered(std::vector<Written> batches) {
  for (Written& b : batches) hub_->Publish(b.first, std::move(b.devices));
}

void DeliveryWriter::Send(SendWrite write) {
  absl::StatusOr<v1::SendResponse> replay = absl::NotFoundError("");
  std::vector<Written> recovered;
  bool handed_over = false;  // queued, or waiting on the first of its key
  {
    std::lock_guard<std::mutex> lock(mu_);
    recovered = RecoverLocked();
    if (stopping_ || !failed_.ok()) {
      replay = stopping_ ? Stopped() : FailureLocked();
    } else if (!write.idempotency_row.empty()) {
      auto it = in_flight_keys_.find(write.idempotency_row);
      if (it != in_flight_keys_.end()) {
        // A retry while the first is being written: it gets the same answer.
        it->second.push_back(std::move(write.done));
        handed_over = true;
      }
      // Looked up under the lock: the first send leaves in_flight_keys_ only
      // after its record is durable, so a miss here is a true miss.
      if (!handed_over) {
        replay = send_keys_->Get(write.idempotency_row);
        if (replay.ok()) {
          replay->set_replayed(true);
        } else if (absl::IsNotFound(replay.status())) {
          in_flight_keys_[write.idempotency_row];
        }
      }
    }
    if (!handed_over && absl::IsNotFound(replay.status())) {
      pending_sends_.push_back(std::move(write));
      work_cv_.notify_one();
      handed_over = true;
    }
  }
  PublishRecovered(std::move(recovered));
  if (!handed_over) write.done(replay);
}

void DeliveryWriter::Ack(AckWrite write) {
  std::vector<Written> recovered;
  absl::Status refused;
  {
    std::lock_guard<std::mutex> lock(mu_);
    recovered = RecoverLocked();
    if (!stopping_ && failed_.ok()) {
      pending_acks_.push_back(std::move(write));
      work_cv_.notify_one();
      write.done = nullptr;
    } else {
      refused = stopping_ ? Stopped() : FailureLocked();
    }
  }
  PublishRecovered(std::move(recovered));
  if (write.done) write.done(refused);
}

void DeliveryWriter::Complete(SendWrite& write, const absl::StatusOr<v1::SendResponse>& result) {
  std::vector<std::function<void(absl::StatusOr<v1::SendResponse>)>> waiting;
  if (!write.idempotency_row.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = in_flight_keys_.find(write.idempotency_row);
    if (it != in_flight_keys_.end()) {
      waiting = std::move(it->second);
      in_flight_keys_.erase(it);
    }
  }
  write.done(result);
  absl::StatusOr<v1::SendResponse> replayed = result;
  if (replayed.ok()) replayed->set_replayed(true);
  for (auto& done : waiting) done(replayed);
}

DeliveryWriter::Written DeliveryWriter::WriteBatch(std::vector<SendWrite> sends,
                                                   std::vector<AckWrite> acks) {
  Written out;
  size_t envelopes = 0;
  for (const auto& s : sends) envelopes += s.devices.size();
  // Delivery watermarks of this batch, the highest per pair.
  absl::flat_hash_map<std::pair<store::DeviceRef, store::DeviceRef>, uint64_t> moved;
  for (const auto& a : acks) {
    for (const auto& [sender, through] : a.receipts) {
      uint64_t& m = moved[{sender, a.device}];
      m = std::max(m, through);
    }
  }
  // One more number for the version of the watermarks this batch moves.
  const uint64_t numbers = envelopes + (moved.empty() ? 0 : 1);
  if (numbers > 0) {
    absl::StatusOr<uint64_t> first = hub_->Begin(numbers);
    if (!first.ok()) {
      // No sequence numbers (the allocator could not persist its ceiling):
      // nothing of this batch is written.
      for (auto& s : sends) Complete(s, first.status());
      for (auto& a : acks) a.done(first.status());
      return Written{};
    }
    out.first = *first;
  }
  absl::Status status = absl::OkStatus();

  std::vector<size_t> stripes;
  for (const auto& s : sends) {
    if (s.team_gate) stripes.push_back(s.team_gate->first);
  }
  std::sort(stripes.begin(), stripes.end());
  stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
  for (size_t stripe : stripes) gate_->ReadLock(stripe);

  store::Batch batch(db_);
  std::vector<std::pair<SendWrite, v1::SendResponse>> written;
  std::vector<SendWrite> refused;
  uint64_t seq = out.first;
  for (auto& s : sends) {
    if (s.team_gate && gate_->Version(s.team_gate->first) != s.team_gate->second) {
      refused.push_back(std::move(s));
      continue;
    }
    v1::SendResponse response = std::move(s.response);
    response.set_server_timestamp_ms(s.now_ms);
    for (size_t i = 0; i < s.devices.size(); ++i, ++seq) {
      queues_->Append(batch, s.devices[i], seq, s.bodies[i], Stamp(seq));
      if (s.positions.empty()) {
        response.add_envelope_ids(EnvelopeId(seq));
      } else {
        response.set_envelope_ids(s.positions[i], EnvelopeId(seq));
      }
      out.devices.push_back(s.devices[i]);
    }
    if (!s.idempotency_row.empty()) send_keys_->Put(batch, s.idempotency_row, response);
    written.emplace_back(std::move(s), std::move(response));
  }
  for (const auto& a : acks) {
    for (uint64_t q : a.sequences) queues_->Delete(batch, a.device, q);
  }
  const uint64_t version = out.first + numbers - 1;
  for (const auto& [pair, through] : moved) {
    if (!status.ok()) break;
    // Only this thread writes watermarks, so the read-modify-write is safe.
    absl::StatusOr<uint64_t> old = receipts_->DeliveredThrough(pair.first, pair.second);
    if (!old.ok()) {
      status = old.status();
      break;
    }
    if (through <= *old) continue;
    store::Watermark w{pair.second, through, version};
    receipts_->Put(batch, pair.first, w);
    out.watermarks.emplace_back(pair.first, w);
  }
  if (status.ok() && !batch.empty()) status = db_->Write(batch);
  for (size_t stripe : stripes) gate_->ReadUnlock(stripe);

  for (auto& s : refused) {
    Complete(s, absl::AbortedError(
                    "the team's membership or access changed while this message was being "
                    "sent; nothing was queued: send it again"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.batches;
    if (status.ok()) stats_.acks += acks.size();
  }
  for (auto& a : acks) a.done(status);
  if (!status.ok()) {
    spdlog::error("event=delivery_write_failed status=\"{}\"", status.ToString());
    {
      std::lock_guard<std::mutex> lock(mu_);
      FailLocked(absl::UnavailableError(
          absl::StrCat("the store cannot write (", status.message(), "); try again later")));
    }
    if (out.first != 0) hub_->Abandon(out.first);
    for (auto& [s, response] : written) Complete(s, failed_);
    return Written{};
  }
  out.sends = std::move(written);
  return out;
}

void DeliveryWriter::WriterLoop() {
  for (;;) {
    std::vector<SendWrite> sends;
    std::vector<AckWrite> acks;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock,
                    [&] { return stopping_ || !pending_sends_.empty() || !pending_acks_.empty(); });
      if (pending_sends_.empty() && pending_acks_.empty()) return;  // stopping, all done
      size_t envelopes = 0, taken = 0;
      while (taken < pending_sends_.size() && envelopes < kMaxEnvelopesPerBatch) {
        envelopes += pending_sends_[taken++].devices.size();
      }
      if (taken == pending_sends_.size()) {
        sends.swap(pending_sends_);
      } else {
        sends.assign(std::make_move_iterator(pending_sends_.begin()),
                     std::make_move_iterator(pending_sends_.begin() + taken));
        pending_sends_.erase(pending_sends_.begin(), pending_sends_.begin() + taken);
      }
      acks.swap(pending_acks_);
    }
    Written written = WriteBatch(std::move(sends), std::move(acks));
    if (written.first == 0 && written.sends.empty()) continue;
    std::lock_guard<std::mutex> lock(mu_);
    to_sync_.push_back(std::move(written));
    sync_cv_.notify_one();
  }
}

void DeliveryWriter::SyncerLoop() {
  for (;;) {
    std::deque<Written> batches;
    {
      std::unique_lock<std::mutex> lock(mu_);
      sync_cv_.wait(lock, [&] { return !to_sync_.empty() || writer_done_; });
      if (to_sync_.empty()) return;
      batches.swap(to_sync_);
    }
    // Everything in `batches` was written before this call: one sync covers it.
    const absl::Time sync_start = absl::Now();
    absl::Status synced = db_->SyncWal();
    if (metrics_) metrics_->ObserveSync(absl::Now() - sync_start);
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.syncs;
    if (!synced.ok()) {
      spdlog::error("event=wal_sync_failed status=\"{}\"", synced.ToString());
      FailLocked(absl::UnavailableError(
          absl::StrCat("the store cannot sync (", synced.message(), "); try again later")));
      // Written but not durable: never answered as sent, and not delivered
      // (the numbers stay pending, so the hub's watermark stops below them)
      // unless the store resumes, which makes them durable (RecoverLocked).
      for (Written& b : batches) {
        if (b.first != 0) {
          Written kept;
          kept.first = b.first;
          kept.devices = std::move(b.devices);
          stranded_.push_back(std::move(kept));
        }
        b.first = 0;
        b.devices.clear();
        b.watermarks.clear();
      }
    }
    for (Written& b : batches) to_complete_.push_back(std::move(b));
    complete_cv_.notify_one();
  }
}

void DeliveryWriter::CompleterLoop() {
  for (;;) {
    std::deque<Written> batches;
    absl::Status failed;
    {
      std::unique_lock<std::mutex> lock(mu_);
      complete_cv_.wait(lock, [&] { return !to_complete_.empty() || syncer_done_; });
      if (to_complete_.empty()) return;
      batches.swap(to_complete_);
      failed = failed_;
    }
    uint64_t sends = 0, envelopes = 0;
    for (Written& b : batches) {
      envelopes += b.devices.size();
      if (b.first != 0) hub_->Publish(b.first, std::move(b.devices));
      for (auto& [s, response] : b.sends) {
        if (b.first != 0) {
          Complete(s, response);
          ++sends;
        } else {
          Complete(s, failed);
        }
      }
      for (auto& [sender, watermark] : b.watermarks) hub_->PushWatermark(sender, watermark);
    }
    std::lock_guard<std::mutex> lock(mu_);
    stats_.sends += sends;
    stats_.envelopes += envelopes;
  }
}

DeliveryWriter::Stats DeliveryWriter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void DeliveryWriter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (writer_done_) return;
    stopping_ = true;
    work_cv_.notify_all();
  }
  // The writer writes what is pending, then the syncer syncs it: stopping
  // loses no accepted send.
  std::lock_guard<std::mutex> stop(stop_mu_);
  if (!writer_.joinable()) return;
  writer_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    writer_done_ = true;
    sync_cv_.notify_all();
  }
  syncer_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    syncer_done_ = true;
    complete_cv_.notify_all();
  }
  completer_.join();
}

}  // namespace carerelay::core
