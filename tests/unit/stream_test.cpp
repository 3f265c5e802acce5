// Tests of crypto/stream.h: round trips at chunk boundaries, refusal of every kind of damage
// (truncation, dropped, swapped, replayed or altered frames, trailing bytes, wrong key), the
// stream hash and size, the incremental StreamVerifier (same refusals, from pieces of any
// size), and a 200 MiB file that must round-trip with bounded memory.
#include "crypto/stream.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define COMITY_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COMITY_TEST_ASAN 1
#endif
#endif

namespace comity::crypto {
namespace {

constexpr std::size_t kChunk = kStreamChunkSize;
// Layout (stream.cpp, docs/PROTOCOL.md section 7): "COMITYS1" | secretstream header (24) |
// frames, where a frame is u32 LE length | ciphertext (plaintext + 17 bytes). The final
// frame carries 40 bytes.
constexpr std::size_t kPrefixSize = 8 + crypto_secretstream_xchacha20poly1305_HEADERBYTES;
constexpr std::size_t kFrameOverhead = 4 + crypto_secretstream_xchacha20poly1305_ABYTES;
constexpr std::size_t kFinalFrameSize = kFrameOverhead + 8 + 32;

// Writes `v` as u32 little-endian at `pos` of `s` (a frame length).
void PutLe32ForTest(std::string& s, std::size_t pos, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s[pos + i] = static_cast<char>(v >> (8 * i));
}

SecretBytes NewKey() {
  SecretBytes key(32);
  RandomFill(key.data(), key.size());
  return key;
}

std::string RandomText(std::size_t size) { return AsString(RandomBytes(size)); }

struct Encrypted {
  Result<StreamSummary> summary;
  std::string cipher;
};

Encrypted Encrypt(const SecretBytes& key, const std::string& plain) {
  std::istringstream in(plain);
  std::ostringstream out;
  auto summary = EncryptStream(key, in, out);
  return {std::move(summary), out.str()};
}

struct Decrypted {
  Result<StreamSummary> summary;
  std::string plain;
};

Decrypted Decrypt(const SecretBytes& key, const std::string& cipher) {
  std::istringstream in(cipher);
  std::ostringstream out;
  auto summary = DecryptStream(key, in, out);
  return {std::move(summary), out.str()};
}

// The prefix and the frames of an encrypted stream, so tests can cut and rearrange it.
struct Frames {
  std::string prefix;
  std::vector<std::string> frames;  // each with its 4-byte length; the last is the final one

