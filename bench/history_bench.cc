// Micro-benchmarks of what a device keeps (client/history.h): keeping one
// received entry, and reading a team's history back (all of it, a search,
// the last 20 for the chat), at 1,000 and 10,000 entries, in a
// passphrase-encrypted profile (every entry sealed with AES-256-GCM).
// History has no word index (its keys would be the words, in clear), so a
// search reads and opens every entry of the team: this says what that
// costs.
//
//   history_bench --benchmark_min_time=0.5

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/bench_support.h"
#include "client/history.h"
#include "crypto/profile_store.h"

namespace carerelay::client {
namespace {

using ::carerelay::bench::Check;

constexpr char kTeam[] = "5f0c1a2b5f0c1a2b5f0c1a2b5f0c1a2b";

v1::HistoryEntry Entry(int i) {
  v1::HistoryEntry e;
  e.set_team_id(kTeam);
  e.set_channel(1 + i % 3);
  e.set_sender_account_id(std::string(32, 'a' + i % 5));
  e.set_sender_device_id(1);
  e.set_sender_name(i % 2 ? "Dr Luc Martin" : "Anne Peeters");
  e.set_sender_role(3);
  e.set_received_at_ms(1767225600000 + i * 60000);
  v1::Content* c = e.mutable_content();
  c->set_message_id(absl::StrCat("m", i, std::string(24, '0')));
  c->set_sent_at_ms(1767225600000 + i * 60000);
  // A typical care message: a line or two.
  c->mutable_text()->set_body(absl::StrCat("Passage ", i, " : tension 135/85, pansement refait, ",
                                           i % 97 == 0 ? "décès du conjoint signalé" : "RAS"));
  return e;
}

// A profile holding `entries` entries of one team, made once per size.
class World {
 public:
  static World& Get(int entries) {
    auto& w = Worlds()[entries];
    if (!w) w = std::make_unique<World>(entries);
    return *w;
  }
  // Closes the profiles and removes their directories (before exit: a
  // profile closed by a static destructor outlives what RocksDB needs).
  static void DestroyAll() { Worlds().clear(); }
  explicit World(int entries) {
    char pattern[] = "/tmp/carerelay-history-bench-XXXXXX";
    const char* made = mkdtemp(pattern);
    if (made == nullptr) std::abort();
    dir_ = made;
    crypto::ProfileOptions options;
    options.passphrase = "benchmark passphrase";
    options.sync_writes = false;
    profile = Check(crypto::ProfileStore::Open(dir_ + "/profile", options), "open profile");
    history = std::make_unique<History>(profile.get());
    for (int i = 0; i < entries; ++i) Check(history->Keep(Entry(i)), "keep");
  }
  ~World() {
    history.reset();
    profile.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::unique_ptr<crypto::ProfileStore> profile;
  std::unique_ptr<History> history;

 private:
  static std::map<int, std::unique_ptr<World>>& Worlds() {
    static std::map<int, std::unique_ptr<World>> worlds;
    return worlds;
  }
  std::string dir_;
};

void BM_KeepOneEntry(benchmark::State& state) {
  // A world of its own: what it keeps would grow the others.
  World& w = World::Get(0);
  int i = 1000000;
  for (auto _ : state) Check(w.history->Keep(Entry(i++)), "keep");
}
BENCHMARK(BM_KeepOneEntry);

void BM_ListWholeTeam(benchmark::State& state) {
  World& w = World::Get(static_cast<int>(state.range(0)));
  HistoryQuery q;
  q.team_id = kTeam;
  for (auto _ : state) benchmark::DoNotOptimize(Check(w.history->List(q), "list").size());
}
BENCHMARK(BM_ListWholeTeam)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_SearchTeam(benchmark::State& state) {
  World& w = World::Get(static_cast<int>(state.range(0)));
  HistoryQuery q;
  q.team_id = kTeam;
  q.search = "deces conjoint";
  for (auto _ : state) benchmark::DoNotOptimize(Check(w.history->List(q), "search").size());
}
BENCHMARK(BM_SearchTeam)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_LastTwentyForTheChat(benchmark::State& state) {
  World& w = World::Get(static_cast<int>(state.range(0)));
  HistoryQuery q;
  q.team_id = kTeam;
  q.limit = 20;
  for (auto _ : state) benchmark::DoNotOptimize(Check(w.history->List(q), "last 20").size());
}
BENCHMARK(BM_LastTwentyForTheChat)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace carerelay::client

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  carerelay::client::World::DestroyAll();
  benchmark::Shutdown();
  return 0;
}
