// The OpenSSL-backed libsignal crypto provider, checked through the same
// function pointers libsignal calls, against published vectors:
// RFC 4231 (HMAC-SHA256), FIPS 180 examples (SHA-512), NIST SP 800-38A
// (AES-CBC, AES-CTR).

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/escaping.h"
#include "crypto/openssl_provider.h"
#include "crypto/signal_context.h"
#include "crypto/signal_ptr.h"

namespace carerelay::crypto {
namespace {

std::string Hex(const std::string& bytes) { return absl::BytesToHexString(bytes); }
std::string Unhex(const std::string& hex) { return absl::HexStringToBytes(hex); }
const uint8_t* U8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

class ProviderTest : public ::testing::Test {
 protected:
  std::string Hmac(const std::string& key, const std::string& data) {
    void* ctx = nullptr;
    EXPECT_EQ(p_.hmac_sha256_init_func(&ctx, U8(key), key.size(), nullptr), 0);
    // Feed in two pieces to exercise update.
    const size_t half = data.size() / 2;
    EXPECT_EQ(p_.hmac_sha256_update_func(ctx, U8(data), half, nullptr), 0);
    EXPECT_EQ(p_.hmac_sha256_update_func(ctx, U8(data) + half, data.size() - half, nullptr), 0);
    SignalBuffer out;
    EXPECT_EQ(p_.hmac_sha256_final_func(ctx, Out(out), nullptr), 0);
    p_.hmac_sha256_cleanup_func(ctx, nullptr);
    return BufferToString(out.get());
  }

  std::string Sha512(void* ctx, const std::string& data) {
    EXPECT_EQ(p_.sha512_digest_update_func(ctx, U8(data), data.size(), nullptr), 0);
    SignalBuffer out;
    EXPECT_EQ(p_.sha512_digest_final_func(ctx, Out(out), nullptr), 0);
    return BufferToString(out.get());
  }

  int Crypt(bool encrypt, int cipher, const std::string& key, const std::string& iv,
            const std::string& in, std::string* out) {
    SignalBuffer buffer;
    const int rc = encrypt ? p_.encrypt_func(Out(buffer), cipher, U8(key), key.size(), U8(iv),
                                             iv.size(), U8(in), in.size(), nullptr)
                           : p_.decrypt_func(Out(buffer), cipher, U8(key), key.size(), U8(iv),
                                             iv.size(), U8(in), in.size(), nullptr);
    if (rc == 0) *out = BufferToString(buffer.get());
    return rc;
  }

