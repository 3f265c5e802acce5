// comity-bench: speed of Comity's crypto paths against the raw libsodium primitives they are
// built on, measured in the same run on the same machine, printed as JSON. Each figure is the
// median of several rounds; the ratio (ours / baseline time) is what to watch, since absolute
// numbers on shared machines are noisy.
// Usage: comity-bench [crypto] [--quick] [--only NAME]      the crypto rows (the default)
//        comity-bench archive [--quick] [--messages N] [--dir DIR]   the archive (archive_bench.cpp)
//        comity-bench e2e [--quick] [--messages N]                   two nodes end to end (e2e_bench.cpp)
//        comity-bench broadcast [--quick] [--members M]              one notice to M members (e2e_bench.cpp)
//        comity-bench attach [--quick] [--mib N]                     one file between two nodes (attach_bench.cpp)
//        comity-bench bundle [--quick] [--events N]                  an evidence bundle signed, verified, folded (bundle_bench.cpp)
//        comity-bench soak [--quick] [--minutes M]                   steady sending through a relay, a node killed every minute (soak_bench.cpp)
#include "archive_bench.h"
#include "attach_bench.h"
#include "bundle_bench.h"
#include "e2e_bench.h"
#include "soak_bench.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/envelope.h"
#include "crypto/keys.h"
#include "crypto/stream.h"
#include "crypto/trust.h"

namespace {

using namespace comity;
using Clock = std::chrono::steady_clock;

// Median seconds per operation over `rounds` rounds of `iterations` calls.
double SecondsPerOp(const std::function<void()>& op, int iterations, int rounds) {
  std::vector<double> per_op;
  op();  // warm up
  for (int r = 0; r < rounds; ++r) {
    auto start = Clock::now();
    for (int i = 0; i < iterations; ++i) op();
    std::chrono::duration<double> d = Clock::now() - start;
    per_op.push_back(d.count() / iterations);
  }
  std::sort(per_op.begin(), per_op.end());
  return per_op[per_op.size() / 2];
}

struct Row {
  std::string name;
  std::string unit;        // what one operation is
  double ours = 0;         // seconds per operation
  double baseline = 0;     // seconds per operation of the raw primitive(s)
  std::string baseline_what;
  double bytes = 0;        // payload bytes per operation (0: not a throughput figure)
};

// A small network: root, sender, recipients, a trust store that verifies them.
struct Network {
  crypto::SigningKey root = crypto::SigningKey::Generate();
  std::vector<crypto::Identity> members;
  std::vector<v1::Signed> certs;
  crypto::TrustStore trust;

