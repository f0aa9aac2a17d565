// carerelay-store-bench: micro-benchmarks of the store under the relay
// (server/store), with Google Benchmark:
//  - the v2 write path (issue 14): one blind batch of N queue appends, as
//    the delivery writer writes all pending sends at once, then one WAL
//    sync for the whole batch (sync on); and a cumulative acknowledgement
//    as blind deletes of the K envelopes it covers, written unsynced;
//  - the transactional paths they replaced, kept for comparison: one
//    envelope per synced transaction (from 1 and several threads: RocksDB's
//    group commit), and an acknowledgement that locks, reads and deletes
//    one envelope;
//  - queue reads (as a receive stream reads, 64 at a time), a full scan of
//    one device's queue, and the encoding of an envelope.
//
//   carerelay-store-bench                          # everything
//   carerelay-store-bench --benchmark_filter=Batch
//
// Each store lives in a temporary directory, removed at exit.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "carerelay/v1/messages.pb.h"
#include "server/store/account_table.h"
#include "server/store/database.h"
#include "server/store/ids.h"
#include "server/store/queue_table.h"

namespace carerelay::store {
namespace {

std::string TempPath() {
  const char* base = getenv("TMPDIR");
  std::string pattern =
      std::string(base && *base ? base : "/tmp") + "/carerelay-store-bench-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) abort();
  return buf.data();
}

// One store per sync mode, shared by every benchmark and thread, opened on
// first use and removed at exit.
struct Store {
  std::string dir;
  std::unique_ptr<Database> db;
  std::unique_ptr<QueueTable> queues;
  std::unique_ptr<SequenceAllocator> sequences;

