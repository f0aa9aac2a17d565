#include "bench/bench_devices.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "carerelay/v1/admin.grpc.pb.h"
#include "crypto/key_manager.h"
#include "crypto/profile_store.h"

namespace carerelay::bench {

absl::StatusOr<std::string> PrepareTls(const std::string& tls_dir, const std::string& tls_script,
                                       const std::string& scratch, ScriptStderr script_stderr,
                                       absl::string_view hint) {
  if (!tls_dir.empty()) return tls_dir;
  std::string dir = scratch + "/tls";
  std::string cmd = absl::StrCat("bash '", tls_script, "' '", dir, "' >/dev/null",
                                 script_stderr == ScriptStderr::kDiscard ? " 2>&1" : "");
  if (std::system(cmd.c_str()) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("could not make development TLS material with ", tls_script, "; ", hint));
  }
  return dir;
}

absl::StatusOr<std::string> IssueEnrollmentCodeOverSocket(const std::string& admin_address,
                                                          const std::string& name,
                                                          absl::Duration ttl) {
  // One channel per thread and address: setup issues codes from a pool of
  // threads, and a channel per code would make setup measure connects.
  thread_local std::map<std::string, std::unique_ptr<v1::Admin::Stub>> stubs;
  auto& stub = stubs[admin_address];
  if (!stub) {
    stub =
        v1::Admin::NewStub(grpc::CreateChannel(admin_address, grpc::InsecureChannelCredentials()));
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::IssueEnrollmentCodeRequest req;
  req.set_display_name(name);
  req.set_kind(v1::ACCOUNT_KIND_PROFESSIONAL);
  req.set_ttl_seconds(absl::ToInt64Seconds(ttl));
  v1::IssueEnrollmentCodeResponse resp;
  grpc::Status st = stub->IssueEnrollmentCode(&ctx, req, &resp);
  if (!st.ok()) {
    return absl::UnavailableError(
        absl::StrCat("admin socket ", admin_address, ": ", st.error_message()));
  }
  return resp.code();
}

absl::StatusOr<v1::RegisterRequest> MakeRegisterRequest(const std::string& profile_dir) {
  // Unencrypted and unsynced: the profile only holds keys for this run.
  crypto::ProfileOptions options;
  options.allow_unencrypted = true;
  options.sync_writes = false;
  auto profile = crypto::ProfileStore::Open(profile_dir, options);
  if (!profile.ok()) return profile.status();
  crypto::KeyManager keys(profile->get());
  auto prepared = keys.PrepareRegistration(absl::Now(), 1);
  if (!prepared.ok()) return prepared.status();
  v1::RegisterRequest request;
  request.set_identity_key(prepared->identity_key);
  request.set_registration_id(prepared->registration_id);
  request.set_device_name("bench");
  request.mutable_signed_prekey()->set_key_id(prepared->signed_prekey.key_id);
  request.mutable_signed_prekey()->set_public_key(prepared->signed_prekey.public_key);
  request.mutable_signed_prekey()->set_signature(prepared->signed_prekey.signature);
  for (const auto& k : prepared->one_time_prekeys) {
    auto* p = request.add_one_time_prekeys();
    p->set_key_id(k.key_id);
    p->set_public_key(k.public_key);
  }
  return request;
}

absl::StatusOr<client::DeviceCredentials> RegisterWithCode(
    const client::ConnectionOptions& connection, v1::RegisterRequest request,
    const std::string& code) {
  request.set_code(code);
  auto c = client::RelayClient::Create(connection);
  if (!c.ok()) return c.status();
  auto registered = (*c)->Register(request);
  if (!registered.ok()) return registered.status();
  return (*c)->credentials();
}

absl::StatusOr<std::string> IssueLinkCode(const client::ConnectionOptions& connection,
                                          const client::DeviceCredentials& device,
                                          const std::string& identity_profile_dir) {
  crypto::ProfileOptions options;
  options.allow_unencrypted = true;
  options.sync_writes = false;
  // One link at a time: setup threads may share one profile (load_world's
  // template), which only one of them can hold open.
  static absl::Mutex mu;
  absl::MutexLock lock(&mu);
  auto profile = crypto::ProfileStore::Open(identity_profile_dir, options);
  if (!profile.ok()) return profile.status();
  auto c = client::RelayClient::Create(connection);
  if (!c.ok()) return c.status();
  (*c)->SetCredentials(device);
  crypto::ProfileStore* signer = profile->get();
  (*c)->SetIdentitySigner([signer](absl::string_view m) { return signer->SignWithIdentity(m); });
  auto link = (*c)->LinkDevice();
  if (!link.ok()) return link.status();
  return link->code();
}

}  // namespace carerelay::bench
