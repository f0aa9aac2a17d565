#include "client/relay_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <openssl/rand.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/time/clock.h"
#include "proto/error_detail.h"
#include "proto/link_device.h"
#include "proto/loopback.h"

namespace carerelay::client {
namespace {
// Attempts of SendToAccount while the server corrects its device list.
constexpr int kSendAttempts = 4;
constexpr size_t kIdempotencyKeyBytes = 16;

absl::StatusOr<std::string> NewIdempotencyKey() {
  std::string key(kIdempotencyKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return absl::InternalError("no random bytes for a send's idempotency key");
  }
  return key;
}

// The send may have been queued or not: only asking again (same key) tells.
// CANCELLED counts because this client never cancels a send itself: a
// CANCELLED send was cut by the transport or the server going away.
bool OutcomeUnknown(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) || absl::IsCancelled(s);
}

// One unary call on `stub` with `context`: the response, or the server's
// status (FromGrpc).
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Unary(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                            Response*),
                               Stub* stub, grpc::ClientContext* context, const Request& request) {
  Response response;
  absl::Status s = FromGrpc((stub->*method)(context, request, &response));
  if (!s.ok()) return s;
  return response;
}

}  // namespace

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status s(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  if (!status.error_details().empty()) {
    v1::ErrorDetail detail;
    if (detail.ParseFromString(status.error_details())) s = WithDetail(std::move(s), detail);
  }
  return s;
}

bool ReceiveStream::Next(v1::ReceiveResponse* response) { return reader_->Read(response); }
void ReceiveStream::Cancel() { context_->TryCancel(); }
absl::Status ReceiveStream::Finish() { return FromGrpc(reader_->Finish()); }

absl::StatusOr<std::unique_ptr<RelayClient>> RelayClient::Create(const ConnectionOptions& o) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (o.plaintext) {
    // Without TLS, the device secret and everything else crosses the
    // network in clear: only to this machine, for development.
    if (!IsLoopbackHostPort(o.target)) {
      return absl::InvalidArgumentError(
          "--dev-plaintext connects without TLS and is only allowed to a loopback address "
          "(127.0.0.1:PORT, [::1]:PORT or localhost:PORT), not " +
          o.target);
    }
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (!o.ca_file.empty()) {
      std::ifstream in(o.ca_file);
      if (!in) return absl::InvalidArgumentError("cannot read the CA file " + o.ca_file);
      std::stringstream ss;
      ss << in.rdbuf();
      ssl.pem_root_certs = ss.str();
    }
    creds = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  return std::unique_ptr<RelayClient>(
      new RelayClient(grpc::CreateCustomChannel(o.target, creds, args), o));
}

RelayClient::RelayClient(std::shared_ptr<grpc::Channel> channel, const ConnectionOptions& options)
    : channel_(std::move(channel)),
      call_timeout_(options.call_timeout),
      send_attempts_(std::max(1, options.send_attempts)),
      send_retry_backoff_(options.send_retry_backoff),
      accounts_(v1::Accounts::NewStub(channel_)),
      keys_(v1::Keys::NewStub(channel_)),
      messages_(v1::Messages::NewStub(channel_)),
      teams_(v1::Teams::NewStub(channel_)),
      attachments_(v1::Attachments::NewStub(channel_)),
      urgency_(v1::Urgency::NewStub(channel_)),
      intakes_(v1::Intakes::NewStub(channel_)),
      directory_(v1::Directory::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> RelayClient::NewContext(bool authenticated, bool unary) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (unary && call_timeout_ > absl::ZeroDuration()) {
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + call_timeout_));
  }
  if (authenticated) {
    ctx->AddMetadata("carerelay-account", credentials_.account_id);
    ctx->AddMetadata("carerelay-device", std::to_string(credentials_.device_id));
    ctx->AddMetadata("carerelay-secret", absl::Base64Escape(credentials_.secret));
  }
  return ctx;
}

absl::StatusOr<v1::RegisterResponse> RelayClient::Register(const v1::RegisterRequest& request) {
  auto ctx = NewContext(false);
  v1::RegisterResponse response;
  absl::Status s = FromGrpc(accounts_->Register(ctx.get(), request, &response));
  if (!s.ok()) return s;
  credentials_ = {response.account_id(), response.device_id(), response.device_secret()};
  return response;
}

