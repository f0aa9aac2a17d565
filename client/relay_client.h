// libcarerelay: the C++ client of carerelayd (Accounts, Keys, Messages,
// Teams, Attachments).
//
// It speaks the wire contract and nothing more: payloads are opaque bytes
// here; end-to-end encryption sits on top (crypto/ and the messenger).
//
// Errors: every call returns the server's status as an absl::Status with the
// same code and message; structured detail (ErrorDetail, e.g. the device
// mismatch of a send) is attached as a payload, read it with GetDetail()
// from proto/error_detail.h.
//
// Thread-safety: a RelayClient may be used from several threads once its
// credentials are set (SetCredentials or Register happen before sharing).
#ifndef CARERELAY_CLIENT_RELAY_CLIENT_H_
#define CARERELAY_CLIENT_RELAY_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/sync_stream.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "carerelay/v1/accounts.grpc.pb.h"
#include "carerelay/v1/attachments.grpc.pb.h"
#include "carerelay/v1/directory.grpc.pb.h"
#include "carerelay/v1/intakes.grpc.pb.h"
#include "carerelay/v1/keys.grpc.pb.h"
#include "carerelay/v1/messages.grpc.pb.h"
#include "carerelay/v1/teams.grpc.pb.h"
#include "carerelay/v1/urgency.grpc.pb.h"

namespace carerelay::client {

struct ConnectionOptions {
  std::string target = "localhost:7443";  // host:port
  // PEM file of the CA that signed the server certificate; empty: the
  // system's roots.
  std::string ca_file;
  // Plaintext (only with a server started with --dev-plaintext); Create
  // refuses it (INVALID_ARGUMENT) unless `target` is a loopback address.
  bool plaintext = false;
  // Deadline of each unary call, so a stuck server cannot hang a client
  // (DEADLINE_EXCEEDED). Receive streams have none.
  absl::Duration call_timeout = absl::Seconds(30);
  // A send whose outcome is unknown (see RelayClient::Send) is made again
  // with the same idempotency key, up to `send_attempts` attempts in all;
  // the first wait is `send_retry_backoff`, each next one four times longer.
  // Short: a cut connection is usually back at once, and a person is waiting.
  int send_attempts = 3;
  absl::Duration send_retry_backoff = absl::Milliseconds(100);
};

struct DeviceCredentials {
  std::string account_id;  // 32 hex
  uint32_t device_id = 0;
  std::string secret;  // raw bytes from RegisterResponse.device_secret
};

// An open Messages.Receive stream. Not thread-safe, except Cancel().
class ReceiveStream {
 public:
  // Blocks for the next batch; false when the stream ended (then Finish).
  bool Next(v1::ReceiveResponse* response);
  // Ends the stream from any thread; Next then returns false.
  void Cancel();
  // The final status, after Next returned false.
  absl::Status Finish();

 private:
  friend class RelayClient;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReader<v1::ReceiveResponse>> reader_;
};

// Builds the envelope for one recipient device (e.g. by encrypting for it);
// called again for devices added after a device mismatch.
using EnvelopeFactory =
    std::function<absl::StatusOr<v1::OutgoingEnvelope>(const v1::DeviceAddress& device)>;

// How SendToAccount and SendToTeam make their send (SendRequest fields).
struct SendOptions {
  v1::Priority priority = v1::PRIORITY_NORMAL;
  // With PRIORITY_URGENT: every recipient must acknowledge it (urgency.proto).
  bool ack_required = false;
  // Each recipient device's acknowledgement moves its delivery watermark on
  // this device's receive stream (ReceiveResponse.watermarks); match them
  // with SendResponse.envelope_ids.
  bool want_receipts = false;
  // Names this logical send for the server's idempotency window (1 to 64
  // bytes, unique per sending device for 24 hours). Empty: a fresh random
  // key for this call. Set it to make a later call (say, after a restart)
  // a retry of an earlier one.
  std::string idempotency_key;
};

class RelayClient {
 public:
  // INVALID_ARGUMENT if the CA file cannot be read. Does not connect yet.
  static absl::StatusOr<std::unique_ptr<RelayClient>> Create(const ConnectionOptions& options);

  void SetCredentials(const DeviceCredentials& credentials) { credentials_ = credentials; }
  const DeviceCredentials& credentials() const { return credentials_; }

