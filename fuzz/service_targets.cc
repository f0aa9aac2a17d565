// One fuzz target per public service (and the admin socket's): the input is
// [method][caller][a serialized request], sent through a real server
// (service_fixture.h). A finding is a status no proto documents: INTERNAL
// or UNKNOWN (a handler that threw, a store error surfacing as such, or an
// unhandled case), or a crash or sanitizer report in the server.
//
// Requests that do not parse as the method's request message are not sent:
// what the server does with unparseable bytes is gRPC's and protobuf's code
// (the bad-input catalogue covers it), and a fuzzer that learned to spend
// its time there would find nothing of ours.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/text_format.h>

#include <cstdlib>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "carerelay/v1/accounts.pb.h"
#include "carerelay/v1/admin.pb.h"
#include "carerelay/v1/attachments.pb.h"
#include "carerelay/v1/directory.pb.h"
#include "carerelay/v1/intakes.pb.h"
#include "carerelay/v1/keys.pb.h"
#include "carerelay/v1/messages.pb.h"
#include "carerelay/v1/teams.pb.h"
#include "carerelay/v1/urgency.pb.h"
#include "fuzz/fuzz_target.h"
#include "fuzz/service_fixture.h"

namespace carerelay::fuzz {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::Message;
using google::protobuf::MessageFactory;
using google::protobuf::MethodDescriptor;
using google::protobuf::ServiceDescriptor;

const ServiceDescriptor& Service(const std::string& name) {
  const ServiceDescriptor* service =
      DescriptorPool::generated_pool()->FindServiceByName("carerelay.v1." + name);
  FuzzCheck(service != nullptr, "no service carerelay.v1." + name);
  return *service;
}

std::unique_ptr<Message> NewRequest(const MethodDescriptor& method) {
  const Message* prototype = MessageFactory::generated_factory()->GetPrototype(method.input_type());
  return std::unique_ptr<Message>(prototype->New());
}

void RunService(const std::string& name, absl::string_view input) {
  if (input.size() < 2) return;
  const ServiceDescriptor& service = Service(name);
  const MethodDescriptor& method =
      *service.method(static_cast<uint8_t>(input[0]) % service.method_count());
  const auto caller = static_cast<Caller>(static_cast<uint8_t>(input[1]) % kCallerCount);
  std::unique_ptr<Message> request = NewRequest(method);
  if (!request->ParseFromArray(input.data() + 2, static_cast<int>(input.size() - 2))) return;

  ServiceFixture& fixture = ServiceFixture::Get();
  fixture.Substitute(request.get());
  const grpc::Status status = fixture.Call(method, *request, caller);
  FuzzCheck(status.error_code() != grpc::StatusCode::INTERNAL &&
                status.error_code() != grpc::StatusCode::UNKNOWN,
            absl::StrCat(method.full_name(), " answered ", status.error_code(), " \"",
                         status.error_message(), "\" to ", request->ShortDebugString()));
  // CARERELAY_FUZZ_VERBOSE=1: what each input did, for whoever writes seeds.
  static const bool verbose = std::getenv("CARERELAY_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    std::cerr << method.full_name() << " as caller " << static_cast<int>(caller) << ": "
              << status.error_code() << " " << status.error_message() << "\n";
  }
  if (status.ok() && ServiceFixture::MayChangeTheFixture(method)) fixture.Rebuild();
}

// A seed: a method, a caller and the request in protobuf text format, with
// placeholders for the fixture's ids.
struct Seed {
  const char* method;
  Caller caller;
  const char* request;
};

std::vector<std::string> MakeSeeds(const std::string& name, const std::vector<Seed>& seeds) {
  const ServiceDescriptor& service = Service(name);
  std::vector<std::string> out;
  for (const Seed& seed : seeds) {
    const MethodDescriptor* method = service.FindMethodByName(seed.method);
    FuzzCheck(method != nullptr, absl::StrCat("seed for unknown method ", name, ".", seed.method));
    std::unique_ptr<Message> request = NewRequest(*method);
    FuzzCheck(google::protobuf::TextFormat::ParseFromString(seed.request, request.get()),
              absl::StrCat("seed for ", seed.method, " does not parse: ", seed.request));
    std::string input;
    input.push_back(static_cast<char>(method->index()));
    input.push_back(static_cast<char>(seed.caller));
    input += request->SerializeAsString();
    out.push_back(std::move(input));
  }
  return out;
}

constexpr Caller kGp = Caller::kCoordinator;
constexpr Caller kNurse = Caller::kMember;
constexpr Caller kDesk = Caller::kHelpdesk;
constexpr Caller kNobody = Caller::kNobody;

#define SERVICE_TARGET(var, service, ...)                                             \
  void Run##var(absl::string_view input) { RunService(service, input); }              \
  std::vector<std::string> Seeds##var() { return MakeSeeds(service, {__VA_ARGS__}); } \
  CARERELAY_FUZZ_TARGET(k##var, "service_" #var, Run##var, Seeds##var)

SERVICE_TARGET(
    accounts, "Accounts", {"Register", kNobody, R"(code: "ABCD-EFGH" registration_id: 7)"},
    {"LinkDevice", kGp, "ttl_seconds: 60 issued_at_unix: 1700000000"}, {"ListDevices", kGp, ""},
    {"RevokeDevice", kNurse, "device_id: 2"}, {"GetAccount", kDesk, ""},
    {"ChangeRoster", kNurse, R"(staff_account_id: "$GP" action: ACTION_ADD)"},
    {"ChangeRoster", kGp,
     R"(organisation_account_id: "$NURSE" staff_account_id: "$GP" action: ACTION_ON_DUTY)"},
    {"GetRoster", kDesk, R"(organisation_account_id: "$NURSE")"});

SERVICE_TARGET(keys, "Keys",
               {"SetSignedPrekey", kGp, R"(signed_prekey { key_id: 9 public_key: "\005abc" })"},
               {"AddOneTimePrekeys", kNurse,
                R"(prekeys { key_id: 100 public_key: "\005xyz" } prekeys { key_id: 101 })"},
               {"CountOneTimePrekeys", kGp, ""},
               {"GetPrekeyBundles", kGp, R"(account_id: "$NURSE")"},
               {"GetPrekeyBundles", kNurse, R"(account_id: "$GP" device_id: 1)"});

SERVICE_TARGET(messages, "Messages",
               {"Send", kGp,
                R"(account_id: "$NURSE" envelopes { account_id: "$NURSE" device_id: 1
                   type: ENVELOPE_TYPE_CIPHERTEXT content: "opaque" })"},
               {"Send", kNurse,
                R"(team_id: "$TEAM" channel: CHANNEL_CARE envelopes { account_id: "$GP"
                   device_id: 1 type: ENVELOPE_TYPE_CIPHERTEXT content: "group" })"},
               {"Receive", kNurse, "window_messages: 4 max_envelopes_per_message: 2"},
               {"Ack", kNurse, "through_sequence: 3"});

