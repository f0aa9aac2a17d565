// The wire form of this device's public keys (crypto/ key_manager.h ->
// carerelay.v1 messages), in one place for registration and key uploads.
#ifndef CARERELAY_CLIENT_KEY_UPLOAD_H_
#define CARERELAY_CLIENT_KEY_UPLOAD_H_

#include <string>
#include <vector>

#include "carerelay/v1/accounts.pb.h"
#include "crypto/key_manager.h"

namespace carerelay::client {

v1::SignedPrekey ToProto(const crypto::PublicSignedPreKey& key);
v1::OneTimePrekey ToProto(const crypto::PublicPreKey& key);
std::vector<v1::OneTimePrekey> ToProto(const std::vector<crypto::PublicPreKey>& keys);

// A RegisterRequest carrying `keys`.
v1::RegisterRequest MakeRegisterRequest(const crypto::RegistrationKeys& keys,
                                        const std::string& code, const std::string& device_name);

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_KEY_UPLOAD_H_
