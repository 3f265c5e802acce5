// Tests of crypto/sodium.h: hex, Z85 (checked against ZeroMQ's own codec, since CURVE keys
// cross that boundary), constant-time comparison, SecretBytes ownership and BLAKE2b.
#include "crypto/sodium.h"

#include <gtest/gtest.h>
#include <zmq.h>

#include <string>
#include <string_view>
#include <utility>

namespace comity::crypto {
namespace {

// ZeroMQ's encoder, the reference for ours; data length must be a multiple of 4.
std::string ZmqZ85Encode(ByteView data) {
  std::string out(data.size() * 5 / 4 + 1, '\0');
  if (zmq_z85_encode(out.data(), data.data(), data.size()) == nullptr) return "<refused>";
  out.resize(data.size() * 5 / 4);
  return out;
}

// ZeroMQ's decoder; nullopt when it refuses the text.
std::optional<Bytes> ZmqZ85Decode(const std::string& text) {
  Bytes out(text.size() * 4 / 5 + 1);
  if (zmq_z85_decode(out.data(), text.c_str()) == nullptr) return std::nullopt;
  out.resize(text.size() * 4 / 5);
  return out;
}

TEST(SodiumTest, HexRoundTripsAndIsLowerCase) {
  EXPECT_EQ(ToHex(Bytes{0x00, 0x0f, 0xf0, 0xff, 0x5a}), "000ff0ff5a");
  EXPECT_EQ(ToHex(Bytes{}), "");
  for (std::size_t size : {0u, 1u, 2u, 31u, 32u, 33u, 257u}) {
    const Bytes data = RandomBytes(size);
    const std::string hex = ToHex(data);
    ASSERT_EQ(hex.size(), 2 * size);
    EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
    auto back = FromHex(hex);
    ASSERT_TRUE(back.has_value()) << hex;
    EXPECT_EQ(*back, data);
  }
}

TEST(SodiumTest, FromHexAcceptsUpperCase) {
  auto bytes = FromHex("00AbCdEF");
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(*bytes, (Bytes{0x00, 0xab, 0xcd, 0xef}));
}

TEST(SodiumTest, FromHexRefusesBadHex) {
  for (std::string_view bad : {"0", "abc", "0g", "g0", "zz", " 00", "00 ", "0x00", "-1", "0:",
                               "ab\n", "@0", "`0", "G0", "/0"}) {
    EXPECT_FALSE(FromHex(bad).has_value()) << '"' << bad << '"';
  }
  // An embedded NUL is not a digit either.
  EXPECT_FALSE(FromHex(std::string_view("0\0", 2)).has_value());
}

TEST(SodiumTest, Z85MatchesRfc32Example) {
  const Bytes hello{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B};
  EXPECT_EQ(Z85Encode(hello), "HelloWorld");
  auto decoded = Z85Decode("HelloWorld");
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, hello);
  EXPECT_EQ(ZmqZ85Encode(hello), "HelloWorld");
}

TEST(SodiumTest, Z85AgreesWithZeroMqOnRandomKeys) {
  for (int i = 0; i < 200; ++i) {
    const Bytes key = RandomBytes(32);
    const std::string ours = Z85Encode(key);
    ASSERT_EQ(ours.size(), 40u);
    EXPECT_EQ(ours, ZmqZ85Encode(key)) << ToHex(key);
    auto ours_back = Z85Decode(ours);
    ASSERT_TRUE(ours_back.has_value()) << ours;
    EXPECT_EQ(*ours_back, key);
    auto zmq_back = ZmqZ85Decode(ours);
    ASSERT_TRUE(zmq_back.has_value()) << ours;
    EXPECT_EQ(*zmq_back, key);
  }
  // The extremes of a 4-byte block.
  EXPECT_EQ(Z85Encode(Bytes(4, 0x00)), ZmqZ85Encode(Bytes(4, 0x00)));
  EXPECT_EQ(Z85Encode(Bytes(4, 0xff)), ZmqZ85Encode(Bytes(4, 0xff)));
  EXPECT_EQ(Z85Encode(Bytes(4, 0xff)), "%nSc0");
  EXPECT_EQ(Z85Decode("%nSc0"), Bytes(4, 0xff));
}

TEST(SodiumTest, Z85ReadsKeysMadeByZeroMq) {
  for (int i = 0; i < 20; ++i) {
    char pub[41];
    char sec[41];
    ASSERT_EQ(zmq_curve_keypair(pub, sec), 0);
    for (const char* text : {pub, sec}) {
      auto key = Z85Decode(text);
      ASSERT_TRUE(key.has_value()) << text;
      EXPECT_EQ(key->size(), 32u);
      EXPECT_EQ(Z85Encode(*key), text);
    }
  }
}

TEST(SodiumTest, Z85RefusesBadLengths) {
  for (std::size_t size : {1u, 2u, 3u, 5u, 31u, 33u}) {
    EXPECT_EQ(Z85Encode(Bytes(size, 0x42)), "") << size;
  }
  for (std::string_view text : {"H", "Hell", "HelloW", "HelloWorl", "HelloWorld1"}) {
    EXPECT_FALSE(Z85Decode(text).has_value()) << text;
  }
  EXPECT_EQ(Z85Encode(Bytes{}), "");
  EXPECT_EQ(Z85Decode(""), Bytes{});
}

TEST(SodiumTest, Z85RefusesCharactersOutsideTheAlphabet) {
  // Printable ASCII that Z85 leaves out, plus control and non-ASCII bytes.
  const std::string excluded = std::string(" \"',;\\_`|~") + '\x7f' + '\x80' + '\xff' + '\n';
  for (char c : excluded) {
    std::string text = "Hello";
    for (std::size_t pos = 0; pos < text.size(); ++pos) {
      std::string bad = text;
      bad[pos] = c;
      EXPECT_FALSE(Z85Decode(bad).has_value())
          << "char 0x" << ToHex(AsBytes(std::string_view(&c, 1))) << " at " << pos;
    }
  }
  EXPECT_FALSE(Z85Decode(std::string_view("Hell\0", 5)).has_value());
}

TEST(SodiumTest, Z85RefusesBlocksAbove32Bits) {
  // "%nSc0" is 2^32 - 1; one more in the last digit, or the largest digits, overflow.
  for (const std::string text : {"%nSc1", "%%%%%", "#####", "HelloWorld#####"}) {
    EXPECT_FALSE(Z85Decode(text).has_value()) << text;
    EXPECT_FALSE(ZmqZ85Decode(text).has_value()) << "ZeroMQ accepted " << text;
  }
}

TEST(SodiumTest, ConstantTimeEqual) {
  const Bytes a = RandomBytes(48);
  EXPECT_TRUE(ConstantTimeEqual(a, a));
  EXPECT_TRUE(ConstantTimeEqual(a, Bytes(a)));
  EXPECT_TRUE(ConstantTimeEqual(Bytes{}, Bytes{}));
  for (std::size_t i = 0; i < a.size(); ++i) {
    Bytes b = a;
    b[i] ^= 0x01;
    EXPECT_FALSE(ConstantTimeEqual(a, b)) << "differs at " << i;
    b[i] = static_cast<std::uint8_t>(a[i] ^ 0x80);
    EXPECT_FALSE(ConstantTimeEqual(a, b)) << "differs at " << i;
  }
  // Sizes are compared first: a prefix is not equal, nor is empty against non-empty.
  EXPECT_FALSE(ConstantTimeEqual(a, ByteView(a).first(47)));
  EXPECT_FALSE(ConstantTimeEqual(ByteView(a).first(47), a));
  EXPECT_FALSE(ConstantTimeEqual(Bytes{}, a));
  Bytes longer = a;
  longer.push_back(0);
  EXPECT_FALSE(ConstantTimeEqual(a, longer));
}

TEST(SodiumTest, SecretBytesStartsZeroedAndSized) {
  SecretBytes empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.data(), nullptr);

