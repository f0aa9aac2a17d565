#include "bench/rocksdb_baseline.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

namespace carerelay::bench {

RocksBaselineResult RunRocksBaseline(const RocksBaselineSpec& spec) {
  using Clock = std::chrono::steady_clock;
  RocksBaselineResult r;
  r.seconds = spec.seconds;
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, spec.dir, &raw);
  if (!s.ok()) {
    r.error = s.ToString();
    return r;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.sync = spec.sync;
  const std::string value(spec.value_bytes, 'x');
  std::atomic<uint64_t> sequence{1};
  std::vector<uint64_t> batches(spec.writers), values(spec.writers);
  const auto t0 = Clock::now() + std::chrono::milliseconds(50);
  const auto start = t0 + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(spec.warmup_seconds));
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(spec.seconds));
  std::vector<std::thread> threads;
  for (int k = 0; k < spec.writers; ++k) {
    threads.emplace_back([&, k] {
      // The relay's queue key: account (16) | device (4) | sequence (8, BE).
      std::string key(28, '\0');
      std::mt19937_64 rng(k);
      std::this_thread::sleep_until(t0);
      while (Clock::now() < end) {
        rocksdb::WriteBatch batch;
        for (int i = 0; i < spec.values_per_batch; ++i) {
          const uint64_t a = rng(), b = rng(), q = sequence++;
          std::memcpy(key.data(), &a, 8);
          std::memcpy(key.data() + 8, &b, 8);
          for (int j = 0; j < 8; ++j) key[20 + j] = static_cast<char>(q >> (56 - 8 * j));
          batch.Put(key, value);
        }
        rocksdb::Status ws = db->Write(wo, &batch);
        const auto done = Clock::now();
        if (ws.ok() && done >= start && done < end) {
          batches[k]++;
          values[k] += spec.values_per_batch;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int k = 0; k < spec.writers; ++k) {
    r.batches += batches[k];
    r.values += values[k];
  }
  db->Close();
  return r;
}

}  // namespace carerelay::bench
