// carerelay-transfer-bench: documents through a real carerelayd (in this
// process, TLS on loopback, synced RocksDB in a temporary directory), with
// the baselines measured in the same run.
//
// For each store layout (--store chunked|blob|both) and each of --repeat
// runs, one document of --size-mib:
//   encrypt    crypto::EncryptFile (fresh key, AES-256-GCM per 64 KiB chunk,
//              SHA-256 of the ciphertext, file read + written + synced)
//   upload     CreateUpload + the Upload stream of the ciphertext file, until
//              the relay has checked its digest (client and server on the
//              same 2 cores)
//   download   the Download stream into a file, by another team member
//   decrypt    crypto::DecryptFile (every chunk and the digest checked, the
//              temporary file synced and renamed)
//   erase      erasing the team: its attachment deleted and purged from the
//              store's files (flush + range compaction)
// and beside them, in memory on the same bytes: OpenSSL's raw AES-256-GCM
// seal over 64 KiB chunks, and SHA-256 — the ceiling of the client's cipher.
//
// Store layouts: "chunked" keeps 64 KiB blocks in RocksDB's sorted tables;
// "blob" keeps them in its integrated blob files (enable_blob_files). The
// report gives, per layout, the bytes this process wrote to disk during the
// upload over the ciphertext size (write amplification: WAL, flushes,
// compactions), the data directory's size after the upload and after the
// erase.
//
// Output: a table, or --json. Exit codes: 0 ok, 1 a step failed, 2 bad usage.
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_relay.h"
#include "bench/bench_support.h"
#include "client/relay_client.h"
#include "crypto/attachment_cipher.h"
#include "crypto/openssl_ptr.h"
#include "server/server.h"

namespace carerelay::bench {
namespace {

namespace fs = std::filesystem;

struct Options {
  int size_mib = 64;
  int repeat = 3;
  std::string store = "both";
  bool sync = true;
  std::string tls_dir;
  std::string tls_script = CARERELAY_SOURCE_DIR "/deploy/make-dev-tls.sh";
  bool json = false;
};

[[noreturn]] void Die(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "carerelay-transfer-bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}
template <typename T>
T Must(absl::StatusOr<T> v, const std::string& what) {
  if (!v.ok()) Die(what, v.status());
  return *std::move(v);
}
void Must(const absl::Status& s, const std::string& what) {
  if (!s.ok()) Die(what, s);
}

double Seconds(absl::Time start) { return absl::ToDoubleSeconds(absl::Now() - start); }
double MBps(uint64_t bytes, double seconds) { return seconds > 0 ? bytes / 1e6 / seconds : 0; }

// Bytes this process has caused to be written to storage (/proc/self/io).
uint64_t WrittenBytes() {
  std::ifstream in("/proc/self/io");
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return 0;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  }
  return total;
}

// OpenSSL's AES-256-GCM alone over `data` in 64 KiB chunks, and SHA-256
// alone: MB/s of plaintext.
std::pair<double, double> RawCeilings(const std::string& data) {
  namespace a = crypto::attachment;
  crypto::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  unsigned char key[32] = {1}, nonce[12] = {0}, tag[16];
  std::string out(a::kChunkSize, '\0');
  const absl::Time start = absl::Now();
  for (size_t at = 0; at < data.size(); at += a::kChunkSize) {
    const size_t n = std::min(a::kChunkSize, data.size() - at);
    nonce[11] = static_cast<unsigned char>(at / a::kChunkSize);
    int len = 0;
    EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key, nonce);
    EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                      reinterpret_cast<const unsigned char*>(data.data() + at),
                      static_cast<int>(n));
    EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len);
    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, tag);
  }
  const double aes = MBps(data.size(), Seconds(start));
  const absl::Time sha_start = absl::Now();
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return {aes, MBps(data.size(), Seconds(sha_start))};
}

struct Run {
  double encrypt = 0, upload = 0, download = 0, decrypt = 0, raw_aes = 0, raw_sha = 0;
  double erase_seconds = 0;
  double write_amplification = 0;
  uint64_t dir_after_upload = 0, dir_after_erase = 0;
};