absl::StatusOr<v1::LinkDeviceResponse> RelayClient::LinkDevice(uint32_t ttl_seconds) {
  if (!signer_) {
    return absl::FailedPreconditionError(
        "linking a device needs this device's identity key; open the profile with its keys");
  }
  v1::LinkDeviceRequest request;
  request.set_ttl_seconds(ttl_seconds);
  request.set_issued_at_unix(absl::ToUnixSeconds(now_ ? now_() : absl::Now()));
  auto signature = signer_(LinkDeviceStatement(credentials_.account_id, credentials_.device_id,
                                               request.issued_at_unix(), ttl_seconds));
  if (!signature.ok()) return signature.status();
  request.set_identity_signature(*std::move(signature));
  return LinkDeviceRaw(request);
}

absl::StatusOr<v1::LinkDeviceResponse> RelayClient::LinkDeviceRaw(
    const v1::LinkDeviceRequest& request) {
  auto ctx = NewContext();
  v1::LinkDeviceResponse response;
  absl::Status s = FromGrpc(accounts_->LinkDevice(ctx.get(), request, &response));
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<std::vector<v1::DeviceInfo>> RelayClient::ListDevices() {
  auto ctx = NewContext();
  v1::ListDevicesResponse response;
  absl::Status s = FromGrpc(accounts_->ListDevices(ctx.get(), {}, &response));
  if (!s.ok()) return s;
  return std::vector<v1::DeviceInfo>(response.devices().begin(), response.devices().end());
}

absl::Status RelayClient::RevokeDevice(uint32_t device_id) {
  auto ctx = NewContext();
  v1::RevokeDeviceRequest request;
  request.set_device_id(device_id);
  v1::RevokeDeviceResponse response;
  return FromGrpc(accounts_->RevokeDevice(ctx.get(), request, &response));
}

absl::StatusOr<v1::AccountInfo> RelayClient::GetAccount() {
  auto ctx = NewContext();
  v1::AccountInfo response;
  absl::Status s = FromGrpc(accounts_->GetAccount(ctx.get(), {}, &response));
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<v1::Roster> RelayClient::ChangeRoster(const v1::ChangeRosterRequest& request) {
  auto ctx = NewContext();
  v1::Roster response;
  absl::Status s = FromGrpc(accounts_->ChangeRoster(ctx.get(), request, &response));
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<v1::Roster> RelayClient::GetRoster(const std::string& organisation_account_id) {
  auto ctx = NewContext();
  v1::GetRosterRequest request;
  request.set_organisation_account_id(organisation_account_id);
  v1::Roster response;
  absl::Status s = FromGrpc(accounts_->GetRoster(ctx.get(), request, &response));
  if (!s.ok()) return s;
  return response;
}

absl::Status RelayClient::SetSignedPrekey(const v1::SignedPrekey& prekey) {
  auto ctx = NewContext();
  v1::SetSignedPrekeyRequest request;
  *request.mutable_signed_prekey() = prekey;
  v1::SetSignedPrekeyResponse response;
  return FromGrpc(keys_->SetSignedPrekey(ctx.get(), request, &response));
}

absl::StatusOr<uint32_t> RelayClient::AddOneTimePrekeys(
    const std::vector<v1::OneTimePrekey>& prekeys) {
  auto ctx = NewContext();
  v1::AddOneTimePrekeysRequest request;
  for (const auto& k : prekeys) *request.add_prekeys() = k;
  v1::AddOneTimePrekeysResponse response;
  absl::Status s = FromGrpc(keys_->AddOneTimePrekeys(ctx.get(), request, &response));
  if (!s.ok()) return s;
  return response.count();
}

absl::StatusOr<uint32_t> RelayClient::CountOneTimePrekeys() {
  auto ctx = NewContext();
  v1::CountOneTimePrekeysResponse response;
  absl::Status s = FromGrpc(keys_->CountOneTimePrekeys(ctx.get(), {}, &response));
  if (!s.ok()) return s;
  return response.count();
}

absl::StatusOr<v1::GetPrekeyBundlesResponse> RelayClient::GetPrekeyBundles(
    const std::string& account_id, uint32_t device_id) {
  auto ctx = NewContext();
  v1::GetPrekeyBundlesRequest request;
  request.set_account_id(account_id);
  request.set_device_id(device_id);
  v1::GetPrekeyBundlesResponse response;
  absl::Status s = FromGrpc(keys_->GetPrekeyBundles(ctx.get(), request, &response));
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<v1::SendResponse> RelayClient::Send(const v1::SendRequest& request) {
  if (!request.idempotency_key().empty()) return SendKeyed(request);
  absl::StatusOr<std::string> key = NewIdempotencyKey();
  if (!key.ok()) return key.status();
  v1::SendRequest keyed = request;
  keyed.set_idempotency_key(*std::move(key));
  return SendKeyed(keyed);
}

absl::StatusOr<v1::SendResponse> RelayClient::SendKeyed(const v1::SendRequest& request) {
  absl::Duration backoff = send_retry_backoff_;
  for (int attempt = 1;; ++attempt) {
    auto ctx = NewContext();
    v1::SendResponse response;
    absl::Status s = FromGrpc(messages_->Send(ctx.get(), request, &response));
    if (s.ok()) return response;
    if (!OutcomeUnknown(s) || attempt >= send_attempts_) return s;
    absl::SleepFor(backoff);
    backoff *= 4;
  }
}

std::vector<uint32_t> RelayClient::KnownDevices(const std::string& account_id) const {
  std::lock_guard<std::mutex> lock(devices_mu_);
  auto it = devices_.find(account_id);
  return it == devices_.end() ? std::vector<uint32_t>{} : it->second;
}

void RelayClient::RememberDevices(const std::string& account_id, std::vector<uint32_t> devices) {
  std::sort(devices.begin(), devices.end());
  std::lock_guard<std::mutex> lock(devices_mu_);
  devices_[account_id] = std::move(devices);
}

void RelayClient::ForgetDevices(const std::string& account_id) {
  std::lock_guard<std::mutex> lock(devices_mu_);
  devices_.erase(account_id);
}

absl::StatusOr<v1::SendResponse> RelayClient::SendToAccount(
    const std::string& account_id, const EnvelopeFactory& make, const SendOptions& options,
    std::vector<v1::DeviceAddress>* recipients) {
  std::string key = options.idempotency_key;
  if (key.empty()) {
    absl::StatusOr<std::string> fresh = NewIdempotencyKey();
    if (!fresh.ok()) return fresh.status();
    key = *std::move(fresh);
  }
  std::vector<uint32_t> devices = KnownDevices(account_id);
  absl::Status last;
  for (int attempt = 0; attempt < kSendAttempts; ++attempt) {
    v1::SendRequest request;
    request.set_account_id(account_id);
    request.set_priority(options.priority);
    request.set_ack_required(options.ack_required);
    request.set_want_receipts(options.want_receipts);
    request.set_idempotency_key(key);
    for (uint32_t d : devices) {
      v1::DeviceAddress address;
      address.set_account_id(account_id);
      address.set_device_id(d);
      absl::StatusOr<v1::OutgoingEnvelope> envelope = make(address);
      if (!envelope.ok()) return envelope.status();
      envelope->set_account_id(account_id);
      envelope->set_device_id(d);
      *request.add_envelopes() = *std::move(envelope);
    }
    absl::StatusOr<v1::SendResponse> sent = SendKeyed(request);
    if (sent.ok()) {
      if (recipients != nullptr) {
        recipients->clear();
        for (const v1::OutgoingEnvelope& e : request.envelopes()) {
          v1::DeviceAddress& a = recipients->emplace_back();
          a.set_account_id(e.account_id());
          a.set_device_id(e.device_id());
        }
      }
      std::lock_guard<std::mutex> lock(devices_mu_);
      devices_[account_id] = devices;
      return sent;
    }
    last = sent.status();
    // Nothing was queued: the same devices again (the server's answer to
    // the retry names any device that changed).
    if (absl::IsAborted(last)) continue;
    std::optional<v1::ErrorDetail> detail = GetDetail(last);
    if (!absl::IsFailedPrecondition(last) || !detail || !detail->has_device_mismatch()) {
      return last;
    }
    const v1::DeviceMismatch& m = detail->device_mismatch();
    auto drop = [&](const auto& list) {
      for (const auto& a : list) {
        devices.erase(std::remove(devices.begin(), devices.end(), a.device_id()), devices.end());
      }
    };
    drop(m.extra());
    drop(m.stale());
    for (const auto& a : m.missing()) devices.push_back(a.device_id());
    std::sort(devices.begin(), devices.end());
  }
  return last;
}

absl::StatusOr<std::unique_ptr<ReceiveStream>> RelayClient::Receive(
    const v1::ReceiveRequest& request) {
  auto stream = std::unique_ptr<ReceiveStream>(new ReceiveStream());
  stream->context_ = NewContext(/*authenticated=*/true, /*unary=*/false);
  stream->reader_ = messages_->Receive(stream->context_.get(), request);
  return stream;
}

absl::StatusOr<v1::AckResponse> RelayClient::Ack(uint64_t through_sequence) {
  auto ctx = NewContext();
  v1::AckRequest request;
  request.set_through_sequence(through_sequence);
  v1::AckResponse response;
  absl::Status s = FromGrpc(messages_->Ack(ctx.get(), request, &response));
  if (!s.ok()) return s;
  return response;
}

absl::StatusOr<v1::SendResponse> RelayClient::SendToTeam(
    const std::string& team_id, v1::Channel channel, std::vector<v1::OutgoingEnvelope> envelopes,
    const SendOptions& options) {
  v1::SendRequest request;
  request.set_team_id(team_id);
  request.set_channel(channel);
  request.set_priority(options.priority);
  request.set_ack_required(options.ack_required);
  request.set_want_receipts(options.want_receipts);
  request.set_idempotency_key(options.idempotency_key);
  for (auto& e : envelopes) *request.add_envelopes() = std::move(e);
  return Send(request);
}

// --- Teams ---------------------------------------------------------------------

absl::StatusOr<v1::Team> RelayClient::CreateTeam(v1::Role creator_role) {
  v1::CreateTeamRequest request;
  request.set_creator_role(creator_role);
  return Unary(&v1::Teams::Stub::CreateTeam, teams_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Team> RelayClient::GetTeam(const std::string& team_id) {
  v1::GetTeamRequest request;
  request.set_team_id(team_id);
  return Unary(&v1::Teams::Stub::GetTeam, teams_.get(), NewContext().get(), request);
}

absl::StatusOr<std::vector<v1::Team>> RelayClient::ListTeams() {
  auto response =
      Unary(&v1::Teams::Stub::ListTeams, teams_.get(), NewContext().get(), v1::ListTeamsRequest());
  if (!response.ok()) return response.status();
  return std::vector<v1::Team>(response->teams().begin(), response->teams().end());
}

absl::StatusOr<v1::Team> RelayClient::Invite(const std::string& team_id,
                                             const std::string& account_id, v1::Role role,
                                             bool acts_for_patient) {
  v1::InviteRequest request;
  request.set_team_id(team_id);
  request.set_account_id(account_id);
  request.set_role(role);
  request.set_acts_for_patient(acts_for_patient);
  return Unary(&v1::Teams::Stub::Invite, teams_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Team> RelayClient::RespondToInvitation(const std::string& team_id, bool accept) {
  v1::RespondToInvitationRequest request;
  request.set_team_id(team_id);
  request.set_accept(accept);
  return Unary(&v1::Teams::Stub::RespondToInvitation, teams_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Team> RelayClient::RemoveMember(const std::string& team_id,
                                                   const std::string& account_id) {
  v1::RemoveMemberRequest request;
  request.set_team_id(team_id);
  request.set_account_id(account_id);
  return Unary(&v1::Teams::Stub::RemoveMember, teams_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Team> RelayClient::ChangeRole(const std::string& team_id,
                                                 const std::string& account_id, v1::Role role) {
  v1::ChangeRoleRequest request;
  request.set_team_id(team_id);
  request.set_account_id(account_id);
  request.set_role(role);
  return Unary(&v1::Teams::Stub::ChangeRole, teams_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Team> RelayClient::DesignateCoordinator(const std::string& team_id,
                                                           const std::string& account_id) {
  v1::DesignateCoordinatorRequest request;
  request.set_team_id(team_id);
  request.set_account_id(account_id);
  return DesignateCoordinator(request);
}

absl::StatusOr<v1::Team> RelayClient::DesignateCoordinator(
    const v1::DesignateCoordinatorRequest& request) {
  return Unary(&v1::Teams::Stub::DesignateCoordinator, teams_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Team> RelayClient::AnswerConsent(const std::string& team_id,
                                                    const std::string& account_id, bool agree) {
  v1::AnswerConsentRequest request;
  request.set_team_id(team_id);
  request.set_account_id(account_id);
  request.set_agree(agree);
  return Unary(&v1::Teams::Stub::AnswerConsent, teams_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Team> RelayClient::RecordConsent(const v1::RecordConsentRequest& request) {
  return Unary(&v1::Teams::Stub::RecordConsent, teams_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Team> RelayClient::SetTeamAccess(const std::string& team_id,
                                                    const std::vector<v1::AccessRule>& rules) {
  v1::SetTeamAccessRequest request;
  request.set_team_id(team_id);
  for (const auto& r : rules) *request.add_rules() = r;
  return Unary(&v1::Teams::Stub::SetTeamAccess, teams_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Team> RelayClient::CloseTeam(const std::string& team_id,
                                                const std::string& reason) {
  v1::CloseTeamRequest request;
  request.set_team_id(team_id);
  request.set_reason(reason);
  return Unary(&v1::Teams::Stub::CloseTeam, teams_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::EraseTeamResponse> RelayClient::EraseTeam(const std::string& team_id) {
  v1::EraseTeamRequest request;
  request.set_team_id(team_id);
  return Unary(&v1::Teams::Stub::EraseTeam, teams_.get(), NewContext().get(), request);
}

absl::Status RelayClient::SetBlindIndex(const std::string& team_id, const std::string& index,
                                        const std::string& key_version, v1::BlindIndexKind kind) {
  v1::SetBlindIndexRequest request;
  request.set_team_id(team_id);
  request.set_index(index);
  request.set_key_version(key_version);
  request.set_kind(kind);
  return Unary(&v1::Teams::Stub::SetBlindIndex, teams_.get(), NewContext().get(), request).status();
}

absl::StatusOr<std::vector<v1::TeamSummary>> RelayClient::FindTeams(const std::string& index) {
  v1::FindTeamsRequest request;
  request.set_index(index);
  auto response = Unary(&v1::Teams::Stub::FindTeams, teams_.get(), NewContext().get(), request);
  if (!response.ok()) return response.status();
  return std::vector<v1::TeamSummary>(response->teams().begin(), response->teams().end());
}

absl::StatusOr<v1::ReadAuditResponse> RelayClient::ReadAudit(const std::string& team_id,
                                                             uint64_t after_sequence,
                                                             uint32_t limit) {
  v1::ReadAuditRequest request;
  request.set_team_id(team_id);
  request.set_after_sequence(after_sequence);
  request.set_limit(limit);
  return Unary(&v1::Teams::Stub::ReadAudit, teams_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Team> RelayClient::SetHistoryVisibility(
    const v1::SetHistoryVisibilityRequest& request) {
  return Unary(&v1::Teams::Stub::SetHistoryVisibility, teams_.get(), NewContext().get(), request);
}

absl::Status RelayClient::RecordHistoryShared(const v1::RecordHistorySharedRequest& request) {
  return Unary(&v1::Teams::Stub::RecordHistoryShared, teams_.get(), NewContext().get(), request)
      .status();
}

absl::StatusOr<v1::VerifyAuditResponse> RelayClient::VerifyAudit(const std::string& team_id) {
  v1::VerifyAuditRequest request;
  request.set_team_id(team_id);
  return Unary(&v1::Teams::Stub::VerifyAudit, teams_.get(), NewContext().get(), request);
}

// --- Attachments ---------------------------------------------------------------

absl::StatusOr<v1::AttachmentInfo> RelayClient::CreateUpload(const std::string& team_id,
                                                             v1::Channel channel,
                                                             uint64_t ciphertext_size,
                                                             const std::string& digest) {
  v1::CreateUploadRequest request;
  request.set_team_id(team_id);
  request.set_channel(channel);
  request.set_ciphertext_size(ciphertext_size);
  request.set_digest(digest);
  return Unary(&v1::Attachments::Stub::CreateUpload, attachments_.get(), NewContext().get(),
               request);
}

absl::StatusOr<v1::AttachmentInfo> RelayClient::GetUpload(const std::string& attachment_id) {
  v1::GetUploadRequest request;
  request.set_attachment_id(attachment_id);
  return Unary(&v1::Attachments::Stub::GetUpload, attachments_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::AttachmentInfo> RelayClient::Upload(
    const std::string& attachment_id, uint64_t offset,
    const std::function<absl::StatusOr<std::string>()>& next) {
  auto ctx = NewContext(/*authenticated=*/true, /*unary=*/false);
  v1::AttachmentInfo info;
  auto writer = attachments_->Upload(ctx.get(), &info);
  // The first message names the upload; the data follows.
  v1::UploadChunk chunk;
  chunk.set_attachment_id(attachment_id);
  chunk.set_offset(offset);
  bool open = writer->Write(chunk);
  chunk.Clear();
  while (open) {
    absl::StatusOr<std::string> piece = next();
    if (!piece.ok()) {
      ctx->TryCancel();
      writer->Finish().ok();  // the cancellation; the caller's error wins
      return piece.status();
    }
    if (piece->empty()) break;
    *chunk.mutable_data() = *std::move(piece);
    open = writer->Write(chunk);  // false: the server ended the call, Finish says why
  }
  writer->WritesDone();
  absl::Status s = FromGrpc(writer->Finish());
  if (!s.ok()) return s;
  return info;
}

absl::Status RelayClient::Download(
    const std::string& attachment_id, uint64_t offset,
    const std::function<absl::Status(uint64_t, absl::string_view)>& sink) {
  auto ctx = NewContext(/*authenticated=*/true, /*unary=*/false);
  v1::DownloadRequest request;
  request.set_attachment_id(attachment_id);
  request.set_offset(offset);
  auto reader = attachments_->Download(ctx.get(), request);
  v1::DownloadChunk chunk;
  absl::Status failure;
  while (reader->Read(&chunk)) {
    failure = sink(chunk.offset(), chunk.data());
    if (!failure.ok()) {
      ctx->TryCancel();
      break;
    }
  }
  absl::Status s = FromGrpc(reader->Finish());
  if (!failure.ok()) return failure;
  return s;
}

absl::StatusOr<v1::AcknowledgeUrgentResponse> RelayClient::AcknowledgeUrgent(
    const std::string& message_id) {
  v1::AcknowledgeUrgentRequest request;
  request.set_message_id(message_id);
  return Unary(&v1::Urgency::Stub::AcknowledgeUrgent, urgency_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::UrgentMessageStatus> RelayClient::ListAcknowledgements(
    const std::string& message_id) {
  v1::ListAcknowledgementsRequest request;
  request.set_message_id(message_id);
  return Unary(&v1::Urgency::Stub::ListAcknowledgements, urgency_.get(), NewContext().get(),
               request);
}

absl::StatusOr<v1::Intake> RelayClient::OpenIntake(const v1::OpenIntakeRequest& request) {
  return Unary(&v1::Intakes::Stub::OpenIntake, intakes_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Intake> RelayClient::RouteIntake(const v1::RouteIntakeRequest& request) {
  return Unary(&v1::Intakes::Stub::RouteIntake, intakes_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Intake> RelayClient::AcceptIntake(const std::string& intake_id) {
  v1::AcceptIntakeRequest request;
  request.set_intake_id(intake_id);
  return Unary(&v1::Intakes::Stub::AcceptIntake, intakes_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Intake> RelayClient::ResolveIntake(const std::string& intake_id) {
  v1::ResolveIntakeRequest request;
  request.set_intake_id(intake_id);
  return Unary(&v1::Intakes::Stub::ResolveIntake, intakes_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::IntakeReport> RelayClient::ReportIntakes(int64_t from_ms, int64_t to_ms) {
  v1::ReportIntakesRequest request;
  request.set_from_ms(from_ms);
  request.set_to_ms(to_ms);
  return Unary(&v1::Intakes::Stub::ReportIntakes, intakes_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Intake> RelayClient::AnswerIntake(const v1::AnswerIntakeRequest& request) {
  return Unary(&v1::Intakes::Stub::AnswerIntake, intakes_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Intake> RelayClient::PromiseCallback(const std::string& intake_id,
                                                        int64_t callback_at_ms) {
  v1::PromiseCallbackRequest request;
  request.set_intake_id(intake_id);
  request.set_callback_at_ms(callback_at_ms);
  return Unary(&v1::Intakes::Stub::PromiseCallback, intakes_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Intake> RelayClient::AssessIntake(const v1::AssessIntakeRequest& request) {
  return Unary(&v1::Intakes::Stub::AssessIntake, intakes_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Intake> RelayClient::EvaluateCaseManagement(
    const v1::EvaluateCaseManagementRequest& request) {
  return Unary(&v1::Intakes::Stub::EvaluateCaseManagement, intakes_.get(), NewContext().get(),
               request);
}

absl::StatusOr<v1::Intake> RelayClient::CancelIntake(const std::string& intake_id) {
  v1::CancelIntakeRequest request;
  request.set_intake_id(intake_id);
  return Unary(&v1::Intakes::Stub::CancelIntake, intakes_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Intake> RelayClient::GetIntake(const std::string& intake_id) {
  v1::GetIntakeRequest request;
  request.set_intake_id(intake_id);
  return Unary(&v1::Intakes::Stub::GetIntake, intakes_.get(), NewContext().get(), request);
}

absl::StatusOr<std::vector<v1::Intake>> RelayClient::ListIntakes(
    v1::ListIntakesRequest::Filter filter) {
  v1::ListIntakesRequest request;
  request.set_filter(filter);
  auto r = Unary(&v1::Intakes::Stub::ListIntakes, intakes_.get(), NewContext().get(), request);
  if (!r.ok()) return r.status();
  return std::vector<v1::Intake>(r->intakes().begin(), r->intakes().end());
}

absl::StatusOr<v1::DirectoryEntry> RelayClient::PublishDirectoryEntry(
    const v1::DirectoryEntry& entry) {
  v1::PublishEntryRequest request;
  *request.mutable_entry() = entry;
  return Unary(&v1::Directory::Stub::PublishEntry, directory_.get(), NewContext().get(), request);
}

absl::Status RelayClient::RemoveDirectoryEntry() {
  return Unary(&v1::Directory::Stub::RemoveEntry, directory_.get(), NewContext().get(),
               v1::RemoveEntryRequest())
      .status();
}

absl::StatusOr<v1::DirectoryEntry> RelayClient::GetDirectoryEntry(const std::string& account_id) {
  v1::GetEntryRequest request;
  request.set_account_id(account_id);
  return Unary(&v1::Directory::Stub::GetEntry, directory_.get(), NewContext().get(), request);
}

absl::StatusOr<std::vector<v1::DirectoryEntry>> RelayClient::SearchDirectory(
    const v1::SearchDirectoryRequest& request) {
  auto r =
      Unary(&v1::Directory::Stub::SearchDirectory, directory_.get(), NewContext().get(), request);
  if (!r.ok()) return r.status();
  return std::vector<v1::DirectoryEntry>(r->entries().begin(), r->entries().end());
}

absl::StatusOr<v1::DirectoryEntry> RelayClient::SetAbsence(const v1::Absence& absence) {
  v1::SetAbsenceRequest request;
  *request.mutable_absence() = absence;
  return Unary(&v1::Directory::Stub::SetAbsence, directory_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::Resource> RelayClient::PutResource(const v1::Resource& resource) {
  v1::PutResourceRequest request;
  *request.mutable_resource() = resource;
  return Unary(&v1::Directory::Stub::PutResource, directory_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::ImportResourcesResponse> RelayClient::ImportResources(
    const v1::ImportResourcesRequest& request) {
  return Unary(&v1::Directory::Stub::ImportResources, directory_.get(), NewContext().get(),
               request);
}

absl::Status RelayClient::RemoveResource(const std::string& resource_id) {
  v1::RemoveResourceRequest request;
  request.set_resource_id(resource_id);
  return Unary(&v1::Directory::Stub::RemoveResource, directory_.get(), NewContext().get(), request)
      .status();
}

absl::StatusOr<v1::Resource> RelayClient::GetResource(const std::string& resource_id) {
  v1::GetResourceRequest request;
  request.set_resource_id(resource_id);
  return Unary(&v1::Directory::Stub::GetResource, directory_.get(), NewContext().get(), request);
}

absl::StatusOr<v1::SearchResourcesResponse> RelayClient::SearchResources(
    const v1::SearchResourcesRequest& request) {
  return Unary(&v1::Directory::Stub::SearchResources, directory_.get(), NewContext().get(),
               request);
}

}  // namespace carerelay::client
