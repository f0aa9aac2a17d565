#include "fuzz/service_fixture.h"

#include <grpcpp/generic/generic_stub.h>
#include <openssl/evp.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "absl/strings/escaping.h"
#include "carerelay/v1/intakes.pb.h"
#include "carerelay/v1/messages.pb.h"
#include "fuzz/fuzz_target.h"
#include "server/api/call_auth.h"
#include "tests/file_bytes.h"

namespace carerelay::fuzz {
namespace {

using testing::ReadWholeFile;
using testing::Sha256;

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Responses read from a stream before the fixture ends it: enough to reach
// the code that writes them, few enough that a large download stays cheap.
constexpr int kMaxResponses = 16;

// Setting up the fixture must work; a fuzz run on a half-built one would
// report nonsense.
template <typename T>
T Must(absl::StatusOr<T> result, absl::string_view what) {
  FuzzCheck(result.ok(), std::string(what) + ": " + result.status().ToString());
  return *std::move(result);
}

// Waits for the one operation in flight on `cq`; whether it succeeded.
bool Await(grpc::CompletionQueue& cq) {
  void* tag = nullptr;
  bool ok = false;
  FuzzCheck(cq.Next(&tag, &ok), "completion queue shut down during a call");
  return ok;
}

void SubstituteField(const std::map<std::string, std::string>& placeholders, Message* message,
                     const FieldDescriptor* field) {
  const Reflection* reflection = message->GetReflection();
  auto replace = [&](const std::string& value) -> const std::string* {
    auto it = placeholders.find(value);
    return it == placeholders.end() ? nullptr : &it->second;
  };
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
        if (const std::string* id = replace(reflection->GetRepeatedString(*message, field, i))) {
          reflection->SetRepeatedString(message, field, i, *id);
        }
      }
    } else if (const std::string* id = replace(reflection->GetString(*message, field))) {
      reflection->SetString(message, field, *id);
    }
  }
}

}  // namespace

ServiceFixture& ServiceFixture::Get() {
  static ServiceFixture fixture;
  return fixture;
}

ServiceFixture::ServiceFixture() {
  server_ = std::make_unique<testing::TestServer>();
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadWholeFile(testing::TlsDir() + "/ca.crt");
  FuzzCheck(!tls.pem_root_certs.empty(),
            "no test TLS material in " + testing::TlsDir() +
                " (run deploy/make-dev-tls.sh there, or ctest's make_test_tls)");
  channel_ = grpc::CreateChannel(server_->target(), grpc::SslCredentials(tls));
  admin_channel_ =
      grpc::CreateChannel(server_->server().admin_address(), grpc::InsecureChannelCredentials());
  Rebuild();
}

void ServiceFixture::Rebuild() {
  using testing::MessengerDevice;
  people_.clear();
  auto gp = MessengerDevice::NewAccount(*server_, "Dr. Luc Martin (GP)");
  auto nurse = MessengerDevice::NewAccount(*server_, "Anne Peeters (home nurse)");
  auto social = MessengerDevice::NewAccount(*server_, "Social worker", v1::ACCOUNT_KIND_SOCIAL);
  auto helpdesk = MessengerDevice::NewAccount(*server_, "Helpdesk", v1::ACCOUNT_KIND_HELPDESK);

  const std::string team = testing::NewTeamWithRecordedConsent(*gp);
  FuzzCheck(!team.empty(), "fixture: the team");
  testing::JoinTeam(*gp, team, *nurse, v1::ROLE_PROFESSIONAL);
  const std::string other_team = testing::NewTeamWithRecordedConsent(*social);
  FuzzCheck(!other_team.empty(), "fixture: the other team");

  v1::OpenIntakeRequest call;
  call.set_caller_kind(v1::CALLER_KIND_CAREGIVER);
  call.set_urgency(v1::INTAKE_URGENCY_NORMAL);
  call.set_category(v1::INTAKE_CATEGORY_HOSPITAL_DISCHARGE);
  call.set_source(v1::INTAKE_SOURCE_VOICEMAIL);
  call.set_team_id(team);
  const v1::Intake intake = Must(helpdesk->relay().OpenIntake(call), "fixture: the intake");

  v1::DirectoryEntry entry;
  entry.set_name("Dr. Luc Martin");
  entry.set_profession("general practitioner");
  entry.set_region("Ixelles");
  Must(gp->relay().PublishDirectoryEntry(entry), "fixture: the directory entry");

  const std::string letter(1000, 'L');
  const v1::AttachmentInfo upload =
      Must(gp->relay().CreateUpload(team, v1::CHANNEL_CLINICAL, letter.size(), Sha256(letter)),
           "fixture: the upload");
  const std::string photo(3000, 'P');
  const v1::AttachmentInfo done =
      Must(gp->relay().CreateUpload(team, v1::CHANNEL_CLINICAL, photo.size(), Sha256(photo)),
           "fixture: the photo's upload");
  bool sent = false;
  Must(gp->relay().Upload(done.attachment_id(), 0,
                          [&]() -> absl::StatusOr<std::string> {
                            if (sent) return std::string();
                            sent = true;
                            return photo;
                          }),
       "fixture: the photo");
  const std::string urgent =
      Must(gp->m().SendUrgentTeamText(team, v1::CHANNEL_CARE, "Fever 39.5, call me"),
           "fixture: the urgent message");

  placeholders_ = {
      {"$TEAM", team},
      {"$OTHER_TEAM", other_team},
      {"$GP", gp->account()},
      {"$NURSE", nurse->account()},
      {"$SOCIAL", social->account()},
      {"$HELPDESK", helpdesk->account()},
      {"$INTAKE", intake.intake_id()},
      {"$UPLOAD", upload.attachment_id()},
      {"$PHOTO", done.attachment_id()},
      {"$URGENT", urgent},
  };
  callers_ = {gp->relay().credentials(), nurse->relay().credentials(),
              helpdesk->relay().credentials(), client::DeviceCredentials()};
  people_.push_back(std::move(gp));
  people_.push_back(std::move(nurse));
  people_.push_back(std::move(social));
  people_.push_back(std::move(helpdesk));
}