  explicit Network(int n) {
    v1::Roster roster;
    roster.set_format(1);
    roster.set_network_id("Bench");
    roster.set_version(1);
    roster.set_issued_at(1000);
    roster.set_root_key(crypto::AsString(root.public_key()));
    for (int i = 0; i < n; ++i) {
      members.push_back(crypto::Identity::Generate());
      v1::Certificate c;
      c.set_format(1);
      c.set_network_id("Bench");
      c.set_member_id("M" + std::to_string(10 + i));
      c.set_authority_name("Authority");
      c.set_country("ES");
      c.set_role(v1::ROLE_CENTRAL_AUTHORITY);
      *c.mutable_keys() = crypto::ToProto(members.back().public_identity());
      c.set_not_before(0);
      c.set_not_after(1LL << 40);
      c.set_root_key(roster.root_key());
      certs.push_back(crypto::SignCertificate(root, c));
      *roster.add_certificates() = certs.back();
    }
    v1::RootKey rk;
    rk.set_format(1);
    rk.set_network_id("Bench");
    rk.set_root_key(roster.root_key());
    (void)trust.TrustRoot(rk);
    auto ok = trust.AcceptRoster(crypto::SignRoster(root, roster), 1000);
    if (!ok) std::fprintf(stderr, "comity-bench: roster setup failed: %s\n", ok.error().message.c_str());
  }
  v1::Party party(int i) const {
    v1::Party p;
    p.set_network_id("Bench");
    p.set_member_id("M" + std::to_string(10 + i));
    return p;
  }
};

Row EnvelopeRow(int recipients, std::size_t size, int iterations, int rounds) {
  Network net(recipients + 1);
  std::vector<crypto::Recipient> to;
  for (int i = 1; i <= recipients; ++i) to.push_back({net.party(i), net.members[i].public_identity().agree});
  crypto::Bytes plain = crypto::RandomBytes(size);
  crypto::SealOptions opt{1000, 0, "bench", {}};
  Row row{"envelope_seal_open_" + std::to_string(recipients) + "r_" + std::to_string(size) + "B",
          "seal for all recipients + open by one", 0, 0, "", static_cast<double>(size)};
  row.ours = SecondsPerOp([&] {
    auto env = crypto::Seal(net.members[0], net.party(0), to, opt, plain);
    auto opened = crypto::Open(net.members[1], net.party(1), *env, net.certs[0], net.trust, 2000);
    if (!opened) std::abort();
  }, iterations, rounds);

  // Baseline: the same primitives called raw (one AEAD, one crypto_box_seal per recipient,
  // one sign; one verify of the certificate, one of the envelope, one box_seal_open, one AEAD).
  std::vector<std::uint8_t> key(32), nonce(24), ct(size + 16), out(size), sig(64), wrapped(80), k2(32);
  unsigned char pk[32], sk[32];
  crypto_box_keypair(pk, sk);
  unsigned char spk[32], ssk[64];
  crypto_sign_keypair(spk, ssk);
  std::vector<std::uint8_t> cert(300, 7), cert_sig(64);  // a certificate-sized signed body
  crypto_sign_detached(cert_sig.data(), nullptr, cert.data(), cert.size(), ssk);
  row.baseline_what = "raw libsodium: xchacha20poly1305 + box_seal per recipient + sign; 2 verifies + box_seal_open + decrypt";
  row.baseline = SecondsPerOp([&] {
    randombytes_buf(key.data(), 32);
    randombytes_buf(nonce.data(), 24);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(ct.data(), &clen, plain.data(), size, nullptr, 0, nullptr, nonce.data(), key.data());
    for (int i = 0; i < recipients; ++i) crypto_box_seal(wrapped.data(), key.data(), 32, pk);
    crypto_sign_detached(sig.data(), nullptr, ct.data(), clen, ssk);
    if (crypto_sign_verify_detached(cert_sig.data(), cert.data(), cert.size(), spk) != 0) std::abort();
    if (crypto_sign_verify_detached(sig.data(), ct.data(), clen, spk) != 0) std::abort();
    if (crypto_box_seal_open(k2.data(), wrapped.data(), 80, pk, sk) != 0) std::abort();
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &mlen, nullptr, ct.data(), clen, nullptr, 0, nonce.data(), key.data()) != 0) std::abort();
  }, iterations, rounds);
  return row;
}

Row StreamRow(std::size_t size, int iterations, int rounds) {
  crypto::SecretBytes key(32);
  crypto_secretstream_xchacha20poly1305_keygen(key.data());
  std::string plain = crypto::AsString(crypto::RandomBytes(size));
  Row row{"stream_encrypt_decrypt_" + std::to_string(size >> 20) + "MiB", "encrypt + decrypt in memory", 0, 0,
          "raw libsodium secretstream push + pull in 64 KiB chunks + BLAKE2b of the plaintext twice, in memory", static_cast<double>(size)};
  row.ours = SecondsPerOp([&] {
    std::istringstream in(plain);
    std::stringstream enc, dec;
    if (!crypto::EncryptStream(key, in, enc)) std::abort();
    if (!crypto::DecryptStream(key, enc, dec)) std::abort();
  }, iterations, rounds);
  std::vector<std::uint8_t> c(size + (size / crypto::kStreamChunkSize + 1) * 17), p(crypto::kStreamChunkSize);
  row.baseline = SecondsPerOp([&] {
    crypto_secretstream_xchacha20poly1305_state st;
    unsigned char header[24];
    crypto_secretstream_xchacha20poly1305_init_push(&st, header, key.data());
    std::size_t off = 0, coff = 0;
    while (off < size) {
      std::size_t n = std::min(crypto::kStreamChunkSize, size - off);
      unsigned long long cl = 0;
      crypto_secretstream_xchacha20poly1305_push(&st, c.data() + coff, &cl,
                                                 reinterpret_cast<const unsigned char*>(plain.data()) + off, n, nullptr, 0, 0);
      off += n;
      coff += cl;
    }
    unsigned char digest[32];  // the stream hashes its plaintext on both sides
    crypto_generichash(digest, 32, reinterpret_cast<const unsigned char*>(plain.data()), size, nullptr, 0);
    crypto_generichash(digest, 32, reinterpret_cast<const unsigned char*>(plain.data()), size, nullptr, 0);
    crypto_secretstream_xchacha20poly1305_init_pull(&st, header, key.data());
    for (std::size_t pos = 0; pos < coff;) {
      std::size_t n = std::min(crypto::kStreamChunkSize + 17, coff - pos);
      unsigned long long pl = 0;
      unsigned char tag = 0;
      if (crypto_secretstream_xchacha20poly1305_pull(&st, p.data(), &pl, &tag, c.data() + pos, n, nullptr, 0) != 0) std::abort();
      pos += n;
    }
  }, iterations, rounds);
  return row;
}

