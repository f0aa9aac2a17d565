// DeviceChannel: the connection layout of carerelay-bench, the same for
// every system it measures: one gRPC channel, hence one TCP connection and
// one TLS session, per device, as each device of a care team has its own.
// Channels get a distinct channel argument and a local subchannel pool, so
// that gRPC does not share one connection among devices with equal
// settings (which it otherwise does, by subchannel).
//
// A DeviceChannel also holds what a call needs to authenticate as its
// device (the metadata libcarerelay sends) and the delivery watermark
// version the device has seen, which its next Receive stream resumes from.
#ifndef CARERELAY_BENCH_DEVICE_CHANNEL_H_
#define CARERELAY_BENCH_DEVICE_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "carerelay/v1/messages.grpc.pb.h"
#include "client/relay_client.h"

namespace carerelay::bench {

struct DeviceChannel {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Messages::Stub> stub;
  client::DeviceCredentials credentials;
  std::string device_id_text;  // credentials.device_id, as metadata
  std::string secret_base64;   // credentials.secret, as metadata
  // Highest DeliveryWatermark.version received (ReceiveRequest resumes here).
  uint64_t watermark_version = 0;

  // Adds the authentication metadata of this device to `context`.
  void Authenticate(grpc::ClientContext* context) const;
};

// One channel per device to `target`, over TLS with the CA in PEM
// `ca_pem`, each connected before this returns (UNAVAILABLE naming the
// first device that could not connect within `connect_timeout`).
absl::StatusOr<std::vector<DeviceChannel>> ConnectDevices(
    const std::string& target, const std::string& ca_pem,
    const std::vector<client::DeviceCredentials>& devices, absl::Duration connect_timeout);

}  // namespace carerelay::bench

#endif  // CARERELAY_BENCH_DEVICE_CHANNEL_H_