SERVICE_TARGET(teams, "Teams", {"CreateTeam", kGp, "creator_role: ROLE_COORDINATOR"},
               {"GetTeam", kNurse, R"(team_id: "$TEAM")"}, {"ListTeams", kGp, ""},
               {"Invite", kGp, R"(team_id: "$TEAM" account_id: "$SOCIAL" role: ROLE_SOCIAL)"},
               {"RespondToInvitation", kNurse, R"(team_id: "$OTHER_TEAM" accept: true)"},
               {"RemoveMember", kGp, R"(team_id: "$TEAM" account_id: "$NURSE")"},
               {"ChangeRole", kGp,
                R"(team_id: "$TEAM" account_id: "$NURSE" role: ROLE_CASE_MANAGER)"},
               {"DesignateCoordinator", kGp, R"(team_id: "$TEAM" account_id: "$NURSE")"},
               {"AnswerConsent", kNurse, R"(team_id: "$TEAM" account_id: "$NURSE" agree: true)"},
               {"RecordConsent", kGp, R"(team_id: "$TEAM")"},
               {"SetTeamAccess", kGp,
                R"(team_id: "$TEAM" rules { role: ROLE_PROFESSIONAL channel: CHANNEL_CLINICAL
                   read: true post: false })"},
               {"CloseTeam", kGp, R"(team_id: "$TEAM" reason: "end of pathway")"},
               {"EraseTeam", kNurse, R"(team_id: "$TEAM")"},
               {"SetBlindIndex", kGp,
                R"(team_id: "$TEAM" index: "0123456789abcdef0123456789abcdef" key_version: "1"
                   kind: BLIND_INDEX_KIND_NAME_AND_BIRTH_DATE)"},
               {"FindTeams", kNurse, R"(index: "0123456789abcdef0123456789abcdef")"},
               {"ReadAudit", kNurse, R"(team_id: "$TEAM" after_sequence: 1 limit: 2)"},
               {"VerifyAudit", kGp, R"(team_id: "$OTHER_TEAM")"},
               {"SetHistoryVisibility", kGp, R"(team_id: "$TEAM" scope: SCOPE_LAST_DAYS days: 30)"},
               {"RecordHistoryShared", kGp,
                R"(team_id: "$TEAM" recipient_account_id: "$NURSE" entry_count: 12
                   from_ms: 1767225600000 channels: CHANNEL_TEAM channels: CHANNEL_CARE)"});