  std::string Join() const {
    std::string out = prefix;
    for (const auto& f : frames) out += f;
    return out;
  }
  // Offsets in the joined stream at which each frame starts.
  std::vector<std::size_t> Starts() const {
    std::vector<std::size_t> starts;
    std::size_t pos = prefix.size();
    for (const auto& f : frames) {
      starts.push_back(pos);
      pos += f.size();
    }
    return starts;
  }
};

std::optional<Frames> Split(const std::string& cipher) {
  if (cipher.size() < kPrefixSize) return std::nullopt;
  Frames out{cipher.substr(0, kPrefixSize), {}};
  std::size_t pos = kPrefixSize;
  while (pos < cipher.size()) {
    if (cipher.size() - pos < 4) return std::nullopt;
    std::size_t len = 0;
    for (int i = 0; i < 4; ++i) {
      len |= std::size_t{static_cast<std::uint8_t>(cipher[pos + i])} << (8 * i);
    }
    if (cipher.size() - pos - 4 < len) return std::nullopt;
    out.frames.push_back(cipher.substr(pos, 4 + len));
    pos += 4 + len;
  }
  return out;
}

// A stream of `chunks` full data frames and one short one, with its parts.
struct Sample {
  SecretBytes key = NewKey();
  std::string plain;
  std::string cipher;
  Frames parts;
};

Sample MakeSample(std::size_t chunks) {
  Sample s;
  s.plain = RandomText(chunks * kChunk + 100);
  auto enc = Encrypt(s.key, s.plain);
  EXPECT_TRUE(enc.summary.ok());
  s.cipher = enc.cipher;
  auto parts = Split(s.cipher);
  EXPECT_TRUE(parts.has_value());
  if (parts) s.parts = *parts;
  EXPECT_EQ(s.parts.frames.size(), chunks + 2);  // full chunks, the short one, the final
  return s;
}

class StreamRoundTripTest : public ::testing::TestWithParam<std::size_t> {};

TEST_P(StreamRoundTripTest, RoundTrips) {
  const std::size_t size = GetParam();
  const SecretBytes key = NewKey();
  const std::string plain = RandomText(size);

  auto enc = Encrypt(key, plain);
  ASSERT_TRUE(enc.summary.ok()) << enc.summary.error().message;
  EXPECT_EQ(enc.summary->plaintext_bytes, size);
  EXPECT_EQ(enc.summary->content_hash, Blake2b(AsBytes(plain), 32));

  // Exactly one frame per started chunk, plus the final frame.
  const std::size_t data_frames = (size + kChunk - 1) / kChunk;
  EXPECT_EQ(enc.cipher.size(), kPrefixSize + data_frames * kFrameOverhead + size + kFinalFrameSize);
  EXPECT_EQ(enc.cipher.substr(0, 8), "COMITYS1");
  if (size >= 16) {
    EXPECT_EQ(enc.cipher.find(plain.substr(0, 16)), std::string::npos) << "plaintext leaked";
  }

  auto dec = Decrypt(key, enc.cipher);
  ASSERT_TRUE(dec.summary.ok()) << dec.summary.error().message;
  EXPECT_EQ(dec.summary->plaintext_bytes, size);
  EXPECT_EQ(dec.summary->content_hash, enc.summary->content_hash);
  EXPECT_TRUE(dec.plain == plain) << "decrypted " << dec.plain.size() << " bytes of " << size;
}

INSTANTIATE_TEST_SUITE_P(Sizes, StreamRoundTripTest,
                         ::testing::Values(0, 1, kChunk - 1, kChunk, kChunk + 1, 3 * kChunk + 17,
                                           4 * kChunk),
                         [](const auto& info) { return "Bytes" + std::to_string(info.param); });

TEST(StreamTest, SamePlaintextEncryptsDifferentlyEachTime) {
  const SecretBytes key = NewKey();
  const std::string plain = RandomText(1000);
  auto a = Encrypt(key, plain);
  auto b = Encrypt(key, plain);
  ASSERT_TRUE(a.summary.ok() && b.summary.ok());
  EXPECT_NE(a.cipher, b.cipher);
}

TEST(StreamTest, RefusesTruncation) {
  const Sample s = MakeSample(2);
  const auto starts = s.parts.Starts();
  std::set<std::size_t> cuts;
  for (std::size_t i = 0; i <= kPrefixSize + 8; ++i) cuts.insert(i);  // inside prefix, 1st len
  for (std::size_t start : starts) {                                   // around every frame
    for (std::size_t d = 0; d <= 5; ++d) {
      cuts.insert(start - d);
      cuts.insert(start + d);
    }
  }
  for (std::size_t i = 0; i < s.cipher.size(); i += 997) cuts.insert(i);  // through the data
  for (std::size_t d = 1; d <= 45; ++d) cuts.insert(s.cipher.size() - d);  // in the final frame
  cuts.erase(s.cipher.size());

  for (std::size_t cut : cuts) {
    ASSERT_LT(cut, s.cipher.size());
    EXPECT_FALSE(Decrypt(s.key, s.cipher.substr(0, cut)).summary.ok()) << "cut at " << cut;
  }
  // Removing the final frame exactly leaves only whole, authentic data frames.
  const std::size_t final_start = starts.back();
  auto no_final = Decrypt(s.key, s.cipher.substr(0, final_start));
  EXPECT_FALSE(no_final.summary.ok());
  if (!no_final.summary.ok()) {
    EXPECT_NE(no_final.summary.error().message.find("truncated"), std::string::npos)
        << no_final.summary.error().message;
  }
}

TEST(StreamTest, RefusesEmptyStreamWithoutFinalFrame) {
  const SecretBytes key = NewKey();
  auto enc = Encrypt(key, "");
  ASSERT_TRUE(enc.summary.ok());
  ASSERT_EQ(enc.cipher.size(), kPrefixSize + kFinalFrameSize);
  EXPECT_FALSE(Decrypt(key, enc.cipher.substr(0, kPrefixSize)).summary.ok());
  EXPECT_FALSE(Decrypt(key, "").summary.ok());
}

TEST(StreamTest, RefusesARemovedFrame) {
  const Sample s = MakeSample(3);
  for (std::size_t i = 0; i + 1 < s.parts.frames.size(); ++i) {
    Frames damaged = s.parts;
    damaged.frames.erase(damaged.frames.begin() + static_cast<std::ptrdiff_t>(i));
    EXPECT_FALSE(Decrypt(s.key, damaged.Join()).summary.ok()) << "without data frame " << i;
  }
}

TEST(StreamTest, RefusesReorderedFrames) {
  const Sample s = MakeSample(3);
  const std::size_t n = s.parts.frames.size();
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      Frames damaged = s.parts;
      std::swap(damaged.frames[i], damaged.frames[j]);
      EXPECT_FALSE(Decrypt(s.key, damaged.Join()).summary.ok()) << "swapped " << i << " and " << j;
    }
  }
}