  signal_crypto_provider p_ = OpenSslCryptoProvider();
};

TEST_F(ProviderTest, EveryCallbackIsSet) {
  EXPECT_NE(p_.random_func, nullptr);
  EXPECT_NE(p_.hmac_sha256_init_func, nullptr);
  EXPECT_NE(p_.hmac_sha256_update_func, nullptr);
  EXPECT_NE(p_.hmac_sha256_final_func, nullptr);
  EXPECT_NE(p_.hmac_sha256_cleanup_func, nullptr);
  EXPECT_NE(p_.sha512_digest_init_func, nullptr);
  EXPECT_NE(p_.sha512_digest_update_func, nullptr);
  EXPECT_NE(p_.sha512_digest_final_func, nullptr);
  EXPECT_NE(p_.sha512_digest_cleanup_func, nullptr);
  EXPECT_NE(p_.encrypt_func, nullptr);
  EXPECT_NE(p_.decrypt_func, nullptr);
}

TEST_F(ProviderTest, RandomFillsAndDiffers) {
  std::string a(64, '\0'), b(64, '\0');
  ASSERT_EQ(p_.random_func(reinterpret_cast<uint8_t*>(a.data()), a.size(), nullptr), 0);
  ASSERT_EQ(p_.random_func(reinterpret_cast<uint8_t*>(b.data()), b.size(), nullptr), 0);
  EXPECT_NE(a, std::string(64, '\0'));
  EXPECT_NE(a, b);
}

TEST_F(ProviderTest, HmacSha256Rfc4231) {
  // Test case 1.
  EXPECT_EQ(Hex(Hmac(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2: a key shorter than the output.
  EXPECT_EQ(Hex(Hmac("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 4.
  EXPECT_EQ(Hex(Hmac(Unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                     std::string(50, '\xcd'))),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  // Test cases 6 and 7: a key longer than the block size.
  EXPECT_EQ(
      Hex(Hmac(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(Hex(Hmac(std::string(131, '\xaa'),
                     "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the "
                     "HMAC algorithm.")),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST_F(ProviderTest, HmacSha256EmptyKeyEqualsZeroKey) {
  // HMAC zero-pads keys, so "" and "\0" are the same key.
  EXPECT_EQ(Hmac("", "data"), Hmac(std::string(1, '\0'), "data"));
  EXPECT_NE(Hmac("", "data"), Hmac("k", "data"));
}

TEST_F(ProviderTest, Sha512KnownAnswersAndReuseAfterFinal) {
  void* ctx = nullptr;
  ASSERT_EQ(p_.sha512_digest_init_func(&ctx, nullptr), 0);
  EXPECT_EQ(Hex(Sha512(ctx, "abc")),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  // The same context, reused after final, as libsignal's fingerprints do.
  EXPECT_EQ(Hex(Sha512(ctx, "")),
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
            "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
  EXPECT_EQ(Hex(Sha512(ctx, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
            "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445");
  p_.sha512_digest_cleanup_func(ctx, nullptr);
}

// NIST SP 800-38A, appendix F: the same four plaintext blocks throughout.
const char kNistPlaintext[] =
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
const char kKey128[] = "2b7e151628aed2a6abf7158809cf4f3c";
const char kKey192[] = "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b";
const char kKey256[] = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
const char kCbcIv[] = "000102030405060708090a0b0c0d0e0f";
const char kCtrIv[] = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

struct AesVector {
  int cipher;
  const char* key;
  const char* iv;
  const char* ciphertext;  // of the 64 plaintext bytes
};

class AesVectorTest : public ProviderTest, public ::testing::WithParamInterface<AesVector> {};

TEST_P(AesVectorTest, EncryptsAndDecrypts) {
  const AesVector& v = GetParam();
  const std::string key = Unhex(v.key), iv = Unhex(v.iv), plain = Unhex(kNistPlaintext);
  std::string ciphertext, decrypted;
  ASSERT_EQ(Crypt(true, v.cipher, key, iv, plain, &ciphertext), 0);
  if (v.cipher == SG_CIPHER_AES_CBC_PKCS5) {
    // PKCS#5 adds a whole block to a block-aligned input; the rest is NIST's.
    ASSERT_EQ(ciphertext.size(), plain.size() + 16);
    EXPECT_EQ(Hex(ciphertext.substr(0, plain.size())), v.ciphertext);
  } else {
    EXPECT_EQ(Hex(ciphertext), v.ciphertext);
  }
  ASSERT_EQ(Crypt(false, v.cipher, key, iv, ciphertext, &decrypted), 0);
  EXPECT_EQ(decrypted, plain);
}

INSTANTIATE_TEST_SUITE_P(
    NistSp80038a, AesVectorTest,
    ::testing::Values(AesVector{SG_CIPHER_AES_CBC_PKCS5, kKey128, kCbcIv,  // F.2.1
                                "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
                                "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7"},
                      AesVector{SG_CIPHER_AES_CBC_PKCS5, kKey192, kCbcIv,  // F.2.3
                                "4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a"
                                "571b242012fb7ae07fa9baac3df102e008b0e27988598881d920a9e64f5615cd"},
                      AesVector{SG_CIPHER_AES_CBC_PKCS5, kKey256, kCbcIv,  // F.2.5
                                "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
                                "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b"},
                      AesVector{SG_CIPHER_AES_CTR_NOPADDING, kKey128, kCtrIv,  // F.5.1
                                "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
                                "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"},
                      AesVector{SG_CIPHER_AES_CTR_NOPADDING, kKey192, kCtrIv,  // F.5.3
                                "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e94"
                                "1e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050"},
                      AesVector{
                          SG_CIPHER_AES_CTR_NOPADDING, kKey256, kCtrIv,  // F.5.5
                          "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
                          "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6"}));

TEST_F(ProviderTest, CbcPadsUnalignedInputAndCtrKeepsLength) {
  const std::string key = Unhex(kKey256), iv = Unhex(kCbcIv);
  for (size_t len : {0u, 1u, 15u, 16u, 17u, 100u}) {
    const std::string plain(len, 'x');
    std::string cbc, ctr, back;
    ASSERT_EQ(Crypt(true, SG_CIPHER_AES_CBC_PKCS5, key, iv, plain, &cbc), 0);
    EXPECT_EQ(cbc.size(), (len / 16 + 1) * 16);
    ASSERT_EQ(Crypt(false, SG_CIPHER_AES_CBC_PKCS5, key, iv, cbc, &back), 0);
    EXPECT_EQ(back, plain);
    ASSERT_EQ(Crypt(true, SG_CIPHER_AES_CTR_NOPADDING, key, iv, plain, &ctr), 0);
    EXPECT_EQ(ctr.size(), len);
  }
}

TEST_F(ProviderTest, RejectsBadParametersAndBadPadding) {
  const std::string iv = Unhex(kCbcIv), plain = "attack at dawn";
  std::string out;
  EXPECT_EQ(Crypt(true, SG_CIPHER_AES_CBC_PKCS5, std::string(20, 'k'), iv, plain, &out),
            SG_ERR_INVAL);
  EXPECT_EQ(Crypt(true, SG_CIPHER_AES_CBC_PKCS5, Unhex(kKey128), "short", plain, &out),
            SG_ERR_INVAL);
  EXPECT_EQ(Crypt(true, 99, Unhex(kKey128), iv, plain, &out), SG_ERR_INVAL);
  // Not a multiple of the block size.
  EXPECT_EQ(Crypt(false, SG_CIPHER_AES_CBC_PKCS5, Unhex(kKey128), iv, "0123456789", &out),
            SG_ERR_INVALID_MESSAGE);
  // A block-aligned plaintext ends in a full padding block of 0x10 bytes.
  // Flipping bit 0x20 of the previous ciphertext byte turns the last padding
  // byte into 0x30, which is never valid padding.
  std::string ciphertext;
  ASSERT_EQ(
      Crypt(true, SG_CIPHER_AES_CBC_PKCS5, Unhex(kKey128), iv, std::string(32, 'p'), &ciphertext),
      0);
  ASSERT_EQ(ciphertext.size(), 48u);
  ciphertext[31] ^= 0x20;
  EXPECT_EQ(Crypt(false, SG_CIPHER_AES_CBC_PKCS5, Unhex(kKey128), iv, ciphertext, &out),
            SG_ERR_INVALID_MESSAGE);
}

TEST(SignalContextTest, CreatesWithProviderAndLock) {
  absl::StatusOr<std::unique_ptr<SignalContext>> context = SignalContext::Create();
  ASSERT_TRUE(context.ok()) << context.status();
  ASSERT_NE((*context)->get(), nullptr);
  // libsignal uses the provider: generating a key pair needs random bytes.
  SignalRef<ec_key_pair> key_pair;
  ASSERT_EQ(curve_generate_key_pair((*context)->get(), Out(key_pair)), 0);
  EXPECT_NE(key_pair, nullptr);
  // The lock is recursive: libsignal re-enters it.
  std::lock_guard<std::recursive_mutex> outer((*context)->mutex());
  std::lock_guard<std::recursive_mutex> inner((*context)->mutex());
}

}  // namespace
}  // namespace carerelay::crypto