SERVICE_TARGET(directory, "Directory",
               {"PublishEntry", kNurse,
                R"(entry { name: "Anne Peeters" profession: "home nurse" region: "Ixelles" })"},
               {"RemoveEntry", kNurse, ""}, {"GetEntry", kNurse, R"(account_id: "$GP")"},
               {"SearchDirectory", kDesk, R"(name: "Martin" region: "Ixelles")"},
               {"SetAbsence", kGp,
                R"(absence { from_ms: 1 to_ms: 9999999999999 substitute_account_id: "$NURSE" })"},
               {"PutResource", kDesk,
                R"(resource { name: "CPAS Ixelles" kind: RESOURCE_KIND_SERVICE needs: "aide sociale"
                   areas: "1050" languages: "fr" phone: "02 515 60 00" })"},
               {"ImportResources", kDesk,
                R"(resources { name: "Thuiszorg" kind: RESOURCE_KIND_SERVICE source_ref: "BS-1" }
                   resources { name: "Groupe" kind: RESOURCE_KIND_ACTIVITY areas: "Ixelles" })"},
               {"RemoveResource", kDesk, R"(resource_id: "00112233445566778899aabbccddeeff")"},
               {"GetResource", kNurse, R"(resource_id: "00112233445566778899aabbccddeeff")"},
               {"SearchResources", kNurse,
                R"(need: "aide" area: "10" language: "fr" limit: 3 page_token: "61")"});

SERVICE_TARGET(
    intakes, "Intakes",
    {"OpenIntake", kDesk,
     R"(caller_kind: CALLER_KIND_PATIENT urgency: INTAKE_URGENCY_HIGH
                   category: INTAKE_CATEGORY_HOSPITAL_DISCHARGE source: INTAKE_SOURCE_VOICEMAIL
                   team_id: "$TEAM")"},
    {"RouteIntake", kDesk,
     R"(intake_id: "$INTAKE" route_kind: ROUTE_KIND_PROFESSIONAL account_id: "$NURSE")"},
    {"RouteIntake", kDesk,
     R"(intake_id: "$INTAKE" route_kind: ROUTE_KIND_CASE_MANAGER_POOL region: "Ixelles")"},
    {"AcceptIntake", kNurse, R"(intake_id: "$INTAKE")"},
    {"ResolveIntake", kDesk, R"(intake_id: "$INTAKE")"},
    {"CancelIntake", kDesk, R"(intake_id: "$INTAKE")"},
    {"GetIntake", kGp, R"(intake_id: "$INTAKE")"},
    {"ListIntakes", kDesk, "filter: FILTER_OVERDUE limit: 3"},
    {"AssessIntake", kDesk,
     R"(intake_id: "$INTAKE" case_manager_account_id: "$NURSE" period_days: 60
        reason: "unstable situation")"},
    {"EvaluateCaseManagement", kDesk,
     R"(intake_id: "$INTAKE" decision: DECISION_EXTEND period_days: 30 reason: "continues")"},
    {"AnswerIntake", kDesk,
     R"(intake_id: "$INTAKE" oriented: true resources: "ixelles-cpas" resources: "day-centre")"},
    {"PromiseCallback", kDesk, R"(intake_id: "$INTAKE" callback_at_ms: 4102444800000)"},
    {"ReportIntakes", kDesk, "from_ms: 0 to_ms: 4102444800000"});

SERVICE_TARGET(attachments, "Attachments",
               {"CreateUpload", kGp,
                R"(team_id: "$TEAM" channel: CHANNEL_CLINICAL ciphertext_size: 10
                   digest: "0123456789abcdef0123456789abcdef")"},
               {"GetUpload", kGp, R"(attachment_id: "$UPLOAD")"},
               {"Upload", kGp, R"(attachment_id: "$UPLOAD" offset: 0 data: "LLLLLLLLLL")"},
               {"Download", kNurse, R"(attachment_id: "$PHOTO" offset: 100)"});

SERVICE_TARGET(urgency, "Urgency", {"AcknowledgeUrgent", kNurse, R"(message_id: "$URGENT")"},
               {"ListAcknowledgements", kGp, R"(message_id: "$URGENT")"});

SERVICE_TARGET(admin, "Admin",
               {"IssueEnrollmentCode", kNobody,
                R"(display_name: "Marie Dubois" kind: ACCOUNT_KIND_CAREGIVER ttl_seconds: 60)"},
               {"Checkpoint", kNobody, R"(directory: "nightly")"}, {"ListErasedTeams", kNobody, ""},
               {"ReadErasedTeamAudit", kNobody, R"(team_id: "$TEAM")"},
               {"SetAccountFunctions", kNobody,
                R"(account_id: "$NURSE" grant: FUNCTION_CASE_MANAGER kind: ACCOUNT_KIND_SOCIAL)"},
               {"ListAccountFunctions", kNobody, R"(account_id: "$HELPDESK")"});

}  // namespace
}  // namespace carerelay::fuzz