  explicit Store(bool sync) : dir(TempPath()) {
    DatabaseOptions options;
    options.sync = sync;
    auto opened = Database::Open(dir, options);
    if (!opened.ok()) abort();
    db = *std::move(opened);
    queues = std::make_unique<QueueTable>(db.get());
    auto seq = SequenceAllocator::Open(db.get());
    if (!seq.ok()) abort();
    sequences = *std::move(seq);
  }
  ~Store() {
    queues.reset();
    sequences.reset();
    if (db) db->Close().IgnoreError();
    db.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

absl::Mutex stores_mu;
std::unique_ptr<Store> stores[2] ABSL_GUARDED_BY(stores_mu);

Store& GetStore(bool sync) {
  absl::MutexLock lock(&stores_mu);
  if (!stores[sync]) stores[sync] = std::make_unique<Store>(sync);
  return *stores[sync];
}

// A fresh device per call, so benchmarks do not read each other's queues.
DeviceRef NewDevice() {
  static std::atomic<uint32_t> next{1};
  return DeviceRef{AccountId::Random(), next++};
}

v1::Envelope MakeEnvelope(size_t bytes, uint64_t sequence) {
  static const std::string content = [] {
    std::string s(256 * 1024, '\0');
    std::mt19937_64 rng(42);
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  }();
  v1::Envelope e;
  e.set_id(absl::StrFormat("%016x", sequence));
  e.set_sequence(sequence);
  e.set_type(v1::ENVELOPE_TYPE_CIPHERTEXT);
  e.mutable_sender()->set_account_id(std::string(32, 'a'));
  e.mutable_sender()->set_device_id(1);
  e.set_destination_device_id(2);
  e.set_server_timestamp_ms(1767225600000);
  e.set_expires_at_ms(1767225600000 + 30LL * 86400 * 1000);
  e.set_content(content.substr(0, bytes));
  return e;
}

// One envelope per transaction, as v1's Relay::Send committed a one-device
// send (control-plane changes still commit this way). Args: envelope bytes,
// sync (0/1). With ->Threads(n), n writers share the store and their
// commits are grouped by RocksDB.
void BM_QueueAppend(benchmark::State& state) {
  const size_t bytes = state.range(0);
  Store& store = GetStore(state.range(1) != 0);
  const DeviceRef device = NewDevice();
  v1::Envelope e = MakeEnvelope(bytes, 1);
  for (auto _ : state) {
    auto seq = store.sequences->Allocate(1);
    if (!seq.ok()) {
      state.SkipWithError("allocate failed");
      break;
    }
    e.set_sequence(*seq);
    auto txn = store.db->Begin();
    absl::Status s = store.queues->Append(*txn, device, e);
    if (s.ok()) s = txn->Commit();
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_QueueAppend)
    ->ArgNames({"bytes", "sync"})
    ->Args({256, 0})
    ->Args({4096, 0})
    ->Args({256, 1})
    ->Args({4096, 1})
    ->UseRealTime();
BENCHMARK(BM_QueueAppend)
    ->Name("BM_QueueAppend_concurrent")
    ->ArgNames({"bytes", "sync"})
    ->Args({256, 1})
    ->Args({256, 0})
    ->Threads(1)
    ->Threads(4)
    ->Threads(16)
    ->UseRealTime();

// The delivery writer's write (server/core/delivery_writer.h): N queue
// appends in one blind batch (no transaction, no lock, no read; bodies
// serialized before, the writer only stamps id and sequence), one write,
// then one WAL sync covering it. Args: envelopes per batch, sync (0/1).
// Items are envelopes: with sync on, N envelopes share one fdatasync.
void BM_WriterBatch(benchmark::State& state) {
  const int per_batch = static_cast<int>(state.range(0));
  const bool sync = state.range(1) != 0;
  Store& store = GetStore(sync);
  std::vector<DeviceRef> devices;
  for (int i = 0; i < per_batch; ++i) devices.push_back(NewDevice());
  v1::Envelope body = MakeEnvelope(256, 1);
  body.clear_id();
  body.clear_sequence();
  const std::string body_bytes = body.SerializeAsString();
  for (auto _ : state) {
    auto first = store.sequences->Allocate(per_batch);
    if (!first.ok()) {
      state.SkipWithError("allocate failed");
      break;
    }
    Batch batch(store.db.get());
    for (int i = 0; i < per_batch; ++i) {
      v1::Envelope stamp;
      stamp.set_id(absl::StrFormat("%016x", *first + i));
      stamp.set_sequence(*first + i);
      store.queues->Append(batch, devices[i], *first + i, body_bytes, stamp.SerializeAsString());
    }
    absl::Status s = store.db->Write(batch);
    if (s.ok() && sync) s = store.db->SyncWal();
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * per_batch);
}
BENCHMARK(BM_WriterBatch)
    ->ArgNames({"envelopes", "sync"})
    ->Args({1, 0})
    ->Args({16, 0})
    ->Args({64, 0})
    ->Args({1, 1})
    ->Args({16, 1})
    ->Args({64, 1})
    ->Args({256, 1})
    ->UseRealTime();

// A cumulative acknowledgement as the delivery writer applies it: blind
// deletes of the K envelopes it covers (the stream knows their sequences:
// no read-back), one unsynced write. Arg: K. Items are envelopes.
void BM_AckDeleteBatch(benchmark::State& state) {
  const int per_ack = static_cast<int>(state.range(0));
  Store& store = GetStore(true);
  constexpr int kQueued = 8192;
  DeviceRef device;
  std::vector<uint64_t> sequences;
  size_t next = kQueued;
  for (auto _ : state) {
    if (next + per_ack > sequences.size()) {
      state.PauseTiming();
      device = NewDevice();
      sequences.clear();
      auto txn = store.db->Begin();
      for (int i = 0; i < kQueued; ++i) {
        auto seq = store.sequences->Allocate(1);
        if (!seq.ok() || !store.queues->Append(*txn, device, MakeEnvelope(256, *seq)).ok()) {
          abort();
        }
        sequences.push_back(*seq);
      }
      if (!txn->Commit().ok()) abort();
      next = 0;
      state.ResumeTiming();
    }
    Batch batch(store.db.get());
    for (int i = 0; i < per_ack; ++i) store.queues->Delete(batch, device, sequences[next++]);
    absl::Status s = store.db->Write(batch);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * per_ack);
}
BENCHMARK(BM_AckDeleteBatch)->ArgName("envelopes")->Arg(1)->Arg(16)->Arg(64)->UseRealTime();

// A device holding `n` envelopes of `bytes` in the sync-off store, filled
// once and reused (Google Benchmark calls a benchmark several times).
DeviceRef Filled(size_t n, size_t bytes) {
  static absl::Mutex mu;
  static auto* filled = new std::map<std::pair<size_t, size_t>, DeviceRef>();
  absl::MutexLock lock(&mu);
  auto it = filled->find({n, bytes});
  if (it != filled->end()) return it->second;
  Store& store = GetStore(false);
  DeviceRef device = NewDevice();
  auto txn = store.db->Begin();
  for (size_t i = 0; i < n; ++i) {
    auto seq = store.sequences->Allocate(1);
    if (!seq.ok() || !store.queues->Append(*txn, device, MakeEnvelope(bytes, *seq)).ok()) abort();
    if (i % 1000 == 999) {
      if (!txn->Commit().ok()) abort();
      txn = store.db->Begin();
    }
  }
  if (!txn->Commit().ok()) abort();
  filled->emplace(std::make_pair(n, bytes), device);
  return device;
}

// A receive stream's read: the next 64 envelopes after a cursor. Arg:
// envelopes queued.
void BM_QueueRead64(benchmark::State& state) {
  Store& store = GetStore(false);
  const size_t queued = state.range(0);
  const DeviceRef device = Filled(queued, 256);
  std::vector<v1::Envelope> out;
  uint64_t after = 0;
  for (auto _ : state) {
    out.clear();
    absl::Status s = store.queues->Read(device, after, 64, 0, &out);
    if (!s.ok() || out.empty()) {
      state.SkipWithError("read failed");
      break;
    }
    // Walk the queue, wrapping around, as successive stream batches do.
    after = out.size() == 64 ? out.back().sequence() : 0;
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_QueueRead64)->ArgName("queued")->Arg(1000)->Arg(100000);

// A whole device queue through Database::Scan (e.g. counting its depth).
void BM_QueueScan(benchmark::State& state) {
  Store& store = GetStore(false);
  const size_t queued = state.range(0);
  const DeviceRef device = Filled(queued, 256);
  for (auto _ : state) {
    auto n = store.db->CountPrefix(Table::kQueue, DeviceKey(device));
    if (!n.ok() || *n != queued) {
      state.SkipWithError("scan failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * queued);
}
BENCHMARK(BM_QueueScan)->ArgName("queued")->Arg(1000)->Arg(10000);

// v1's acknowledgement, for comparison with BM_AckDeleteBatch: lock, read
// and delete one envelope, in one transaction. Arg: sync.
void BM_QueueAckDelete(benchmark::State& state) {
  Store& store = GetStore(state.range(0) != 0);
  constexpr size_t kBatch = 10000;
  DeviceRef device;
  std::vector<uint64_t> sequences;
  size_t next = kBatch;
  for (auto _ : state) {
    if (next == kBatch) {
      state.PauseTiming();
      device = NewDevice();
      sequences.clear();
      auto txn = store.db->Begin();
      for (size_t i = 0; i < kBatch; ++i) {
        auto seq = store.sequences->Allocate(1);
        if (!seq.ok() || !store.queues->Append(*txn, device, MakeEnvelope(256, *seq)).ok()) {
          abort();
        }
        sequences.push_back(*seq);
      }
      if (!txn->Commit().ok()) abort();
      next = 0;
      state.ResumeTiming();
    }
    auto txn = store.db->Begin();
    auto e = store.queues->GetForUpdate(*txn, device, sequences[next++]);
    absl::Status s = e.ok() ? store.queues->Delete(*txn, device, e->sequence()) : e.status();
    if (s.ok()) s = txn->Commit();
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_QueueAckDelete)->ArgName("sync")->Arg(0)->Arg(1)->UseRealTime();

// The queue record's value: carerelay.v1.Envelope, serialized. Arg: bytes.
void BM_EnvelopeEncode(benchmark::State& state) {
  v1::Envelope e = MakeEnvelope(state.range(0), 123456789);
  std::string out;
  for (auto _ : state) {
    out.clear();
    e.SerializeToString(&out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * out.size());
}
BENCHMARK(BM_EnvelopeEncode)->ArgName("bytes")->Arg(256)->Arg(4096)->Arg(65536);

void BM_EnvelopeDecode(benchmark::State& state) {
  const std::string bytes = MakeEnvelope(state.range(0), 123456789).SerializeAsString();
  v1::Envelope e;
  for (auto _ : state) {
    if (!e.ParseFromString(bytes)) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(e.content().data());
  }
  state.SetBytesProcessed(state.iterations() * bytes.size());
}
BENCHMARK(BM_EnvelopeDecode)->ArgName("bytes")->Arg(256)->Arg(4096)->Arg(65536);

}  // namespace

// Closes and removes the stores (BENCHMARK_MAIN has no hook for it).
void CloseStores() {
  absl::MutexLock lock(&stores_mu);
  for (auto& s : stores) s.reset();
}

}  // namespace carerelay::store

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  carerelay::store::CloseStores();
  return 0;
}
