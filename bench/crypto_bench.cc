// Micro-benchmarks of the end-to-end encryption layer: pairwise encrypt and
// decrypt, session setup, group encrypt and decrypt, at 256 B, 4 KiB and
// 64 KiB plaintexts.
//
// Every operation goes through the real stack: libsignal with the OpenSSL
// provider, and a passphrase-encrypted RocksDB profile per device (each
// message loads and stores the sealed session or sender key record).
// Profiles are opened with sync_writes off, so the figures are CPU cost; the
// *Durable variant shows what a synced WAL write per message adds.
//
//   crypto_bench --benchmark_min_time=0.5

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "bench/bench_support.h"
#include "crypto/group_manager.h"
#include "crypto/key_manager.h"
#include "crypto/profile_store.h"
#include "crypto/session_manager.h"

namespace carerelay::crypto {
namespace {

constexpr char kGroup[] = "bench-team:CARE";

// Benchmarks cannot fail softly: a broken setup is reported and ends the run.
using ::carerelay::bench::Check;

struct Device {
  Device(const std::string& directory, Address self, bool sync_writes) : address(std::move(self)) {
    ProfileOptions options;
    options.passphrase = "benchmark passphrase";
    options.sync_writes = sync_writes;
    store = Check(ProfileStore::Open(directory, options), "open profile");
    keys = std::make_unique<KeyManager>(store.get());
    sessions = std::make_unique<SessionManager>(store.get());
    groups = std::make_unique<GroupManager>(store.get(), address);
    Check(keys->RotateSignedPreKey(absl::Now()), "signed prekey");
  }

  PreKeyBundle Bundle() {
    PublicSignedPreKey signed_prekey = Check(keys->CurrentSignedPreKey(), "signed prekey");
    PreKeyBundle bundle;
    bundle.registration_id = store->local_identity().registration_id;
    bundle.device_id = address.device_id;
    bundle.identity_key = store->local_identity().identity_key;
    bundle.signed_prekey_id = signed_prekey.key_id;
    bundle.signed_prekey = signed_prekey.public_key;
    bundle.signed_prekey_signature = signed_prekey.signature;
    bundle.one_time_prekey = Check(keys->GenerateOneTimePreKeys(1), "prekey").front();
    return bundle;
  }

  Address address;
  std::unique_ptr<ProfileStore> store;
  std::unique_ptr<KeyManager> keys;
  std::unique_ptr<SessionManager> sessions;
  std::unique_ptr<GroupManager> groups;
};

// Alice and Bob with an established session and each other's sender keys,
// built once per process (opening a profile runs scrypt).
class World {
 public:
  static World& Get(bool durable = false) {
    std::unique_ptr<World>& world = Instances()[durable ? 1 : 0];
    if (!world) world = std::make_unique<World>(durable);
    return *world;
  }
  // Closes the profiles and removes their directory.
  static void DestroyAll() {
    for (int i = 0; i < 2; ++i) Instances()[i].reset();
  }

  explicit World(bool durable) {
    char pattern[] = "/tmp/carerelay-crypto-bench-XXXXXX";
    const char* made = mkdtemp(pattern);
    if (made == nullptr) std::abort();
    dir_ = made;
    alice = std::make_unique<Device>(dir_ + "/alice", Address{std::string(32, 'a'), 1}, durable);
    bob = std::make_unique<Device>(dir_ + "/bob", Address{std::string(32, 'b'), 1}, durable);
    Establish();
    NewSenderKey();
  }