  SecretBytes s(32);
  ASSERT_EQ(s.size(), 32u);
  EXPECT_FALSE(s.empty());
  ASSERT_NE(s.data(), nullptr);
  EXPECT_EQ(Bytes(s.view().begin(), s.view().end()), Bytes(32, 0));
}

TEST(SodiumTest, SecretBytesMoveTransfersOwnership) {
  SecretBytes a(16);
  RandomFill(a.data(), a.size());
  const Bytes content(a.view().begin(), a.view().end());
  const std::uint8_t* buffer = a.data();

  SecretBytes b(std::move(a));
  EXPECT_EQ(b.data(), buffer);
  EXPECT_EQ(b.size(), 16u);
  EXPECT_EQ(Bytes(b.view().begin(), b.view().end()), content);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is the subject
  EXPECT_EQ(a.data(), nullptr);

  SecretBytes c(8);
  c = std::move(b);
  EXPECT_EQ(c.data(), buffer);
  EXPECT_EQ(c.size(), 16u);
  EXPECT_EQ(Bytes(c.view().begin(), c.view().end()), content);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.data(), nullptr);

  // Self-move-assignment keeps the contents (through a reference, as real code would).
  SecretBytes& alias = c;
  c = std::move(alias);
  EXPECT_EQ(c.data(), buffer);
  EXPECT_EQ(Bytes(c.view().begin(), c.view().end()), content);

  // Moving into an empty object and back out again.
  SecretBytes d;
  d = std::move(c);
  EXPECT_EQ(d.data(), buffer);
  EXPECT_TRUE(c.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(SodiumTest, SecretBytesCloneIsAnIndependentCopy) {
  SecretBytes original(32);
  RandomFill(original.data(), original.size());
  const Bytes content(original.view().begin(), original.view().end());

  SecretBytes copy = original.Clone();
  ASSERT_EQ(copy.size(), original.size());
  EXPECT_NE(copy.data(), original.data());
  EXPECT_EQ(Bytes(copy.view().begin(), copy.view().end()), content);

  copy.data()[0] ^= 0xff;
  EXPECT_EQ(Bytes(original.view().begin(), original.view().end()), content);

  SecretBytes empty_copy = SecretBytes().Clone();
  EXPECT_TRUE(empty_copy.empty());
}

TEST(SodiumTest, RandomBytesHasTheRequestedSizeAndVaries) {
  // Zero bytes is a valid request; randombytes_buf must not then be handed a null pointer
  // (it is declared nonnull: UndefinedBehaviorSanitizer flagged RandomBytes(0)).
  EXPECT_TRUE(RandomBytes(0).empty());
  RandomFill(nullptr, 0);
  const Bytes a = RandomBytes(32);
  const Bytes b = RandomBytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);  // equal only with probability 2^-256
}