Row VerifyMemberRow(int iterations, int rounds) {
  Network net(50);
  Row row{"trust_verify_member_50", "TrustStore::VerifyMember in a 50-member roster", 0, 0,
          "raw crypto_sign_verify_detached of the same certificate", 0};
  row.ours = SecondsPerOp([&] { if (!net.trust.VerifyMember(net.certs[25], 2000)) std::abort(); }, iterations, rounds);
  const v1::Signed& c = net.certs[25];
  std::string m(crypto::kDomainCertificate);
  m.push_back('\0');
  m += c.body();
  const crypto::Bytes& root_pk = net.root.public_key();
  row.baseline = SecondsPerOp([&] {
    if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(c.signature().data()),
                                    reinterpret_cast<const unsigned char*>(m.data()), m.size(), root_pk.data()) != 0) {
      std::abort();
    }
  }, iterations, rounds);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  int first_arg = 1;
  if (argc > 1 && std::string(argv[1]) == "archive") return comity::bench::RunArchiveBench(argc - 2, argv + 2);
  if (argc > 1 && std::string(argv[1]) == "e2e") return comity::bench::RunE2eBench(argc - 2, argv + 2);
  if (argc > 1 && std::string(argv[1]) == "broadcast") return comity::bench::RunBroadcastBench(argc - 2, argv + 2);
  if (argc > 1 && std::string(argv[1]) == "attach") return comity::bench::RunAttachBench(argc - 2, argv + 2);
  if (argc > 1 && std::string(argv[1]) == "bundle") return comity::bench::RunBundleBench(argc - 2, argv + 2);
  if (argc > 1 && std::string(argv[1]) == "soak") return comity::bench::RunSoakBench(argc - 2, argv + 2);
  if (argc > 1 && std::string(argv[1]) == "crypto") first_arg = 2;
  bool quick = false;
  std::string only;
  for (int i = first_arg; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true;
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else {
      std::fprintf(stderr, "usage: comity-bench [crypto] [--quick] [--only NAME_PREFIX]\n"
                         "       comity-bench archive [--quick] [--messages N] [--dir DIR] [--keep]\n"
                         "       comity-bench e2e [--quick] [--messages N]\n"
                         "       comity-bench broadcast [--quick] [--members M]\n"
                         "       comity-bench attach [--quick] [--mib N]\n"
                         "       comity-bench bundle [--quick] [--events N]\n"
                         "       comity-bench soak [--quick] [--minutes M]\n");
      return 2;
    }
  }
  crypto::EnsureSodium();
  const int rounds = quick ? 1 : 5;
  const int scale = quick ? 1 : 20;
  // Each plan: the name its row will have (for --only), and how to measure it.
  std::vector<std::pair<std::string, std::function<Row()>>> plans = {
      {"envelope_seal_open_1r_1024B", [&] { return EnvelopeRow(1, 1024, 10 * scale, rounds); }},
      {"envelope_seal_open_5r_1024B", [&] { return EnvelopeRow(5, 1024, 5 * scale, rounds); }},
      {"envelope_seal_open_1r_1048576B", [&] { return EnvelopeRow(1, 1 << 20, scale, rounds); }},
      {"stream_encrypt_decrypt", [&] { return StreamRow(quick ? (1u << 20) : (64u << 20), 1, rounds); }},
      {"trust_verify_member_50", [&] { return VerifyMemberRow(10 * scale, rounds); }},
  };
  std::printf("{\n  \"tool\": \"comity-bench\",\n  \"libsodium\": \"%s\",\n  \"rounds\": %d,\n  \"results\": [",
              sodium_version_string(), rounds);
  bool first = true;
  for (auto& [name, plan] : plans) {
    if (!only.empty() && name.rfind(only, 0) != 0) continue;
    Row r = plan();
    std::printf("%s\n    {\"name\": \"%s\", \"op\": \"%s\", \"ours_us_per_op\": %.2f, \"baseline_us_per_op\": %.2f, "
                "\"ratio\": %.3f, \"baseline\": \"%s\"",
                first ? "" : ",", r.name.c_str(), r.unit.c_str(), r.ours * 1e6, r.baseline * 1e6,
                r.ours / r.baseline, r.baseline_what.c_str());
    if (r.bytes > 0) std::printf(", \"ours_MB_per_s\": %.1f, \"baseline_MB_per_s\": %.1f", r.bytes / r.ours / 1e6, r.bytes / r.baseline / 1e6);
    std::printf("}");
    first = false;
  }
  std::printf("\n  ]\n}\n");
  return 0;
}