  ~World() {
    alice.reset();
    bob.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A fresh session: Alice processes a new bundle of Bob's, Bob decrypts her
  // PreKey message and answers, so that both sides send SignalMessages. Also
  // what decrypt benchmarks start from, for the same reason as NewSenderKey.
  void Establish() {
    Check(alice->sessions->ProcessPreKeyBundle(bob->address, bob->Bundle()), "bundle");
    EncryptedMessage hello = Check(alice->sessions->Encrypt(bob->address, "hello"), "encrypt");
    Check(bob->sessions->Decrypt(alice->address, hello.type, hello.ciphertext), "decrypt");
    EncryptedMessage ack = Check(bob->sessions->Encrypt(alice->address, "ack"), "encrypt");
    Check(alice->sessions->Decrypt(bob->address, ack.type, ack.ciphertext), "decrypt");
  }

  // Alice rotates her sender key and Bob gets it. Receivers refuse messages
  // more than 2000 steps ahead of their chain, which an encrypt-only
  // benchmark leaves behind; decrypt benchmarks start from here.
  void NewSenderKey() {
    const std::string distribution = Check(alice->groups->RotateSenderKey(kGroup), "sender key");
    Check(bob->groups->ProcessDistributionMessage(kGroup, alice->address, distribution), "process");
  }

  std::unique_ptr<Device> alice;
  std::unique_ptr<Device> bob;

 private:
  static std::unique_ptr<World>* Instances() {
    static std::unique_ptr<World> instances[2];
    return instances;
  }

  std::string dir_;
};

std::string Plaintext(int64_t size) { return std::string(static_cast<size_t>(size), 'p'); }

void BM_PairwiseEncrypt(benchmark::State& state) {
  World& world = World::Get();
  const std::string plaintext = Plaintext(state.range(0));
  for (auto _ : state) {
    EncryptedMessage message =
        Check(world.alice->sessions->Encrypt(world.bob->address, plaintext), "encrypt");
    benchmark::DoNotOptimize(message);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_PairwiseEncryptDurable(benchmark::State& state) {
  World& world = World::Get(/*durable=*/true);
  const std::string plaintext = Plaintext(state.range(0));
  for (auto _ : state) {
    EncryptedMessage message =
        Check(world.alice->sessions->Encrypt(world.bob->address, plaintext), "encrypt");
    benchmark::DoNotOptimize(message);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_PairwiseDecrypt(benchmark::State& state) {
  World& world = World::Get();
  world.Establish();
  const std::string plaintext = Plaintext(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    EncryptedMessage message =
        Check(world.alice->sessions->Encrypt(world.bob->address, plaintext), "encrypt");
    state.ResumeTiming();
    std::string decrypted =
        Check(world.bob->sessions->Decrypt(world.alice->address, message.type, message.ciphertext),
              "decrypt");
    benchmark::DoNotOptimize(decrypted);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

// X3DH: process a bundle, encrypt the first (PreKey) message, decrypt it on
// the other side (which consumes the one-time prekey).
void BM_SessionSetup(benchmark::State& state) {
  World& world = World::Get();
  const std::string plaintext = Plaintext(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    PreKeyBundle bundle = world.bob->Bundle();
    Check(world.alice->sessions->DeleteSession(world.bob->address), "reset");
    Check(world.bob->sessions->DeleteSession(world.alice->address), "reset");
    state.ResumeTiming();
    Check(world.alice->sessions->ProcessPreKeyBundle(world.bob->address, bundle), "bundle");
    EncryptedMessage first =
        Check(world.alice->sessions->Encrypt(world.bob->address, plaintext), "encrypt");
    std::string decrypted =
        Check(world.bob->sessions->Decrypt(world.alice->address, first.type, first.ciphertext),
              "decrypt");
    benchmark::DoNotOptimize(decrypted);
  }
}

void BM_GroupEncrypt(benchmark::State& state) {
  World& world = World::Get();
  const std::string plaintext = Plaintext(state.range(0));
  for (auto _ : state) {
    std::string ciphertext = Check(world.alice->groups->Encrypt(kGroup, plaintext), "encrypt");
    benchmark::DoNotOptimize(ciphertext);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_GroupDecrypt(benchmark::State& state) {
  World& world = World::Get();
  world.NewSenderKey();
  const std::string plaintext = Plaintext(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    std::string ciphertext = Check(world.alice->groups->Encrypt(kGroup, plaintext), "encrypt");
    state.ResumeTiming();
    std::string decrypted =
        Check(world.bob->groups->Decrypt(kGroup, world.alice->address, ciphertext), "decrypt");
    benchmark::DoNotOptimize(decrypted);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

#define CARERELAY_SIZES Arg(256)->Arg(4 << 10)->Arg(64 << 10)
BENCHMARK(BM_PairwiseEncrypt)->CARERELAY_SIZES;
BENCHMARK(BM_PairwiseDecrypt)->CARERELAY_SIZES;
BENCHMARK(BM_SessionSetup)->CARERELAY_SIZES;
BENCHMARK(BM_GroupEncrypt)->CARERELAY_SIZES;
BENCHMARK(BM_GroupDecrypt)->CARERELAY_SIZES;
BENCHMARK(BM_PairwiseEncryptDurable)->Arg(4 << 10);

}  // namespace
}  // namespace carerelay::crypto

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  carerelay::crypto::World::DestroyAll();
  return 0;
}