  // Registers this device with an enrollment or link code and keeps the
  // returned credentials.
  absl::StatusOr<v1::RegisterResponse> Register(const v1::RegisterRequest& request);
  // Signs with this device's identity private key (the bytes given); how
  // LinkDevice proves more than the device secret. Set by Messenger (from
  // its profile), or by whoever holds the keys.
  using IdentitySigner = std::function<absl::StatusOr<std::string>(absl::string_view)>;
  void SetIdentitySigner(IdentitySigner signer) { signer_ = std::move(signer); }
  // The clock LinkDevice dates its request with (absl::Now by default); tests
  // whose server runs on a fake clock set it to that clock.
  void SetClock(std::function<absl::Time()> now) { now_ = std::move(now); }
  // Issues a link code for another device of this account, the request
  // signed with the identity key (accounts.proto, LinkDeviceRequest) and
  // dated now. FAILED_PRECONDITION if no signer is set; UNAUTHENTICATED
  // from the server if the proof is missing, stale or wrong.
  absl::StatusOr<v1::LinkDeviceResponse> LinkDevice(uint32_t ttl_seconds = 0);
  // The same with the request as given (tests of the server's checks).
  absl::StatusOr<v1::LinkDeviceResponse> LinkDeviceRaw(const v1::LinkDeviceRequest& request);
  absl::StatusOr<std::vector<v1::DeviceInfo>> ListDevices();
  absl::Status RevokeDevice(uint32_t device_id);
  absl::StatusOr<v1::AccountInfo> GetAccount();
  // An organisation's roster (accounts.proto): `request` as sent.
  absl::StatusOr<v1::Roster> ChangeRoster(const v1::ChangeRosterRequest& request);
  absl::StatusOr<v1::Roster> GetRoster(const std::string& organisation_account_id);

  absl::Status SetSignedPrekey(const v1::SignedPrekey& prekey);
  absl::StatusOr<uint32_t> AddOneTimePrekeys(const std::vector<v1::OneTimePrekey>& prekeys);
  absl::StatusOr<uint32_t> CountOneTimePrekeys();
  absl::StatusOr<v1::GetPrekeyBundlesResponse> GetPrekeyBundles(const std::string& account_id,
                                                                uint32_t device_id = 0);

  // One logical send: `request` as given, under a fresh random idempotency
  // key (16 bytes) unless it carries one. When the outcome is unknown (the
  // connection was cut or the deadline passed after the request left:
  // UNAVAILABLE, DEADLINE_EXCEEDED, or CANCELLED, which this client never
  // causes on a send) the same request is sent again with the same key, up
  // to ConnectionOptions::send_attempts in all: the server then answers with
  // the first attempt's SendResponse (`replayed` set) if that one was
  // queued, so nothing is ever queued twice.
  // Errors: the server's, returned at once (FAILED_PRECONDITION with a
  // device mismatch, RESOURCE_EXHAUSTED, ABORTED when a team changed between
  // the server's check and its write: send again); after the last attempt,
  // that attempt's UNAVAILABLE, DEADLINE_EXCEEDED or CANCELLED (the send may
  // or may not be queued: send the same request again later, same key, to
  // find out). INTERNAL if no random key could be made. The waits between
  // attempts block the calling thread.
  absl::StatusOr<v1::SendResponse> Send(const v1::SendRequest& request);

  // Sends to every device of `account_id` that must receive: starts from the
  // devices it knows (cached per account; none at first, and the server's
  // device mismatch then lists them), and on a mismatch drops the extra
  // and stale devices, adds the missing ones (calling `make` for them) and
  // retries, up to 3 times; ABORTED (the account's devices changed during
  // the send) is retried the same way. `make` is called once per device per
  // attempt. Every attempt is one logical send under the same idempotency
  // key (the server keeps only successful sends, so a corrected envelope
  // list may reuse it). On success, `recipients` (if not null) is set to the
  // device of each envelope, in the order of SendResponse.envelope_ids.
  absl::StatusOr<v1::SendResponse> SendToAccount(
      const std::string& account_id, const EnvelopeFactory& make,
      const SendOptions& options = SendOptions(),
      std::vector<v1::DeviceAddress>* recipients = nullptr);
  // Devices of `account_id` the last send used.
  std::vector<uint32_t> KnownDevices(const std::string& account_id) const;
  // Seeds the cache with devices learnt elsewhere (a team's member list), so
  // the next SendToAccount needs no discovery round trip.
  void RememberDevices(const std::string& account_id, std::vector<uint32_t> devices);
  // Forgets the cached device list (e.g. after a session reset).
  void ForgetDevices(const std::string& account_id);

  // One team send: `envelopes` to the readers of `channel` in `team_id`,
  // as given (the messenger computes them from GetTeam and retries after a
  // device mismatch or ABORTED), as one logical Send. Errors as Send;
  // PERMISSION_DENIED when the caller may not post on the channel,
  // FAILED_PRECONDITION without a device mismatch when the team is closed.
  absl::StatusOr<v1::SendResponse> SendToTeam(const std::string& team_id, v1::Channel channel,
                                              std::vector<v1::OutgoingEnvelope> envelopes,
                                              const SendOptions& options = SendOptions());