TEST(StreamTest, RefusesARepeatedFrame) {
  const Sample s = MakeSample(2);
  for (std::size_t i = 0; i < s.parts.frames.size(); ++i) {
    Frames damaged = s.parts;
    damaged.frames.insert(damaged.frames.begin() + static_cast<std::ptrdiff_t>(i),
                          s.parts.frames[i]);
    EXPECT_FALSE(Decrypt(s.key, damaged.Join()).summary.ok()) << "frame " << i << " twice";
  }
}

TEST(StreamTest, RefusesFramesFromAnotherStreamUnderTheSameKey) {
  const Sample s = MakeSample(2);
  auto other = Encrypt(s.key, s.plain);  // same key and plaintext, fresh stream header
  ASSERT_TRUE(other.summary.ok());
  auto other_parts = Split(other.cipher);
  ASSERT_TRUE(other_parts.has_value());
  ASSERT_EQ(other_parts->frames.size(), s.parts.frames.size());
  for (std::size_t i = 0; i < s.parts.frames.size(); ++i) {
    Frames spliced = s.parts;
    spliced.frames[i] = other_parts->frames[i];
    EXPECT_FALSE(Decrypt(s.key, spliced.Join()).summary.ok()) << "frame " << i << " spliced";
  }
}

TEST(StreamTest, RefusesAnyFlippedByte) {
  const Sample s = MakeSample(2);
  std::set<std::size_t> positions;
  for (std::size_t i = 0; i < kPrefixSize + 40; ++i) positions.insert(i);
  for (std::size_t start : s.parts.Starts()) {
    for (std::size_t d = 0; d < 24; ++d) {
      positions.insert(start + d);
      positions.insert(start - 1 - d);
    }
  }
  for (std::size_t i = 0; i < s.cipher.size(); i += 331) positions.insert(i);
  for (std::size_t d = 1; d <= kFinalFrameSize; ++d) positions.insert(s.cipher.size() - d);

  for (std::size_t pos : positions) {
    ASSERT_LT(pos, s.cipher.size());
    for (unsigned char bit : {0x01, 0x80}) {
      std::string damaged = s.cipher;
      damaged[pos] = static_cast<char>(damaged[pos] ^ bit);
      EXPECT_FALSE(Decrypt(s.key, damaged).summary.ok())
          << "flipped bit " << int{bit} << " of byte " << pos;
    }
  }
}

TEST(StreamTest, RefusesTrailingGarbage) {
  const Sample s = MakeSample(1);
  ASSERT_TRUE(Decrypt(s.key, s.cipher).summary.ok());
  for (const std::string& tail : {std::string(1, '\0'), std::string("x"), std::string(4, '\0'),
                                  s.parts.frames.back(), s.cipher}) {
    auto result = Decrypt(s.key, s.cipher + tail);
    EXPECT_FALSE(result.summary.ok()) << tail.size() << " trailing bytes";
  }
}

TEST(StreamTest, RefusesWrongKey) {
  const Sample s = MakeSample(1);
  const SecretBytes other = NewKey();
  EXPECT_FALSE(Decrypt(other, s.cipher).summary.ok());
  SecretBytes nearly = s.key.Clone();
  nearly.data()[31] ^= 0x01;
  EXPECT_FALSE(Decrypt(nearly, s.cipher).summary.ok());
}

TEST(StreamTest, RefusesKeysOfTheWrongLength) {
  for (std::size_t size : {0u, 16u, 31u, 33u, 64u}) {
    SecretBytes key(size);
    EXPECT_FALSE(Encrypt(key, "hello").summary.ok()) << size;
    EXPECT_FALSE(Decrypt(key, MakeSample(0).cipher).summary.ok()) << size;
  }
}