Run OneRun(const Options& o, const std::string& tls, bool blobs, int index) {
  TempDir scratch("carerelay-transfer-bench", 1);
  ServerConfig config = BenchServerConfig("127.0.0.1:0", scratch.path() + "/data", tls, o.sync);
  config.attachment_blob_files = blobs;
  config.limits.max_attachment_bytes = uint64_t{2} << 30;
  auto server = Must(Server::Start(config), "start the server");

  client::ConnectionOptions connection;
  connection.target = absl::StrCat("localhost:", server->port());
  connection.ca_file = tls + "/ca.crt";
  auto device = [&](const std::string& name) {
    auto code = Must(IssueEnrollmentCode(server.get(), "", name, absl::Hours(1)), "enroll");
    auto request = Must(MakeRegisterRequest(scratch.path() + "/keys-" + name), "keys");
    auto credentials = Must(RegisterWithCode(connection, request, code), "register");
    auto client = Must(client::RelayClient::Create(connection), "client");
    client->SetCredentials(credentials);
    return std::make_pair(std::move(client), credentials.account_id);
  };
  auto [sender, sender_id] = device("sender");
  auto [reader, reader_id] = device("reader");
  const v1::Team team = Must(sender->CreateTeam(v1::ROLE_COORDINATOR), "create team");
  v1::RecordConsentRequest consent;
  consent.set_team_id(team.team_id());
  consent.set_given_by(v1::CONSENT_GIVER_PATIENT);
  consent.set_method(v1::CONSENT_METHOD_WRITTEN);
  Must(sender->RecordConsent(consent).status(), "consent");
  Must(sender->Invite(team.team_id(), reader_id, v1::ROLE_PROFESSIONAL).status(), "invite");
  Must(reader->RespondToInvitation(team.team_id(), true).status(), "accept");

  // The document: random bytes (incompressible, like a scan).
  const uint64_t size = static_cast<uint64_t>(o.size_mib) << 20;
  std::string plaintext(size, '\0');
  std::mt19937_64 rng(static_cast<uint64_t>(index) + 1);
  for (size_t i = 0; i + 8 <= plaintext.size(); i += 8) {
    const uint64_t r = rng();
    std::memcpy(plaintext.data() + i, &r, 8);
  }
  const std::string plain_path = scratch.path() + "/document.bin";
  const std::string cipher_path = scratch.path() + "/document.enc";
  std::ofstream(plain_path, std::ios::binary) << plaintext;

  Run r;
  std::tie(r.raw_aes, r.raw_sha) = RawCeilings(plaintext);
  plaintext.clear();
  plaintext.shrink_to_fit();

  absl::Time start = absl::Now();
  auto secrets = Must(crypto::EncryptFile(plain_path, cipher_path), "encrypt");
  r.encrypt = MBps(size, Seconds(start));

  const uint64_t written_before = WrittenBytes();
  start = absl::Now();
  auto info = Must(sender->CreateUpload(team.team_id(), v1::CHANNEL_CLINICAL,
                                        secrets.ciphertext_size, secrets.digest),
                   "create upload");
  std::ifstream in(cipher_path, std::ios::binary);
  std::string piece;
  auto uploaded =
      Must(sender->Upload(info.attachment_id(), 0,
                          [&]() -> absl::StatusOr<std::string> {
                            piece.resize(256 * 1024);
                            in.read(piece.data(), static_cast<std::streamsize>(piece.size()));
                            piece.resize(static_cast<size_t>(in.gcount()));
                            return piece;
                          }),
           "upload");
  r.upload = MBps(secrets.ciphertext_size, Seconds(start));
  if (uploaded.state() != v1::UPLOAD_STATE_COMPLETE) Die("upload", absl::DataLossError("partial"));
  // What the store wrote for it (the encrypted copy was written before).
  Must(server->database().Flush(), "flush");
  r.write_amplification =
      static_cast<double>(WrittenBytes() - written_before) / secrets.ciphertext_size;
  r.dir_after_upload = DirBytes(config.data_dir);

  const std::string fetched = scratch.path() + "/fetched.enc";
  start = absl::Now();
  {
    const int fd = ::open(fetched.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    Must(reader->Download(info.attachment_id(), 0,
                          [&](uint64_t, absl::string_view data) {
                            return ::write(fd, data.data(), data.size()) ==
                                           static_cast<ssize_t>(data.size())
                                       ? absl::OkStatus()
                                       : absl::InternalError("write");
                          }),
         "download");
    ::fsync(fd);
    ::close(fd);
  }
  r.download = MBps(secrets.ciphertext_size, Seconds(start));

  start = absl::Now();
  Must(crypto::DecryptFile(fetched, secrets, scratch.path() + "/document.out"), "decrypt");
  r.decrypt = MBps(size, Seconds(start));

  start = absl::Now();
  Must(sender->EraseTeam(team.team_id()).status(), "erase");
  r.erase_seconds = Seconds(start);
  r.dir_after_erase = DirBytes(config.data_dir);
  server->Shutdown(absl::Seconds(1));
  return r;
}

}  // namespace
}  // namespace carerelay::bench