  // Opens this device's receive stream (delivery contract v2, messages.proto):
  // `request` sets the window and where delivery watermarks resume. Opening
  // it ends this device's previous stream (ABORTED on that one). The stream
  // delivers in sequence order; what it delivers stays queued until
  // acknowledged with Ack while it is still open.
  absl::StatusOr<std::unique_ptr<ReceiveStream>> Receive(
      const v1::ReceiveRequest& request = v1::ReceiveRequest());
  // Cumulative acknowledgement: everything delivered on this device's
  // current stream through `through_sequence` is stored here and may be
  // deleted. Call it after storing what was received and before closing the
  // stream: the server applies it to the open stream only. The response
  // says what it applied (acknowledged_through 0 when no stream is open:
  // nothing deleted, the next stream delivers it again). Repeating it is
  // harmless.
  absl::StatusOr<v1::AckResponse> Ack(uint64_t through_sequence);

  // Teams (teams.proto): one call each; the errors are the RPC's (see the
  // proto: NOT_FOUND also when the caller is not on the team).
  absl::StatusOr<v1::Team> CreateTeam(v1::Role creator_role);
  absl::StatusOr<v1::Team> GetTeam(const std::string& team_id);
  absl::StatusOr<std::vector<v1::Team>> ListTeams();
  absl::StatusOr<v1::Team> Invite(const std::string& team_id, const std::string& account_id,
                                  v1::Role role, bool acts_for_patient = false);
  absl::StatusOr<v1::Team> RespondToInvitation(const std::string& team_id, bool accept);
  // `account_id` is the caller's own to leave.
  absl::StatusOr<v1::Team> RemoveMember(const std::string& team_id, const std::string& account_id);
  absl::StatusOr<v1::Team> ChangeRole(const std::string& team_id, const std::string& account_id,
                                      v1::Role role);
  absl::StatusOr<v1::Team> DesignateCoordinator(const std::string& team_id,
                                                const std::string& account_id);
  // With the recorded agreement of a patient without an account.
  absl::StatusOr<v1::Team> DesignateCoordinator(const v1::DesignateCoordinatorRequest& request);
  absl::StatusOr<v1::Team> AnswerConsent(const std::string& team_id, const std::string& account_id,
                                         bool agree);
  absl::StatusOr<v1::Team> RecordConsent(const v1::RecordConsentRequest& request);
  absl::StatusOr<v1::Team> SetTeamAccess(const std::string& team_id,
                                         const std::vector<v1::AccessRule>& rules);
  absl::StatusOr<v1::Team> CloseTeam(const std::string& team_id, const std::string& reason);
  absl::StatusOr<v1::EraseTeamResponse> EraseTeam(const std::string& team_id);
  absl::Status SetBlindIndex(const std::string& team_id, const std::string& index,
                             const std::string& key_version,
                             v1::BlindIndexKind kind = v1::BLIND_INDEX_KIND_NATIONAL_NUMBER);
  absl::StatusOr<std::vector<v1::TeamSummary>> FindTeams(const std::string& index);
  // Entries after `after_sequence`, at most `limit` (0: the server's default).
  absl::StatusOr<v1::ReadAuditResponse> ReadAudit(const std::string& team_id,
                                                  uint64_t after_sequence = 0, uint32_t limit = 0);
  absl::StatusOr<v1::VerifyAuditResponse> VerifyAudit(const std::string& team_id);
  absl::StatusOr<v1::Team> SetHistoryVisibility(const v1::SetHistoryVisibilityRequest& request);
  absl::Status RecordHistoryShared(const v1::RecordHistorySharedRequest& request);

  // Attachments (attachments.proto). The streams have no deadline (a large
  // file on a slow line takes long); a cut connection ends them with
  // UNAVAILABLE or CANCELLED, after which GetUpload / the bytes received
  // tell where to resume.
  absl::StatusOr<v1::AttachmentInfo> CreateUpload(const std::string& team_id, v1::Channel channel,
                                                  uint64_t ciphertext_size,
                                                  const std::string& digest);
  absl::StatusOr<v1::AttachmentInfo> GetUpload(const std::string& attachment_id);
  // Streams the pieces `next()` returns, starting at `offset`, until it
  // returns an empty string (the end) or an error (the stream is abandoned
  // with that error).
  absl::StatusOr<v1::AttachmentInfo> Upload(
      const std::string& attachment_id, uint64_t offset,
      const std::function<absl::StatusOr<std::string>()>& next);
  // Streams the ciphertext from `offset` into `sink(offset, bytes)`; an error
  // from the sink cancels the stream and is returned.
  absl::Status Download(const std::string& attachment_id, uint64_t offset,
                        const std::function<absl::Status(uint64_t, absl::string_view)>& sink);
  // Urgency (urgency.proto). `message_id`: the urgent message id, or for
  // AcknowledgeUrgent the id of an envelope of it received here.
  absl::StatusOr<v1::AcknowledgeUrgentResponse> AcknowledgeUrgent(const std::string& message_id);
  absl::StatusOr<v1::UrgentMessageStatus> ListAcknowledgements(const std::string& message_id);