TEST(StreamTest, RefusesSomethingThatIsNotAStream) {
  const SecretBytes key = NewKey();
  EXPECT_FALSE(Decrypt(key, "COMITYS").summary.ok());
  EXPECT_FALSE(Decrypt(key, std::string(200, 'A')).summary.ok());
  auto enc = Encrypt(key, "x");
  ASSERT_TRUE(enc.summary.ok());
  std::string other_version = enc.cipher;
  other_version[7] = '2';  // "COMITYS2"
  EXPECT_FALSE(Decrypt(key, other_version).summary.ok());
}

// ---- Stream hash, stream size and the incremental StreamVerifier ------------------------

TEST(StreamTest, StreamHashIsBlake2bOfEveryByteWritten) {
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, kChunk, 2 * kChunk + 5}) {
    const SecretBytes key = NewKey();
    auto enc = Encrypt(key, RandomText(size));
    ASSERT_TRUE(enc.summary.ok()) << enc.summary.error().message;
    EXPECT_EQ(enc.summary->stream_bytes, enc.cipher.size()) << size;
    EXPECT_EQ(ToHex(enc.summary->stream_hash), ToHex(Blake2b(AsBytes(enc.cipher), 32))) << size;

    // The reader hashes what it read: the same bytes, the same hash.
    auto dec = Decrypt(key, enc.cipher);
    ASSERT_TRUE(dec.summary.ok()) << dec.summary.error().message;
    EXPECT_EQ(dec.summary->stream_bytes, enc.summary->stream_bytes) << size;
    EXPECT_EQ(dec.summary->stream_hash, enc.summary->stream_hash) << size;
  }
}

TEST(StreamTest, StreamSizeForMatchesTheEncryptedSize) {
  // The worked values of docs/PROTOCOL.md §7.
  EXPECT_EQ(StreamSizeFor(0), 93u);
  EXPECT_EQ(StreamSizeFor(1), 115u);
  EXPECT_EQ(StreamSizeFor(65536), 65650u);
  EXPECT_EQ(StreamSizeFor(65537), 65672u);
  for (std::size_t size : {0u, 1u, 65535u, 65536u, 65537u, 200000u}) {
    auto enc = Encrypt(NewKey(), RandomText(size));
    ASSERT_TRUE(enc.summary.ok()) << enc.summary.error().message;
    EXPECT_EQ(StreamSizeFor(size), enc.cipher.size()) << size << " plaintext bytes";
  }
}

TEST(StreamTest, Blake2bHasherOverPiecesEqualsBlake2bOfTheWhole) {
  const Bytes data = RandomBytes(300000);
  const Bytes expected = Blake2b(data, 32);
  Blake2bHasher hasher;
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, std::size_t{128}, kChunk + 21, data.size()}) {
    for (std::size_t pos = 0; pos < data.size(); pos += piece) {
      hasher.Update(ByteView(data).subspan(pos, std::min(piece, data.size() - pos)));
    }
    EXPECT_EQ(ToHex(hasher.Final()), ToHex(expected)) << "pieces of " << piece;  // Final resets
  }
  EXPECT_EQ(hasher.Final(), Blake2b({}, 32));
}

// Feeds `cipher` to a StreamVerifier in pieces of `piece` bytes: the first failure, else Finish.
Result<StreamSummary> Verify(const SecretBytes& key, std::string_view cipher, std::size_t piece) {
  StreamVerifier verifier(key);
  for (std::size_t pos = 0; pos < cipher.size(); pos += piece) {
    auto fed = verifier.Feed(AsBytes(cipher.substr(pos, piece)));
    if (!fed.ok()) return fed.error();
  }
  return verifier.Finish();
}

void ExpectSameSummary(const StreamSummary& a, const StreamSummary& b) {
  EXPECT_EQ(a.plaintext_bytes, b.plaintext_bytes);
  EXPECT_EQ(ToHex(a.content_hash), ToHex(b.content_hash));
  EXPECT_EQ(a.stream_bytes, b.stream_bytes);
  EXPECT_EQ(ToHex(a.stream_hash), ToHex(b.stream_hash));
}

TEST(StreamVerifierTest, AcceptsAGoodStreamInPiecesOfAnySize) {
  for (std::size_t chunks : {0u, 2u}) {
    const Sample s = MakeSample(chunks);
    auto decrypted = Decrypt(s.key, s.cipher);
    ASSERT_TRUE(decrypted.summary.ok()) << decrypted.summary.error().message;
    for (std::size_t piece : {std::size_t{1}, std::size_t{7}, kChunk + 21, s.cipher.size()}) {
      auto verified = Verify(s.key, s.cipher, piece);
      ASSERT_TRUE(verified.ok()) << "pieces of " << piece << ": " << verified.error().message;
      ExpectSameSummary(*verified, *decrypted.summary);
      EXPECT_EQ(verified->stream_bytes, s.cipher.size());
      EXPECT_EQ(verified->content_hash, Blake2b(AsBytes(s.plain), 32));
    }
  }
}