void ServiceFixture::Substitute(Message* message) const {
  const Reflection* reflection = message->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      SubstituteField(placeholders_, message, field);
    } else if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(*message, field); ++i) {
        Substitute(reflection->MutableRepeatedMessage(message, field, i));
      }
    } else {
      Substitute(reflection->MutableMessage(message, field));
    }
  }
}

bool ServiceFixture::MayChangeTheFixture(const google::protobuf::MethodDescriptor& method) {
  static const std::set<std::string> kChanging = {
      "RevokeDevice",  "RemoveMember",    "ChangeRole",    "DesignateCoordinator",
      "CloseTeam",     "EraseTeam",       "SetTeamAccess", "RespondToInvitation",
      "AnswerConsent", "RecordConsent",   "AcceptIntake",  "RouteIntake",
      "ResolveIntake", "CancelIntake",    "Upload",        "AcknowledgeUrgent",
      "RemoveEntry",   "SetSignedPrekey", "AssessIntake",  "EvaluateCaseManagement",
      "AnswerIntake",  "PromiseCallback",
  };
  return kChanging.count(method.name()) > 0;
}

grpc::Status ServiceFixture::Call(const google::protobuf::MethodDescriptor& method,
                                  const Message& request, Caller caller) {
  const bool admin = method.service()->name() == "Admin";
  const bool streams = method.client_streaming() || method.server_streaming();
  std::string bytes = request.SerializeAsString();
  std::string checkpoint;
  if (admin && method.name() == "Checkpoint") {
    // The admin socket may write a checkpoint anywhere the server can; keep
    // the fuzzed directory name but under the scratch directory (hex: no
    // "/" or ".." from the input).
    auto copy = std::unique_ptr<Message>(request.New());
    copy->CopyFrom(request);
    const FieldDescriptor* directory = copy->GetDescriptor()->FindFieldByName("directory");
    const std::string fuzzed = copy->GetReflection()->GetString(*copy, directory);
    if (!fuzzed.empty()) {
      checkpoint = scratch_.Sub("cp" + std::to_string(checkpoints_++) + "-" +
                                absl::BytesToHexString(fuzzed.substr(0, 32)));
      copy->GetReflection()->SetString(copy.get(), directory, checkpoint);
    }
    bytes = copy->SerializeAsString();
  }

  grpc::GenericStub stub(admin ? admin_channel_ : channel_);
  grpc::ClientContext context;
  // A stream that neither ends nor drains (a full window) is not a finding:
  // it is cut short.
  context.set_deadline(std::chrono::system_clock::now() +
                       (streams ? std::chrono::seconds(1) : std::chrono::seconds(30)));
  const client::DeviceCredentials& who = callers_[static_cast<int>(caller)];
  if (!admin && caller != Caller::kNobody) {
    context.AddMetadata(api::kAccountHeader, who.account_id);
    context.AddMetadata(api::kDeviceHeader, std::to_string(who.device_id));
    context.AddMetadata(api::kSecretHeader, absl::Base64Escape(who.secret));
  }
  grpc::CompletionQueue cq;
  const std::string path = "/" + method.service()->full_name() + "/" + method.name();
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, path, &cq);
  call->StartCall(nullptr);
  grpc::Status status;
  if (Await(cq)) {
    grpc::Slice slice(bytes);
    grpc::ByteBuffer buffer(&slice, 1);
    call->Write(buffer, nullptr);
    if (Await(cq)) {
      call->WritesDone(nullptr);
      Await(cq);
    }
    bool ended = false;
    for (int i = 0; i < kMaxResponses && !ended; ++i) {
      grpc::ByteBuffer response;
      call->Read(&response, nullptr);
      if (!Await(cq)) {
        ended = true;
        break;
      }
      if (method.name() == "Receive") {
        std::vector<grpc::Slice> slices;
        v1::ReceiveResponse parsed;
        if (response.Dump(&slices).ok()) {
          std::string data;
          for (const grpc::Slice& s : slices) data.append(s.begin(), s.end());
          if (parsed.ParseFromString(data) && parsed.queue_drained()) break;
        }
      }
    }
    if (!ended) context.TryCancel();
  }
  call->Finish(&status, nullptr);
  Await(cq);
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  if (!checkpoint.empty()) std::filesystem::remove_all(checkpoint);
  return status;
}

}  // namespace carerelay::fuzz
