// Writes the seed corpus of every fuzz target: valid inputs in the fixed world (world.h),
// one file each, under OUT/<target>/. Run once and committed (tests/fuzz/corpus); the world's
// keys are derived from fixed seeds, so regenerating gives inputs that are valid alike (the
// envelopes differ: sealing draws fresh nonces). Usage: fuzz_seeds OUT_DIR CONFIG_FILE...
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "crypto/envelope.h"
#include "node/daemon/api.h"
#include "node/service/bundle.h"
#include "node/service/thread.h"
#include "proto/content.pb.h"
#include "tests/fuzz/world.h"
#include "tests/unit/bundle_test_support.h"

namespace {

using namespace comity;
using crypto::test::kNow;

void Write(const std::filesystem::path& dir, const std::string& name, const std::string& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

std::string SealTo(const crypto::test::TestMember& from, const std::vector<const crypto::test::TestMember*>& to,
                   std::string_view content_type, const std::string& plaintext, std::int64_t at,
                   std::string* content_key = nullptr) {
  crypto::SealOptions options;
  options.created_at = at;
  options.content_type = std::string(content_type);
  std::vector<crypto::Recipient> recipients;
  for (const auto* m : to) recipients.push_back(crypto::RecipientOf(m->certificate));
  crypto::Bytes key;
  auto sealed = crypto::Seal(from.identity, from.party(), recipients, options, crypto::AsBytes(plaintext), &key);
  if (!sealed) {
    std::fprintf(stderr, "fuzz_seeds: seal failed: %s\n", sealed.error().message.c_str());
    std::exit(1);
  }
  if (content_key != nullptr) *content_key = crypto::AsString(key);
  return crypto::AsString(*sealed);
}

v1::ThreadEvent Opened(const fuzz::World& w) {
  v1::ThreadEvent event;
  event.set_format(1);
  event.set_thread_id("0123456789abcdef");
  event.mutable_opened()->set_kind("mla");
  event.mutable_opened()->set_subject("Bank records, case 14/2025");
  event.mutable_opened()->set_legal_basis("UNTOC art. 18");
  *event.mutable_opened()->add_participants() = w.Spain().party();
  *event.mutable_opened()->add_participants() = w.Senegal().party();
  return event;
}

std::string Frame(const v1::ApiRequest& request) { return node::ApiFrame(request); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fuzz_seeds OUT_DIR [CONFIG_FILE...]\n");
    return 2;
  }
  const std::filesystem::path out(argv[1]);
  const fuzz::World& w = fuzz::TheWorld();

  // envelope: a text message, a thread event, a notice, and one to two recipients.
  const auto& es = w.Spain();
  const auto& pt = w.Portugal();
  const auto& sn = w.Senegal();
  Write(out / "envelope", "text", SealTo(es, {&pt}, "text/plain; charset=utf-8", "Request received.", kNow - 60));
  Write(out / "envelope", "thread-event", SealTo(es, {&pt}, service::kThreadEventContentType,
                                                  Opened(w).SerializeAsString(), kNow - 60));
  v1::Notice notice;
  notice.set_format(1);
  notice.set_subject("Spontaneous information");
  notice.set_body("Accounts at the bank named in the draft.");
  notice.set_confidential(true);
  notice.set_use_restriction("Only for case 14/2025");
  Write(out / "envelope", "notice", SealTo(es, {&pt}, service::kNoticeContentType, notice.SerializeAsString(), kNow - 60));
  Write(out / "envelope", "two-recipients", SealTo(es, {&pt, &sn}, "text/plain; charset=utf-8", "To both.", kNow - 60));
  for (const auto& entry : std::filesystem::directory_iterator(out / "envelope")) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!crypto::Open(pt.identity, pt.party(), crypto::AsBytes(bytes), es.signed_certificate, w.trust, kNow)) {
      std::fprintf(stderr, "fuzz_seeds: the seed %s does not open\n", entry.path().c_str());
      return 1;
    }
  }

  // trust: both rosters, a certificate, an enrollment request, a trust.pb.
  Write(out / "trust", "roster-iberred", w.iber_roster.SerializeAsString());
  Write(out / "trust", "roster-wacap", w.wacap_roster.SerializeAsString());
  Write(out / "trust", "certificate", es.signed_certificate.SerializeAsString());
  v1::EnrollmentRequest request;
  request.set_format(1);
  request.set_member_id("FR-MJ");
  request.set_authority_name("Ministère de la Justice");
  request.set_country("FR");
  request.mutable_keys()->set_sign_ed25519(crypto::AsString(pt.identity.public_identity().sign));
  request.mutable_keys()->set_agree_x25519(crypto::AsString(pt.identity.public_identity().agree));
  request.mutable_keys()->set_transport_curve(crypto::AsString(pt.identity.public_identity().transport));
  request.add_endpoints("tcp://192.0.2.7:7400");
  request.set_created_at(kNow);
  Write(out / "trust", "enrollment", crypto::SignEnrollment(pt.identity, request).SerializeAsString());
  Write(out / "trust", "trust-state", w.trust.Save().SerializeAsString());

  // api: single requests and a stream of several.
  v1::ApiRequest status;
  status.set_version(1);
  status.mutable_status();
  v1::ApiRequest ping;
  ping.set_version(1);
  ping.mutable_ping()->set_to("PT-PGR@IberRed");
  ping.mutable_ping()->set_timeout_ms(10000);
  v1::ApiRequest search;
  search.set_version(1);
  search.mutable_search()->add_words("extradition");
  search.mutable_search()->set_limit(20);
  v1::ApiRequest open;
  open.set_version(1);
  open.mutable_thread_open()->add_to("PT-PGR");
  open.mutable_thread_open()->set_kind("mla");
  open.mutable_thread_open()->set_subject("Bank records");
  open.mutable_thread_open()->set_legal_basis("UNTOC art. 18");
  open.mutable_thread_open()->set_draft("Draft request\n");
  Write(out / "api", "status", Frame(status));
  Write(out / "api", "ping", Frame(ping));
  Write(out / "api", "stream", Frame(status) + Frame(search) + Frame(open));

  // bundle: ES-MJ's export of a thread with Senegal across the bridge, with receipts.
  std::string key;
  v1::EvidenceBundle bundle;
  bundle.set_format(1);
  bundle.set_thread_id("0123456789abcdef");
  *bundle.mutable_exporter() = es.party();
  bundle.set_exported_at(kNow);
  const std::string env = SealTo(es, {&sn}, service::kThreadEventContentType, Opened(w).SerializeAsString(),
                                 kNow - 3600, &key);
  auto* disclosed = bundle.add_envelopes();
  disclosed->set_envelope(env);
  disclosed->set_content_key(key);
  const crypto::Bytes id = crypto::MessageId(crypto::AsBytes(env));
  bundle.add_receipts(service::test::SignReceipt(es, "accepted", {id}, kNow - 3600));
  bundle.add_receipts(service::test::SignReceipt(sn, "delivered", {id}, kNow - 3500));
  bundle.add_rosters(w.iber_roster.SerializeAsString());
  bundle.add_rosters(w.wacap_roster.SerializeAsString());
  const std::string file = service::SignBundle(es.identity, bundle);
  if (auto verified = service::VerifyBundle(file, w.iber.root_key(), kNow); !verified) {
    std::fprintf(stderr, "fuzz_seeds: the seed bundle does not verify: %s\n", verified.error().message.c_str());
    return 1;
  }
  Write(out / "bundle", "thread", file);

  // config: the files given (the example configurations).
  for (int i = 2; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Write(out / "config", std::filesystem::path(argv[i]).filename().string(), text);
  }
  std::printf("fuzz_seeds: corpus written to %s\n", out.c_str());
  return 0;
}