TEST(StreamVerifierTest, RefusesEveryFlippedByteThatDecryptStreamRefuses) {
  const Sample s = MakeSample(1);
  const std::size_t final_start = s.parts.Starts().back();
  std::set<std::size_t> positions;
  for (std::size_t i = 0; i < kPrefixSize + 8; ++i) positions.insert(i);    // header, 1st frame
  for (std::size_t i = 0; i < s.cipher.size(); i += 997) positions.insert(i);  // inside frames
  for (std::size_t i = final_start; i < s.cipher.size(); ++i) positions.insert(i);  // final frame
  for (std::size_t pos : positions) {
    std::string damaged = s.cipher;
    damaged[pos] = static_cast<char>(damaged[pos] ^ 0x01);
    ASSERT_FALSE(Decrypt(s.key, damaged).summary.ok()) << pos;
    for (std::size_t piece : {std::size_t{7}, damaged.size()}) {
      EXPECT_FALSE(Verify(s.key, damaged, piece).ok()) << "flipped byte " << pos << ", pieces of " << piece;
    }
  }
}

TEST(StreamVerifierTest, RefusesTruncationAtFinish) {
  const Sample s = MakeSample(2);
  std::set<std::size_t> cuts = {0, 1, 7, 8, kPrefixSize - 1, kPrefixSize, kPrefixSize + 2, s.cipher.size() - 1};
  for (std::size_t start : s.parts.Starts()) {
    cuts.insert(start);
    cuts.insert(start + 4);
    cuts.insert(start + 40);  // inside every frame, the final one (61 bytes) too
  }
  for (std::size_t cut : cuts) {
    ASSERT_LT(cut, s.cipher.size());
    ASSERT_FALSE(Decrypt(s.key, s.cipher.substr(0, cut)).summary.ok()) << cut;
    StreamVerifier verifier(s.key);
    ASSERT_TRUE(verifier.Feed(AsBytes(std::string_view(s.cipher).substr(0, cut))).ok()) << cut;
    auto finished = verifier.Finish();
    ASSERT_FALSE(finished.ok()) << "cut at " << cut;
    EXPECT_NE(finished.error().message.find("truncated"), std::string::npos) << finished.error().message;
  }
}

TEST(StreamVerifierTest, RefusesATrailingByteAtFeed) {
  const Sample s = MakeSample(1);
  StreamVerifier verifier(s.key);
  ASSERT_TRUE(verifier.Feed(AsBytes(s.cipher)).ok());
  ASSERT_TRUE(verifier.Feed({}).ok());
  EXPECT_FALSE(verifier.Feed(AsBytes(std::string(1, '\0'))).ok());
  EXPECT_FALSE(verifier.Finish().ok());  // and every later call fails

  for (std::size_t piece : {std::size_t{1}, s.cipher.size() + 1}) {
    EXPECT_FALSE(Verify(s.key, s.cipher + "x", piece).ok()) << piece;
  }
}

TEST(StreamVerifierTest, RefusesWhatDecryptStreamRefuses) {
  const Sample s = MakeSample(3);
  std::vector<std::pair<std::string, std::string>> damaged;  // (what, stream)
  for (std::size_t i = 0; i + 1 < s.parts.frames.size(); ++i) {
    Frames f = s.parts;
    f.frames.erase(f.frames.begin() + static_cast<std::ptrdiff_t>(i));
    damaged.emplace_back("without frame " + std::to_string(i), f.Join());
  }
  for (std::size_t i = 0; i + 1 < s.parts.frames.size(); ++i) {
    Frames f = s.parts;
    std::swap(f.frames[i], f.frames[i + 1]);
    damaged.emplace_back("swapped frame " + std::to_string(i), f.Join());
    Frames r = s.parts;
    r.frames.insert(r.frames.begin() + static_cast<std::ptrdiff_t>(i), s.parts.frames[i]);
    damaged.emplace_back("repeated frame " + std::to_string(i), r.Join());
  }
  std::string other_version = s.cipher;
  other_version[7] = '2';
  damaged.emplace_back("COMITYS2", other_version);
  damaged.emplace_back("not a stream", std::string(200, 'A'));
  damaged.emplace_back("empty", "");
  for (const auto& [what, cipher] : damaged) {
    ASSERT_FALSE(Decrypt(s.key, cipher).summary.ok()) << what;
    for (std::size_t piece : {std::size_t{1}, kChunk + 21, std::max<std::size_t>(cipher.size(), 1)}) {
      EXPECT_FALSE(Verify(s.key, cipher, piece).ok()) << what << ", pieces of " << piece;
    }
  }
}

