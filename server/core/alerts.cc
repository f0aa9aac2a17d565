#include "server/core/alerts.h"

namespace carerelay::core {

absl::Status QueueAlert(const AccountRegistry& accounts, ServerEnvelopes& out,
                        const store::AccountId& account, v1::Alert alert, int64_t now_ms) {
  absl::StatusOr<std::vector<store::DeviceRecord>> devices = accounts.ActiveDevices(account);
  if (absl::IsNotFound(devices.status())) return absl::OkStatus();
  if (!devices.ok()) return devices.status();
  alert.set_at_ms(now_ms);
  v1::Envelope envelope;
  envelope.set_type(v1::ENVELOPE_TYPE_ALERT);
  envelope.set_priority(v1::PRIORITY_URGENT);
  envelope.set_team_id(alert.team_id());
  envelope.set_content(alert.SerializeAsString());
  for (const auto& d : *devices) out.Add({account, d.device_id()}, envelope);
  return absl::OkStatus();
}

}  // namespace carerelay::core
