// Project Wycheproof vectors for the libsodium primitives Comity builds on: Ed25519
// verification, X25519 and XChaCha20-Poly1305. The JSON files are read at run time from
// COMITY_SHARED_DIR/vectors/wycheproof/ (not committed here); a test skips, saying where it
// looked, when its file is absent. Every vector is checked and counted against the file's
// numberOfTests, so a file that parses only partly fails instead of passing quietly.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "crypto/result.h"
#include "crypto/sodium.h"
#include "tests/unit/wycheproof.pb.h"

namespace comity::crypto {
namespace {

namespace wp = comity::test::wycheproof;

std::filesystem::path VectorPath(const std::string& file_name) {
  return std::filesystem::path(COMITY_SHARED_DIR) / "vectors" / "wycheproof" / file_name;
}

// A reason to skip when the vector file is not there; nullopt when it is.
std::optional<std::string> MissingReason(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  return "Wycheproof vector file not found at " + path.string() +
         " (expected in the shared/ folder beside the repository; COMITY_SHARED_DIR)";
}

Result<wp::TestFile> LoadVectors(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError("cannot open " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  wp::TestFile file;
  auto status = google::protobuf::util::JsonStringToMessage(text.str(), &file, options);
  if (!status.ok()) return MakeError("cannot parse " + path.string() + ": " + status.ToString());
  if (file.number_of_tests() <= 0 || file.test_groups().empty()) {
    return MakeError(path.string() + " has no numberOfTests or no testGroups");
  }
  return file;
}

bool HasFlag(const wp::TestCase& test, const std::string& flag) {
  return std::find(test.flags().begin(), test.flags().end(), flag) != test.flags().end();
}

std::string Describe(const wp::TestCase& test) {
  std::string flags;
  for (const auto& f : test.flags()) flags += (flags.empty() ? "" : ",") + f;
  return "tcId " + std::to_string(test.tc_id()) + " (" + test.comment() + ") [" + flags +
         "] expected " + test.result();
}

// Vector fields are hex; a field that does not decode means a broken vector file, which
// must fail the test rather than be skipped.
Bytes Hex(const std::string& hex, const wp::TestCase& test) {
  auto bytes = FromHex(hex);
  EXPECT_TRUE(bytes.has_value()) << "bad hex in " << Describe(test) << ": " << hex;
  return bytes.value_or(Bytes{});
}

TEST(WycheproofTest, Ed25519) {
  const auto path = VectorPath("ed25519_test.json");
  if (auto reason = MissingReason(path)) GTEST_SKIP() << *reason;
  auto file = LoadVectors(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EnsureSodium();

  int checked = 0;
  int wrong_length = 0;
  for (const auto& group : file->test_groups()) {
    auto pk = FromHex(group.public_key().pk());
    ASSERT_TRUE(pk.has_value() && pk->size() == crypto_sign_PUBLICKEYBYTES)
        << "group public key: " << group.public_key().pk();
    for (const auto& test : group.tests()) {
      ++checked;
      ASSERT_TRUE(test.result() == "valid" || test.result() == "invalid") << Describe(test);
      const Bytes msg = Hex(test.msg(), test);
      const Bytes sig = Hex(test.sig(), test);
      // Raw libsodium, not crypto::VerifySignature: ours signs DOMAIN 0x00 || message, so a
      // plain Ed25519 vector can never verify through it. The detached API reads exactly 64
      // bytes, so the length rule is ours to enforce: any other length is refused.
      const bool right_length = sig.size() == crypto_sign_BYTES;
      if (!right_length) {
        ++wrong_length;
        EXPECT_EQ(test.result(), "invalid") << "a wrong-length signature marked valid: "
                                            << Describe(test);
      }
      const bool accepted =
          right_length &&
          crypto_sign_verify_detached(sig.data(), msg.data(), msg.size(), pk->data()) == 0;
      EXPECT_EQ(accepted, test.result() == "valid") << Describe(test);
    }
  }
  EXPECT_EQ(checked, file->number_of_tests());
  // The file carries truncated and padded signatures; if none were seen, the length rule
  // went untested.
  EXPECT_GT(wrong_length, 0);
  RecordProperty("vectors_checked", checked);
}

TEST(WycheproofTest, X25519) {
  const auto path = VectorPath("x25519_test.json");
  if (auto reason = MissingReason(path)) GTEST_SKIP() << *reason;
  auto file = LoadVectors(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EnsureSodium();

  int checked = 0;
  int refused_zero_shared = 0;
  for (const auto& group : file->test_groups()) {
    for (const auto& test : group.tests()) {
      ++checked;
      const Bytes priv = Hex(test.private_key(), test);
      const Bytes pub = Hex(test.public_key(), test);
      const Bytes shared = Hex(test.shared(), test);
      ASSERT_EQ(priv.size(), crypto_scalarmult_SCALARBYTES) << Describe(test);
      ASSERT_EQ(pub.size(), crypto_scalarmult_BYTES) << Describe(test);
      ASSERT_EQ(shared.size(), crypto_scalarmult_BYTES) << Describe(test);

      Bytes out(crypto_scalarmult_BYTES);
      const bool computed = crypto_scalarmult(out.data(), priv.data(), pub.data()) == 0;
      if (test.result() == "valid") {
        EXPECT_TRUE(computed) << Describe(test);
        if (computed) {
          EXPECT_EQ(ToHex(out), ToHex(shared)) << Describe(test);
        }
      } else if (test.result() == "acceptable") {
        // libsodium refuses a low-order point (all-zero shared secret, RFC 7748 section 6.1);
        // that is the only refusal allowed, and any value it does compute must be exact.
        if (computed) {
          EXPECT_EQ(ToHex(out), ToHex(shared)) << Describe(test);
        } else {
          EXPECT_TRUE(HasFlag(test, "ZeroSharedSecret")) << "refused: " << Describe(test);
          ++refused_zero_shared;
        }
      } else {
        ADD_FAILURE() << "unexpected result: " << Describe(test);
      }
    }
  }
  EXPECT_EQ(checked, file->number_of_tests());
  RecordProperty("vectors_checked", checked);
  RecordProperty("refused_zero_shared_secret", refused_zero_shared);
}

TEST(WycheproofTest, XChaCha20Poly1305) {
  const auto path = VectorPath("xchacha20_poly1305_test.json");
  if (auto reason = MissingReason(path)) GTEST_SKIP() << *reason;
  auto file = LoadVectors(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EnsureSodium();

  constexpr std::size_t kTagSize = crypto_aead_xchacha20poly1305_ietf_ABYTES;
  int checked = 0;
  int valid = 0;
  int refused_nonce_size = 0;
  int refused_modified_tag = 0;
  for (const auto& group : file->test_groups()) {
    for (const auto& test : group.tests()) {
      ++checked;
      ASSERT_TRUE(test.result() == "valid" || test.result() == "invalid") << Describe(test);
      const Bytes key = Hex(test.key(), test);
      const Bytes iv = Hex(test.iv(), test);
      const Bytes aad = Hex(test.aad(), test);
      const Bytes msg = Hex(test.msg(), test);
      const Bytes ct = Hex(test.ct(), test);
      const Bytes tag = Hex(test.tag(), test);
      ASSERT_EQ(key.size(), crypto_aead_xchacha20poly1305_ietf_KEYBYTES) << Describe(test);

      if (iv.size() != crypto_aead_xchacha20poly1305_ietf_NPUBBYTES) {
        // The API takes exactly a 24-byte nonce, so such a vector cannot even be presented:
        // refused by construction, which is right only for an invalid vector.
        EXPECT_EQ(test.result(), "invalid") << Describe(test);
        EXPECT_TRUE(HasFlag(test, "InvalidNonceSize")) << Describe(test);
        ++refused_nonce_size;
        continue;
      }

      Bytes sealed = ct;
      sealed.insert(sealed.end(), tag.begin(), tag.end());
      Bytes opened(sealed.size());
      unsigned long long opened_len = 0;
      const bool decrypted =
          sealed.size() >= kTagSize &&
          crypto_aead_xchacha20poly1305_ietf_decrypt(opened.data(), &opened_len, nullptr,
                                                     sealed.data(), sealed.size(), aad.data(),
                                                     aad.size(), iv.data(), key.data()) == 0;
      if (test.result() == "invalid") {
        EXPECT_FALSE(decrypted) << Describe(test);
        if (HasFlag(test, "ModifiedTag") && !decrypted) ++refused_modified_tag;
        continue;
      }

      ++valid;
      EXPECT_TRUE(decrypted) << Describe(test);
      if (decrypted) {
        opened.resize(static_cast<std::size_t>(opened_len));
        EXPECT_EQ(ToHex(opened), ToHex(msg)) << Describe(test);
      }
      Bytes encrypted(msg.size() + kTagSize);
      unsigned long long encrypted_len = 0;
      ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_encrypt(
                    encrypted.data(), &encrypted_len, msg.data(), msg.size(), aad.data(),
                    aad.size(), nullptr, iv.data(), key.data()),
                0)
          << Describe(test);
      encrypted.resize(static_cast<std::size_t>(encrypted_len));
      EXPECT_EQ(ToHex(encrypted), ToHex(sealed)) << "encrypt differs: " << Describe(test);
    }
  }
  EXPECT_EQ(checked, file->number_of_tests());
  // Each kind of refusal the file exercises must actually have been seen.
  EXPECT_GT(valid, 0);
  EXPECT_GT(refused_nonce_size, 0);
  EXPECT_GT(refused_modified_tag, 0);
  RecordProperty("vectors_checked", checked);
}

}  // namespace
}  // namespace comity::crypto