TEST(StreamVerifierTest, RefusesWrongKey) {
  const Sample s = MakeSample(1);
  SecretBytes nearly = s.key.Clone();
  nearly.data()[31] ^= 0x01;
  EXPECT_FALSE(Verify(NewKey(), s.cipher, s.cipher.size()).ok());
  EXPECT_FALSE(Verify(nearly, s.cipher, 7).ok());
  for (std::size_t size : {0u, 31u, 33u}) {
    StreamVerifier verifier{SecretBytes(size)};
    EXPECT_FALSE(verifier.Feed(AsBytes(s.cipher)).ok()) << size;
    EXPECT_FALSE(verifier.Finish().ok()) << size;
    StreamVerifier unfed{SecretBytes(size)};
    EXPECT_FALSE(unfed.Finish().ok()) << size;
  }
}

// The index of the byte at which Feed, given one byte at a time, first fails; nullopt if none.
std::optional<std::size_t> FirstRefusedByte(const SecretBytes& key, const std::string& cipher) {
  StreamVerifier verifier(key);
  for (std::size_t i = 0; i < cipher.size(); ++i) {
    if (!verifier.Feed(AsBytes(std::string_view(cipher).substr(i, 1))).ok()) return i;
  }
  return std::nullopt;
}

TEST(StreamVerifierTest, RefusesDamageAtTheFirstByteThatShowsIt) {
  const Sample s = MakeSample(1);
  const auto starts = s.parts.Starts();

  std::string magic = s.cipher;
  magic[3] = 'X';
  EXPECT_EQ(FirstRefusedByte(s.key, magic), std::optional<std::size_t>(3));

  std::string length = s.cipher;  // the first frame claims 65554 bytes, one over the limit
  PutLe32ForTest(length, starts[0], kChunk + crypto_secretstream_xchacha20poly1305_ABYTES + 1);
  EXPECT_EQ(FirstRefusedByte(s.key, length), std::optional<std::size_t>(starts[0] + 3));

  std::string frame = s.cipher;  // a flipped byte fails the frame's authentication at its end
  frame[starts[0] + 10] = static_cast<char>(frame[starts[0] + 10] ^ 0x01);
  EXPECT_EQ(FirstRefusedByte(s.key, frame), std::optional<std::size_t>(starts[1] - 1));

  EXPECT_EQ(FirstRefusedByte(s.key, s.cipher + "xy"), std::optional<std::size_t>(s.cipher.size()));
}

TEST(StreamVerifierTest, EveryCallFailsAfterAnError) {
  const Sample s = MakeSample(1);
  StreamVerifier verifier(s.key);
  ASSERT_FALSE(verifier.Feed(AsBytes(std::string_view("COMITYS2"))).ok());
  // Even bytes that would be a good stream on their own are refused now.
  EXPECT_FALSE(verifier.Feed(AsBytes(s.cipher)).ok());
  EXPECT_FALSE(verifier.Feed({}).ok());
  EXPECT_FALSE(verifier.Finish().ok());
}

// A stream built frame by frame with libsodium, for what EncryptStream never writes: other
// tags, a final frame of another size, a trailer that records another length or hash.
struct HandFrame {
  std::string plain;
  unsigned char tag;
};

std::string HandMadeStream(const SecretBytes& key, const std::vector<HandFrame>& frames) {
  crypto_secretstream_xchacha20poly1305_state state;
  std::string header(crypto_secretstream_xchacha20poly1305_HEADERBYTES, '\0');
  crypto_secretstream_xchacha20poly1305_init_push(&state, reinterpret_cast<std::uint8_t*>(header.data()),
                                                  key.data());
  std::string out = "COMITYS1" + header;
  for (const HandFrame& f : frames) {
    std::string frame(4 + f.plain.size() + crypto_secretstream_xchacha20poly1305_ABYTES, '\0');
    PutLe32ForTest(frame, 0, static_cast<std::uint32_t>(frame.size() - 4));
    crypto_secretstream_xchacha20poly1305_push(&state, reinterpret_cast<std::uint8_t*>(frame.data() + 4), nullptr,
                                               reinterpret_cast<const std::uint8_t*>(f.plain.data()),
                                               f.plain.size(), nullptr, 0, f.tag);
    out += frame;
  }
  return out;
}