TEST(SodiumTest, Blake2bKnownAnswers) {
  // BLAKE2b-256("") and BLAKE2b-512("abc") (RFC 7693 appendix A).
  EXPECT_EQ(ToHex(Blake2b({})),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  EXPECT_EQ(ToHex(Blake2b(AsBytes("abc"), 64)),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
            "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
  EXPECT_EQ(Blake2b(AsBytes("abc"), 16).size(), 16u);
  EXPECT_NE(Blake2b(AsBytes("abc")), Blake2b(AsBytes("abd")));
}

TEST(SodiumTest, Blake2bKeyedKnownAnswers) {
  Bytes key64(64);
  for (std::size_t i = 0; i < key64.size(); ++i) key64[i] = static_cast<std::uint8_t>(i);
  // The BLAKE2 reference keyed KAT: key 00..3f, empty input, 64-byte output.
  EXPECT_EQ(ToHex(Blake2bKeyed(key64, {}, 64)),
            "10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786"
            "b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568");
  const Bytes key32(key64.begin(), key64.begin() + 32);
  const Bytes input{0x00, 0x01, 0x02};
  EXPECT_EQ(ToHex(Blake2bKeyed(key32, input, 32)),
            "e14fc9161564dd081204f2dd6146a9ffbef66f95d5dc80e0a225e213c09dad7b");
  EXPECT_NE(Blake2bKeyed(key32, input), Blake2b(input));
}

TEST(SodiumTest, Blake2bAcceptsTheWholeRangeOfLengths) {
  const Bytes input = ToBytes("abc");
  for (std::size_t out_len : {16u, 17u, 32u, 63u, 64u}) {
    EXPECT_EQ(Blake2b(input, out_len).size(), out_len);
  }
  for (std::size_t key_len : {16u, 32u, 64u}) {
    const Bytes key(key_len, 0x07);
    EXPECT_EQ(Blake2bKeyed(key, input).size(), 32u);
    EXPECT_NE(Blake2bKeyed(key, input), Blake2b(input)) << key_len;
  }
}

// Lengths outside BLAKE2b's range are programmer errors: the process aborts with a message
// instead of returning zeros (libsodium refuses them and the output used to be ignored).
TEST(SodiumDeathTest, Blake2bOutOfRangeOutputLengthAborts) {
  const Bytes input = ToBytes("abc");
  EXPECT_DEATH(Blake2b(input, 65), "BLAKE2b output length must be 16 to 64 bytes \\(got 65\\)");
  EXPECT_DEATH(Blake2b(input, 15), "BLAKE2b output length must be 16 to 64 bytes \\(got 15\\)");
  EXPECT_DEATH(Blake2b(input, 0), "BLAKE2b output length");
  EXPECT_DEATH(Blake2bKeyed(Bytes(32, 0x07), input, 65), "BLAKE2b output length");
}

TEST(SodiumDeathTest, Blake2bKeyedOutOfRangeKeyLengthAborts) {
  const Bytes input = ToBytes("abc");
  EXPECT_DEATH(Blake2bKeyed(Bytes(65, 0x07), input), "BLAKE2b key length must be 16 to 64 bytes \\(got 65\\)");
  EXPECT_DEATH(Blake2bKeyed(Bytes(15, 0x07), input), "BLAKE2b key length must be 16 to 64 bytes \\(got 15\\)");
  EXPECT_DEATH(Blake2bKeyed(Bytes{}, input), "BLAKE2b key length");
}

}  // namespace
}  // namespace comity::crypto