  // Intakes (intakes.proto): one call each; the errors are the RPC's.
  absl::StatusOr<v1::Intake> OpenIntake(const v1::OpenIntakeRequest& request);
  absl::StatusOr<v1::Intake> RouteIntake(const v1::RouteIntakeRequest& request);
  absl::StatusOr<v1::Intake> AcceptIntake(const std::string& intake_id);
  absl::StatusOr<v1::Intake> ResolveIntake(const std::string& intake_id);
  absl::StatusOr<v1::Intake> CancelIntake(const std::string& intake_id);
  absl::StatusOr<v1::IntakeReport> ReportIntakes(int64_t from_ms, int64_t to_ms);
  absl::StatusOr<v1::Intake> AnswerIntake(const v1::AnswerIntakeRequest& request);
  absl::StatusOr<v1::Intake> PromiseCallback(const std::string& intake_id, int64_t callback_at_ms);
  absl::StatusOr<v1::Intake> AssessIntake(const v1::AssessIntakeRequest& request);
  absl::StatusOr<v1::Intake> EvaluateCaseManagement(
      const v1::EvaluateCaseManagementRequest& request);
  absl::StatusOr<v1::Intake> GetIntake(const std::string& intake_id);
  absl::StatusOr<std::vector<v1::Intake>> ListIntakes(v1::ListIntakesRequest::Filter filter);

  // Directory (directory.proto).
  absl::StatusOr<v1::DirectoryEntry> PublishDirectoryEntry(const v1::DirectoryEntry& entry);
  absl::Status RemoveDirectoryEntry();
  absl::StatusOr<v1::DirectoryEntry> GetDirectoryEntry(const std::string& account_id);
  absl::StatusOr<std::vector<v1::DirectoryEntry>> SearchDirectory(
      const v1::SearchDirectoryRequest& request);
  absl::StatusOr<v1::DirectoryEntry> SetAbsence(const v1::Absence& absence);
  // The map of resources (directory.proto).
  absl::StatusOr<v1::Resource> PutResource(const v1::Resource& resource);
  absl::StatusOr<v1::ImportResourcesResponse> ImportResources(
      const v1::ImportResourcesRequest& request);
  absl::Status RemoveResource(const std::string& resource_id);
  absl::StatusOr<v1::Resource> GetResource(const std::string& resource_id);
  absl::StatusOr<v1::SearchResourcesResponse> SearchResources(
      const v1::SearchResourcesRequest& request);

 private:
  RelayClient(std::shared_ptr<grpc::Channel> channel, const ConnectionOptions& options);
  // Send's attempts, `request` already keyed.
  absl::StatusOr<v1::SendResponse> SendKeyed(const v1::SendRequest& request);
  // A context with credentials (if `authenticated`) and, for unary calls, the
  // deadline.
  std::unique_ptr<grpc::ClientContext> NewContext(bool authenticated = true,
                                                  bool unary = true) const;

  std::shared_ptr<grpc::Channel> channel_;
  absl::Duration call_timeout_;
  int send_attempts_;
  absl::Duration send_retry_backoff_;
  std::unique_ptr<v1::Accounts::Stub> accounts_;
  std::unique_ptr<v1::Keys::Stub> keys_;
  std::unique_ptr<v1::Messages::Stub> messages_;
  std::unique_ptr<v1::Teams::Stub> teams_;
  std::unique_ptr<v1::Attachments::Stub> attachments_;
  std::unique_ptr<v1::Urgency::Stub> urgency_;
  std::unique_ptr<v1::Intakes::Stub> intakes_;
  std::unique_ptr<v1::Directory::Stub> directory_;
  DeviceCredentials credentials_;
  IdentitySigner signer_;
  std::function<absl::Time()> now_;  // empty: absl::Now
  mutable std::mutex devices_mu_;
  std::map<std::string, std::vector<uint32_t>> devices_;
};

// grpc::Status to absl::Status, with ErrorDetail attached as a payload.
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_RELAY_CLIENT_H_
