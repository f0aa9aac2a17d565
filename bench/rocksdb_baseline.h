// rocksdb_baseline: the storage ceiling beside the relay, in the same
// sitting: raw RocksDB WriteBatches of a send's shape (one value per
// recipient device, of the size the relay stores for an envelope), from
// `writers` threads that RocksDB groups into shared writes, synced as the
// relay's sends are. Measured in the generator's process (it has no server
// to talk to).
#ifndef CARERELAY_BENCH_ROCKSDB_BASELINE_H_
#define CARERELAY_BENCH_ROCKSDB_BASELINE_H_

#include <cstdint>
#include <string>

namespace carerelay::bench {

struct RocksBaselineSpec {
  std::string dir;  // created, then removed by the caller
  bool sync = true;
  int writers = 16;
  int values_per_batch = 3;
  size_t value_bytes = 400;
  double warmup_seconds = 1;
  double seconds = 5;
};

struct RocksBaselineResult {
  double seconds = 0;
  uint64_t batches = 0, values = 0;
  std::string error;
  double batches_per_second() const { return seconds > 0 ? batches / seconds : 0; }
  double values_per_second() const { return seconds > 0 ? values / seconds : 0; }
};

RocksBaselineResult RunRocksBaseline(const RocksBaselineSpec& spec);

}  // namespace carerelay::bench

#endif  // CARERELAY_BENCH_ROCKSDB_BASELINE_H_