int main(int argc, char** argv) {
  using namespace carerelay::bench;
  Options o;
  CLI::App app{"carerelay-transfer-bench: document upload/download through carerelayd"};
  app.add_option("--size-mib", o.size_mib, "Document size in MiB")->capture_default_str();
  app.add_option("--repeat", o.repeat, "Runs per store layout (medians reported)")
      ->capture_default_str();
  app.add_option("--store", o.store, "Store layout: chunked, blob or both")
      ->check(CLI::IsMember({"chunked", "blob", "both"}))
      ->capture_default_str();
  app.add_option("--sync", o.sync,
                 "Sync the WAL on every commit (false: to see what syncing costs)")
      ->capture_default_str();
  app.add_option("--tls-dir", o.tls_dir, "Directory with server.crt, server.key, ca.crt");
  app.add_option("--tls-script", o.tls_script, "Script making development TLS material")
      ->capture_default_str();
  app.add_flag("--json", o.json, "One JSON object instead of the table");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (o.size_mib < 1 || o.repeat < 1) {
    std::cerr << "--size-mib and --repeat must be at least 1\n";
    return 2;
  }
  TempDir scratch("carerelay-transfer-bench-tls", 1);
  auto tls =
      PrepareTls(o.tls_dir, o.tls_script, scratch.path(), ScriptStderr::kDiscard, "give --tls-dir");
  if (!tls.ok()) {
    std::cerr << tls.status().message() << "\n";
    return 1;
  }
  std::vector<std::pair<std::string, bool>> layouts;
  if (o.store != "blob") layouts.emplace_back("chunked", false);
  if (o.store != "chunked") layouts.emplace_back("blob", true);

  nlohmann::json report;
  report["size_mib"] = o.size_mib;
  report["repeat"] = o.repeat;
  report["sync"] = o.sync;
  for (const auto& [name, blobs] : layouts) {
    std::vector<Run> runs;
    for (int i = 0; i < o.repeat; ++i) runs.push_back(OneRun(o, *tls, blobs, i));
    auto median = [&](auto field) {
      std::vector<double> v;
      for (const Run& r : runs) v.push_back(static_cast<double>(r.*field));
      return Median(v);
    };
    report["layouts"][name] = {
        {"encrypt_mbps", median(&Run::encrypt)},
        {"upload_mbps", median(&Run::upload)},
        {"download_mbps", median(&Run::download)},
        {"decrypt_mbps", median(&Run::decrypt)},
        {"raw_aes_gcm_mbps", median(&Run::raw_aes)},
        {"raw_sha256_mbps", median(&Run::raw_sha)},
        {"write_amplification", median(&Run::write_amplification)},
        {"dir_mib_after_upload", median(&Run::dir_after_upload) / 1048576.0},
        {"dir_mib_after_erase", median(&Run::dir_after_erase) / 1048576.0},
        {"erase_seconds", median(&Run::erase_seconds)},
    };
  }
  if (o.json) {
    std::cout << report.dump() << "\n";
    return 0;
  }
  std::cout << absl::StrFormat(
      "document %d MiB, median of %d run(s), sync %s, MB/s = 10^6 bytes/s\n", o.size_mib, o.repeat,
      o.sync ? "on" : "off");
  std::cout << absl::StrFormat("%-8s %8s %8s %8s %8s %8s %8s %6s %8s %8s %7s\n", "store", "encrypt",
                               "upload", "download", "decrypt", "raw-aes", "raw-sha", "w-amp",
                               "dir MiB", "after", "erase s");
  for (const auto& [name, j] : report["layouts"].items()) {
    std::cout << absl::StrFormat(
        "%-8s %8.0f %8.0f %8.0f %8.0f %8.0f %8.0f %6.2f %8.1f %8.1f %7.2f\n", name,
        j["encrypt_mbps"].get<double>(), j["upload_mbps"].get<double>(),
        j["download_mbps"].get<double>(), j["decrypt_mbps"].get<double>(),
        j["raw_aes_gcm_mbps"].get<double>(), j["raw_sha256_mbps"].get<double>(),
        j["write_amplification"].get<double>(), j["dir_mib_after_upload"].get<double>(),
        j["dir_mib_after_erase"].get<double>(), j["erase_seconds"].get<double>());
  }
  return 0;
}
