// What the per-service fuzz targets (service_targets.cc) call into: a real
// server started in-process on a loopback port with TLS over a real RocksDB
// in a temporary directory (tests/test_support.h), peopled with a care team
// and what hangs off it, and a way to send one fuzzed request to any method
// as one of its people.
//
// Why through the server and not the handlers: the handlers are gRPC
// callback reactors whose credentials come from the call's metadata; a real
// call is the only way to reach them as a client does, with
// authentication, rate limits, the metrics interceptor and the store all on
// the path.
//
// Ids in requests: a fuzzer cannot guess a team's random id, so seeds name
// the fixture's things with placeholders ("$TEAM", "$INTAKE", ...; see
// Placeholders()) in any string or bytes field, which Substitute() replaces
// with the real ids before the call. A mutated placeholder is just another
// bad id.
//
// Thread-safety: one caller at a time (the fuzz drivers are single-threaded).
#ifndef CARERELAY_FUZZ_SERVICE_FIXTURE_H_
#define CARERELAY_FUZZ_SERVICE_FIXTURE_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/test_support.h"

namespace carerelay::fuzz {

// Who makes a fuzzed call.
enum class Caller : int {
  kCoordinator = 0,  // the GP who convened the team and holds every right on it
  kMember = 1,       // a home nurse on the team
  kHelpdesk = 2,     // the helpdesk that opened the intake
  kNobody = 3,       // no credentials at all
};
inline constexpr int kCallerCount = 4;

class ServiceFixture {
 public:
  // The process's fixture, started on first use.
  static ServiceFixture& Get();

  // Placeholder → the id it stands for, for seeds and Substitute().
  const std::map<std::string, std::string>& Placeholders() const { return placeholders_; }

  // Replaces, in every string and bytes field of `message` (recursively),
  // a value equal to a placeholder with what it stands for.
  void Substitute(google::protobuf::Message* message) const;

  // Sends `request` to `method` as `caller` and reads at most a few responses
  // (a Receive stream is cancelled once its queue is drained). Returns the
  // call's status (CANCELLED for a stream the fixture ended).
  grpc::Status Call(const google::protobuf::MethodDescriptor& method,
                    const google::protobuf::Message& request, Caller caller);

  // After `method` succeeded: whether the call may have broken the
  // fixture (revoked the caller, removed someone, closed the team, ...), so
  // that the next input starts from a fresh set of people and team.
  static bool MayChangeTheFixture(const google::protobuf::MethodDescriptor& method);
  // Makes new people, team, intake and attachments on the same server.
  void Rebuild();

 private:
  ServiceFixture();

  std::unique_ptr<testing::TestServer> server_;
  std::shared_ptr<grpc::Channel> channel_;        // TLS, the public port
  std::shared_ptr<grpc::Channel> admin_channel_;  // the admin socket
  testing::TempDir scratch_;                      // where Checkpoint may write
  std::vector<std::unique_ptr<testing::MessengerDevice>> people_;
  std::vector<client::DeviceCredentials> callers_;  // by Caller
  std::map<std::string, std::string> placeholders_;
  int checkpoints_ = 0;
};

}  // namespace carerelay::fuzz

#endif  // CARERELAY_FUZZ_SERVICE_FIXTURE_H_