// The final frame's plaintext: u64 LE length || 32-byte hash.
std::string Trailer(std::uint64_t length, const Bytes& hash) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(length >> (8 * i));
  return out + AsString(hash);
}

TEST(StreamVerifierTest, RefusesFramesEncryptStreamNeverWrites) {
  constexpr unsigned char kMessage = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
  constexpr unsigned char kFinal = crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  const SecretBytes key = NewKey();
  const std::string plain = "attachment";
  const Bytes hash = Blake2b(AsBytes(plain), 32);

  // Control: built like this with the right trailer, both readers accept it.
  const std::string good = HandMadeStream(key, {{plain, kMessage}, {Trailer(plain.size(), hash), kFinal}});
  ASSERT_TRUE(Decrypt(key, good).summary.ok());
  ASSERT_TRUE(Verify(key, good, 1).ok());

  std::string long_trailer = Trailer(plain.size(), hash) + "!";
  Bytes other_hash = hash;
  other_hash[0] ^= 0x01;
  const std::vector<std::pair<std::string, std::string>> forged = {
      {"TAG_PUSH data frame",
       HandMadeStream(key, {{plain, crypto_secretstream_xchacha20poly1305_TAG_PUSH}, {Trailer(plain.size(), hash), kFinal}})},
      {"TAG_REKEY data frame",
       HandMadeStream(key, {{plain, crypto_secretstream_xchacha20poly1305_TAG_REKEY}, {Trailer(plain.size(), hash), kFinal}})},
      {"41-byte final frame", HandMadeStream(key, {{plain, kMessage}, {long_trailer, kFinal}})},
      {"39-byte final frame", HandMadeStream(key, {{plain, kMessage}, {long_trailer.substr(0, 39), kFinal}})},
      {"recorded length off by one", HandMadeStream(key, {{plain, kMessage}, {Trailer(plain.size() + 1, hash), kFinal}})},
      {"recorded hash of other content", HandMadeStream(key, {{plain, kMessage}, {Trailer(plain.size(), other_hash), kFinal}})},
  };
  for (const auto& [what, cipher] : forged) {
    EXPECT_FALSE(Decrypt(key, cipher).summary.ok()) << what;
    for (std::size_t piece : {std::size_t{1}, cipher.size()}) {
      EXPECT_FALSE(Verify(key, cipher, piece).ok()) << what << ", pieces of " << piece;
    }
  }
}

// ---- 200 MiB round trip in bounded memory -------------------------------------------------

// A fresh directory under the test temp dir, removed with everything in it on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern =
        (std::filesystem::path(::testing::TempDir()) / "comity-stream-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A field of /proc/self/status in bytes ("VmRSS", "VmHWM"), or nullopt.
std::optional<std::uint64_t> ProcStatusBytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream rest(line.substr(field.size() + 1));
    std::uint64_t kib = 0;
    std::string unit;
    if (rest >> kib >> unit && unit == "kB") return kib * 1024;
    return std::nullopt;
  }
  return std::nullopt;
}

