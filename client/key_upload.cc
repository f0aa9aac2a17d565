#include "client/key_upload.h"

namespace carerelay::client {

v1::SignedPrekey ToProto(const crypto::PublicSignedPreKey& key) {
  v1::SignedPrekey p;
  p.set_key_id(key.key_id);
  p.set_public_key(key.public_key);
  p.set_signature(key.signature);
  return p;
}

v1::OneTimePrekey ToProto(const crypto::PublicPreKey& key) {
  v1::OneTimePrekey p;
  p.set_key_id(key.key_id);
  p.set_public_key(key.public_key);
  return p;
}

std::vector<v1::OneTimePrekey> ToProto(const std::vector<crypto::PublicPreKey>& keys) {
  std::vector<v1::OneTimePrekey> out;
  out.reserve(keys.size());
  for (const auto& k : keys) out.push_back(ToProto(k));
  return out;
}

v1::RegisterRequest MakeRegisterRequest(const crypto::RegistrationKeys& keys,
                                        const std::string& code, const std::string& device_name) {
  v1::RegisterRequest request;
  request.set_code(code);
  request.set_identity_key(keys.identity_key);
  request.set_registration_id(keys.registration_id);
  request.set_device_name(device_name);
  *request.mutable_signed_prekey() = ToProto(keys.signed_prekey);
  for (const auto& k : keys.one_time_prekeys) *request.add_one_time_prekeys() = ToProto(k);
  return request;
}

}  // namespace carerelay::client
