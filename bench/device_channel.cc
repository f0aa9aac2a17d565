#include "bench/device_channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace carerelay::bench {

void DeviceChannel::Authenticate(grpc::ClientContext* context) const {
  // The metadata of libcarerelay (client/relay_client.cc, NewContext).
  context->AddMetadata("carerelay-account", credentials.account_id);
  context->AddMetadata("carerelay-device", device_id_text);
  context->AddMetadata("carerelay-secret", secret_base64);
}

absl::StatusOr<std::vector<DeviceChannel>> ConnectDevices(
    const std::string& target, const std::string& ca_pem,
    const std::vector<client::DeviceCredentials>& devices, absl::Duration connect_timeout) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca_pem;
  auto creds = grpc::SslCredentials(ssl);
  std::vector<DeviceChannel> out;
  out.reserve(devices.size());
  for (size_t i = 0; i < devices.size(); ++i) {
    // libcarerelay's channel arguments (client/relay_client.cc), plus what
    // keeps this channel's connection its own.
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(64 << 20);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("carerelay.bench.device", static_cast<int>(i));
    DeviceChannel d;
    d.channel = grpc::CreateCustomChannel(target, creds, args);
    d.stub = v1::Messages::NewStub(d.channel);
    d.credentials = devices[i];
    d.device_id_text = absl::StrCat(devices[i].device_id);
    d.secret_base64 = absl::Base64Escape(devices[i].secret);
    out.push_back(std::move(d));
  }
  const auto deadline = absl::ToChronoTime(absl::Now() + connect_timeout);
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].channel->WaitForConnected(deadline)) {
      return absl::UnavailableError(absl::StrCat("device ", i, " could not connect to ", target,
                                                 " within ",
                                                 absl::FormatDuration(connect_timeout)));
    }
  }
  return out;
}

}  // namespace carerelay::bench