// Resets VmHWM to the current RSS (Linux clear_refs, value 5); false when not possible.
bool ResetPeakMemory() {
  std::ofstream clear("/proc/self/clear_refs");
  if (!clear) return false;
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

TEST(StreamTest, TwoHundredMiBFileRoundTripsInBoundedMemory) {
  constexpr std::uint64_t kFileSize = 200ull * 1024 * 1024;
  constexpr std::uint64_t kMemoryBound = 32ull * 1024 * 1024;
  constexpr std::size_t kBlock = 1024 * 1024;

  ScratchDir dir;
  ASSERT_TRUE(dir.ok()) << "cannot create a directory under " << ::testing::TempDir();
  const auto plain_path = dir.path() / "plain.bin";
  const auto cipher_path = dir.path() / "plain.bin.comity";
  const auto back_path = dir.path() / "plain.bin.decrypted";

  const bool can_measure = ResetPeakMemory();
  const std::optional<std::uint64_t> rss_at_start = ProcStatusBytes("VmRSS");

  // Pseudo-random content, one block at a time (each block seeded by its index), hashed as
  // it is written so the check below does not rely on the code under test.
  Bytes expected_hash(32);
  {
    std::ofstream out(plain_path, std::ios::binary);
    ASSERT_TRUE(out) << plain_path;
    crypto_generichash_state hash;
    crypto_generichash_init(&hash, nullptr, 0, 32);
    std::vector<std::uint8_t> block(kBlock);
    std::array<std::uint8_t, randombytes_SEEDBYTES> seed{};
    for (std::uint64_t i = 0; i < kFileSize / kBlock; ++i) {
      for (int b = 0; b < 8; ++b) seed[b] = static_cast<std::uint8_t>(i >> (8 * b));
      randombytes_buf_deterministic(block.data(), block.size(), seed.data());
      crypto_generichash_update(&hash, block.data(), block.size());
      out.write(reinterpret_cast<const char*>(block.data()),
                static_cast<std::streamsize>(block.size()));
    }
    crypto_generichash_final(&hash, expected_hash.data(), expected_hash.size());
    out.close();
    ASSERT_TRUE(out) << "writing " << plain_path;
  }
  ASSERT_EQ(std::filesystem::file_size(plain_path), kFileSize);

  const SecretBytes key = NewKey();
  std::optional<StreamSummary> encrypted;
  {
    std::ifstream in(plain_path, std::ios::binary);
    std::ofstream out(cipher_path, std::ios::binary);
    ASSERT_TRUE(in && out);
    auto summary = EncryptStream(key, in, out);
    ASSERT_TRUE(summary.ok()) << summary.error().message;
    encrypted = summary.value();
    out.close();
    ASSERT_TRUE(out) << "writing " << cipher_path;
  }
  std::optional<StreamSummary> decrypted;
  {
    std::ifstream in(cipher_path, std::ios::binary);
    std::ofstream out(back_path, std::ios::binary);
    ASSERT_TRUE(in && out);
    auto summary = DecryptStream(key, in, out);
    ASSERT_TRUE(summary.ok()) << summary.error().message;
    decrypted = summary.value();
    out.close();
    ASSERT_TRUE(out) << "writing " << back_path;
  }

  EXPECT_EQ(encrypted->plaintext_bytes, kFileSize);
  EXPECT_EQ(decrypted->plaintext_bytes, kFileSize);
  EXPECT_EQ(ToHex(encrypted->content_hash), ToHex(expected_hash));
  EXPECT_EQ(ToHex(decrypted->content_hash), ToHex(encrypted->content_hash));
  ASSERT_EQ(std::filesystem::file_size(back_path), kFileSize);
  {
    std::ifstream a(plain_path, std::ios::binary);
    std::ifstream b(back_path, std::ios::binary);
    ASSERT_TRUE(a && b);
    std::vector<char> block_a(kBlock);
    std::vector<char> block_b(kBlock);
    for (std::uint64_t offset = 0; offset < kFileSize; offset += kBlock) {
      a.read(block_a.data(), static_cast<std::streamsize>(kBlock));
      b.read(block_b.data(), static_cast<std::streamsize>(kBlock));
      ASSERT_EQ(a.gcount(), static_cast<std::streamsize>(kBlock)) << "at " << offset;
      ASSERT_EQ(b.gcount(), static_cast<std::streamsize>(kBlock)) << "at " << offset;
      ASSERT_TRUE(block_a == block_b) << "decrypted file differs in the block at " << offset;
    }
  }

  const std::optional<std::uint64_t> peak = ProcStatusBytes("VmHWM");
  if (!can_measure) {
    GTEST_SKIP() << "round trip checked, but peak memory not: /proc/self/clear_refs is not "
                    "writable here, so VmHWM cannot be reset";
  }
  ASSERT_TRUE(rss_at_start.has_value() && peak.has_value())
      << "cannot read VmRSS / VmHWM from /proc/self/status";
#ifdef COMITY_TEST_ASAN
  std::cout << "[ NOTE     ] AddressSanitizer build: the " << kMemoryBound / (1024 * 1024)
            << " MiB peak-memory bound is not asserted (growth was "
            << (*peak - std::min(*peak, *rss_at_start)) / 1024 << " KiB)\n";
#else
  const std::uint64_t growth = *peak > *rss_at_start ? *peak - *rss_at_start : 0;
  RecordProperty("peak_memory_growth_kib", std::to_string(growth / 1024));
  EXPECT_LT(growth, kMemoryBound) << "peak RSS grew by " << growth / 1024 << " KiB while "
                                  << "streaming a " << kFileSize / (1024 * 1024) << " MiB file";
#endif
}

}  // namespace
}  // namespace comity::crypto
