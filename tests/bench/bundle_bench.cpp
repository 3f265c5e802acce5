// comity-bench bundle: the evidence bundle (node/service/bundle.h) of one thread of N events
// (2,000; --quick 200) between ES-MJ of IberRed and SN-MJ of WACAP, two networks of ten
// members each whose rosters bridge each other. Every event is a real envelope sealed by one
// of the two to the other (they take turns), of content type
// application/vnd.comity.thread-event, whose plaintext is a v1::ThreadEvent naming the event
// before it as its parent: the opening (by ES-MJ), then a draft of 4 KiB of text, a comment and
// a status change in turn (the status going between agreed and consultation). Per 64 events one
// signed "delivered" receipt covering the messages of those 64 that its signer received (32;
// the signers take turns); the two rosters. ES-MJ exports the bundle. The clock is fixed
// (mid-2025, one event a minute): VerifyBundle is told the time. Each figure is the median of
// several rounds, one round measuring each in turn, so that all see the same load:
//   sign_s    - SignBundle of the whole bundle (bundle_bytes: the size of the file it gives)
//   verify_s  - VerifyBundle of that file under IberRed's root (its result checked after the
//               timing); events_per_s = N / verify_s
//   items_s   - the verified events parsed into FoldThread's ThreadItems, as
//               client/evidence.cpp does before it folds
//   fold_s    - FoldThread over those items (its view checked after the timing)
//   baseline  - the raw libsodium work a verifier cannot skip, on buffers made beforehand from
//               the file's bytes: per envelope one crypto_sign_verify_detached over its
//               domain-prefixed signed body and one XChaCha20-Poly1305 decryption of its
//               ciphertext; one verification per receipt, per roster certificate, per roster,
//               and of the exporter's signature over the bundle's body.
// Usage: comity-bench bundle [--quick] [--events N]
#include "bundle_bench.h"
#include "bench_nodes.h"

#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/envelope.h"
#include "crypto/keys.h"
#include "crypto/trust.h"
#include "node/service/bundle.h"
#include "node/service/thread.h"
#include "proto/bundle.pb.h"
#include "proto/content.pb.h"

namespace comity::bench {
namespace {

constexpr std::int64_t kOpenedAt = 1'750'000'000;  // the thread's first event (mid-2025)
constexpr std::int64_t kDay = 86'400;
constexpr std::int64_t kEventEvery = 60;           // seconds between events
constexpr std::size_t kDraftBytes = 4096;
constexpr int kEventsPerReceipt = 64;
constexpr const char* kThreadId = "7a3f09c2d41e8b65";

std::string AddressOf(const v1::Party& party) { return party.member_id() + "@" + party.network_id(); }

struct Member {
  crypto::Identity identity = crypto::Identity::Generate();
  v1::Certificate certificate;
  v1::Party party() const { return crypto::PartyOf(certificate); }
};

// One network's coordinator: its root, its members with fresh keys, and its signed roster
// (version 1), which bridges the networks given to Publish.
struct BridgedNetwork {
  std::string id;
  crypto::SigningKey root = crypto::SigningKey::Generate();
  std::map<std::string, Member> members;  // by member id
  v1::Signed roster;

  BridgedNetwork(std::string network_id, const std::vector<std::string>& member_ids) : id(std::move(network_id)) {
    std::uint64_t serial = 1;
    for (const std::string& member_id : member_ids) {
      Member& member = members[member_id];
      v1::Certificate& c = member.certificate;
      c.set_format(1);
      c.set_network_id(id);
      c.set_member_id(member_id);
      c.set_authority_name("Central authority " + member_id);
      c.set_country(member_id.substr(0, 2));
      c.set_role(v1::ROLE_CENTRAL_AUTHORITY);
      *c.mutable_keys() = crypto::ToProto(member.identity.public_identity());
      c.set_not_before(kOpenedAt - kDay);
      c.set_not_after(kOpenedAt + 365 * kDay);
      c.set_root_key(crypto::AsString(root.public_key()));
      c.set_serial(serial++);
    }
  }

  void Publish(const std::vector<const BridgedNetwork*>& bridged) {
    v1::Roster r;
    r.set_format(1);
    r.set_network_id(id);
    r.set_version(1);
    r.set_issued_at(kOpenedAt - kDay);
    r.set_root_key(crypto::AsString(root.public_key()));
    for (const auto& [member_id, member] : members) *r.add_certificates() = crypto::SignCertificate(root, member.certificate);
    for (const BridgedNetwork* other : bridged) {
      v1::Bridge* bridge = r.add_bridges();
      bridge->set_network_id(other->id);
      bridge->set_root_key(crypto::AsString(other->root.public_key()));
    }
    roster = crypto::SignRoster(root, r);
  }

  v1::RootKey root_key() const {
    v1::RootKey k;
    k.set_format(1);
    k.set_network_id(id);
    k.set_root_key(crypto::AsString(root.public_key()));
    return k;
  }
};

std::string DraftText(int version) {
  std::string text;
  for (int paragraph = 1; text.size() < kDraftBytes; ++paragraph) {
    text += "Draft " + std::to_string(version) + ", paragraph " + std::to_string(paragraph) +
            ": the requested authority is asked to obtain the statements of every account held by the persons "
            "named in annex A at Banco Ejemplo from 1 January 2021 to date.\n";
  }
  text.resize(kDraftBytes);
  return text;
}

// The thread's envelopes and receipts, and what its fold must show.
struct Thread {
  std::vector<v1::DisclosedEnvelope> envelopes;
  std::vector<std::string> receipts;  // serialized signed Receipts
  int drafts = 0;
  int comments = 0;
  int status_changes = 0;
  std::string final_status = "consultation";
};

Thread MakeThread(const Member& opener, const Member& other, int events) {
  Thread thread;
  std::vector<crypto::Bytes> ids;
  for (int i = 0; i < events; ++i) {
    const Member& from = i % 2 == 0 ? opener : other;
    const Member& to = i % 2 == 0 ? other : opener;
    v1::ThreadEvent event;
    event.set_format(1);
    event.set_thread_id(kThreadId);
    if (!ids.empty()) event.add_parents(crypto::AsString(ids.back()));
    if (i == 0) {
      v1::ThreadOpened* opened = event.mutable_opened();
      opened->set_kind("mla");
      opened->set_subject("Bank records of Banco Ejemplo, case 14/2025");
      opened->set_legal_basis("UNTOC art. 18");
      opened->set_language("es");
      *opened->add_participants() = opener.party();
      *opened->add_participants() = other.party();
    } else if (i % 3 == 1) {
      v1::DraftPosted* draft = event.mutable_draft();
      draft->set_version(static_cast<std::uint32_t>(++thread.drafts));
      draft->set_name("request-v" + std::to_string(thread.drafts) + ".txt");
      draft->set_media_type("text/plain");
      draft->set_content(DraftText(thread.drafts));
      draft->set_note("Revised after the comments on version " + std::to_string(thread.drafts - 1));
    } else if (i % 3 == 2) {
      ++thread.comments;
      event.mutable_comment()->set_text("Comment " + std::to_string(thread.comments) +
                                        ": paragraph 3 should name the account numbers and the period; the "
                                        "legal basis is fine. Please confirm the bank's address.");
    } else {
      ++thread.status_changes;
      thread.final_status = thread.final_status == "agreed" ? "consultation" : "agreed";
      event.mutable_status()->set_status(thread.final_status);
      event.mutable_status()->set_note("As discussed");
    }
    if (auto checked = service::CheckEvent(event); !checked) Die("event " + std::to_string(i) + ": " + checked.error().message);
    crypto::SealOptions options;
    options.created_at = kOpenedAt + i * kEventEvery;
    options.content_type = std::string(service::kThreadEventContentType);
    const std::string plaintext = event.SerializeAsString();
    crypto::Bytes key;
    auto sealed = crypto::Seal(from.identity, from.party(), {crypto::RecipientOf(to.certificate)}, options,
                               crypto::AsBytes(plaintext), &key);
    if (!sealed) Die("sealing event " + std::to_string(i) + " failed: " + sealed.error().message);
    ids.push_back(crypto::MessageId(*sealed));
    v1::DisclosedEnvelope& disclosed = thread.envelopes.emplace_back();
    disclosed.set_envelope(crypto::AsString(*sealed));
    disclosed.set_content_key(crypto::AsString(key));
  }
  // Event i goes to `other` when i is even. The signers take turns; a stretch of one event
  // gets its receipt from that event's recipient.
  auto recipient_of = [&](int i) -> const Member& { return i % 2 == 0 ? other : opener; };
  for (int first = 0; first < events; first += kEventsPerReceipt) {
    const int end = std::min(events, first + kEventsPerReceipt);
    const Member* signer = (first / kEventsPerReceipt) % 2 == 0 ? &other : &opener;
    if (end - first == 1) signer = &recipient_of(first);
    v1::Receipt receipt;
    receipt.set_format(1);
    *receipt.mutable_signer() = signer->party();
    receipt.set_kind("delivered");
    receipt.set_at(kOpenedAt + (end - 1) * kEventEvery + 30);
    for (int i = first; i < end; ++i) {
      if (&recipient_of(i) == signer) receipt.add_message_ids(crypto::AsString(ids[static_cast<std::size_t>(i)]));
    }
    v1::Signed signed_receipt;
    signed_receipt.set_body(receipt.SerializeAsString());
    signed_receipt.set_signature(
        crypto::AsString(signer->identity.Sign(crypto::kDomainReceipt, crypto::AsBytes(signed_receipt.body()))));
    thread.receipts.push_back(signed_receipt.SerializeAsString());
  }
  return thread;
}

// One signature as libsodium checks it: over DOMAIN 0x00 body (crypto/keys.h).
struct RawSignature {
  std::string message;
  std::string signature;
  std::string public_key;
};

RawSignature RawSignatureOf(std::string_view domain, const v1::Signed& signed_object, std::string public_key) {
  RawSignature raw;
  raw.message.assign(domain);
  raw.message.push_back('\0');
  raw.message += signed_object.body();
  raw.signature = signed_object.signature();
  raw.public_key = std::move(public_key);
  return raw;
}

// One envelope's content as libsodium decrypts it: the header is the associated data.
struct RawCiphertext {
  std::string ciphertext;
  std::string header;
  std::string nonce;
  std::string key;
};

// The unavoidable work of verifying `file`, taken from its bytes; the keys come from the
// networks (which key verifies what is the verifier's logic, not libsodium's work).
struct RawWork {
  std::vector<RawSignature> envelope_signatures;
  std::vector<RawCiphertext> ciphertexts;
  std::vector<RawSignature> receipt_signatures;
  std::vector<RawSignature> certificate_signatures;
  std::vector<RawSignature> roster_and_bundle_signatures;
  std::size_t largest_plaintext = 0;
};

template <class Message>
Message Parsed(const std::string& bytes, const char* what) {
  Message m;
  if (!m.ParseFromString(bytes)) Die(std::string("the baseline cannot parse ") + what);
  return m;
}

RawWork RawWorkOf(const std::string& file, const std::vector<const BridgedNetwork*>& networks) {
  std::map<std::string, std::string> sign_keys;  // MEMBER@NETWORK -> Ed25519 key
  std::map<std::string, std::string> root_keys;  // network id -> root key
  for (const BridgedNetwork* net : networks) {
    root_keys[net->id] = crypto::AsString(net->root.public_key());
    for (const auto& [member_id, member] : net->members) {
      sign_keys[AddressOf(member.party())] = member.certificate.keys().sign_ed25519();
    }
  }
  auto key_of = [&](const v1::Party& party) {
    const auto it = sign_keys.find(AddressOf(party));
    if (it == sign_keys.end()) Die("the baseline knows no key of " + AddressOf(party));
    return it->second;
  };
  RawWork raw;
  const auto outer = Parsed<v1::Signed>(file, "the file");
  const auto bundle = Parsed<v1::EvidenceBundle>(outer.body(), "the bundle");
  for (const v1::DisclosedEnvelope& disclosed : bundle.envelopes()) {
    const auto envelope = Parsed<v1::Signed>(disclosed.envelope(), "an envelope");
    const auto body = Parsed<v1::EnvelopeBody>(envelope.body(), "an envelope body");
    const auto header = Parsed<v1::EnvelopeHeader>(body.header(), "an envelope header");
    raw.envelope_signatures.push_back(RawSignatureOf(crypto::kDomainEnvelope, envelope, key_of(header.sender())));
    raw.ciphertexts.push_back({body.ciphertext(), body.header(), body.aead_nonce(), disclosed.content_key()});
    raw.largest_plaintext = std::max(raw.largest_plaintext, body.ciphertext().size());
  }
  for (const std::string& bytes : bundle.receipts()) {
    const auto signed_receipt = Parsed<v1::Signed>(bytes, "a receipt");
    const auto receipt = Parsed<v1::Receipt>(signed_receipt.body(), "a receipt body");
    raw.receipt_signatures.push_back(RawSignatureOf(crypto::kDomainReceipt, signed_receipt, key_of(receipt.signer())));
  }
  for (const std::string& bytes : bundle.rosters()) {
    const auto signed_roster = Parsed<v1::Signed>(bytes, "a roster");
    const auto roster = Parsed<v1::Roster>(signed_roster.body(), "a roster body");
    const std::string& root = root_keys.at(roster.network_id());
    raw.roster_and_bundle_signatures.push_back(RawSignatureOf(crypto::kDomainRoster, signed_roster, root));
    for (const v1::Signed& certificate : roster.certificates()) {
      raw.certificate_signatures.push_back(RawSignatureOf(crypto::kDomainCertificate, certificate, root));
    }
  }
  raw.roster_and_bundle_signatures.push_back(
      RawSignatureOf(crypto::kDomainEvidenceBundle, outer, key_of(bundle.exporter())));
  return raw;
}

const unsigned char* Uc(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

double TimeVerifies(const std::vector<RawSignature>& signatures) {
  const auto start = Clock::now();
  for (const RawSignature& s : signatures) {
    if (crypto_sign_verify_detached(Uc(s.signature), Uc(s.message), s.message.size(), Uc(s.public_key)) != 0) {
      Die("a raw signature verification failed");
    }
  }
  return Seconds(start, Clock::now());
}

double TimeDecryptions(const std::vector<RawCiphertext>& ciphertexts, std::vector<unsigned char>& out) {
  const auto start = Clock::now();
  for (const RawCiphertext& c : ciphertexts) {
    unsigned long long length = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &length, nullptr, Uc(c.ciphertext), c.ciphertext.size(),
                                                   Uc(c.header), c.header.size(), Uc(c.nonce), Uc(c.key)) != 0) {
      Die("a raw decryption failed");
    }
  }
  return Seconds(start, Clock::now());
}

// The verified events as FoldThread takes them (client/evidence.cpp VerifyThread).
std::vector<service::ThreadItem> ItemsOf(const service::VerifiedBundle& verified) {
  std::vector<service::ThreadItem> items;
  items.reserve(verified.envelopes.size());
  for (const service::VerifiedEnvelope& e : verified.envelopes) {
    service::ThreadItem& item = items.emplace_back();
    if (!item.event.ParseFromArray(e.content.data(), static_cast<int>(e.content.size()))) Die("an event does not parse");
    item.message_id = e.message_id;
    item.sender = e.sender;
    item.created_at = e.header.created_at();
  }
  return items;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int RunBundleBench(int argc, char** argv) {
  const auto args = ParseBenchArgs(argc, argv, "--events", "comity-bench bundle [--quick] [--events N]");
  if (!args) return 2;
  const bool quick = args->quick;
  const long long events_arg = args->number.value_or(quick ? 200 : 2000);
  if (events_arg < 2 || events_arg > 50000) Die("--events must be from 2 to 50000");
  const int events = static_cast<int>(events_arg);
  const int rounds = quick ? 3 : 7;
  crypto::EnsureSodium();
  const auto run_start = Clock::now();

  BridgedNetwork iber("IberRed", {"ES-MJ", "PT-PGR", "AR-MJ", "BR-MJ", "CL-FN", "CO-FGN", "MX-FGR", "PE-MP", "UY-MJ", "BO-MP"});
  BridgedNetwork wacap("WACAP", {"SN-MJ", "GH-AG", "NG-AG", "CI-MJ", "ML-MJ", "BF-MJ", "NE-MJ", "TG-MJ", "BJ-MJ", "GM-MJ"});
  iber.Publish({&wacap});
  wacap.Publish({&iber});
  const Member& spain = iber.members.at("ES-MJ");
  const Member& senegal = wacap.members.at("SN-MJ");

  std::fprintf(stderr, "comity-bench bundle: sealing %d events\n", events);
  const auto setup_start = Clock::now();
  const Thread thread = MakeThread(spain, senegal, events);
  const double setup_s = Seconds(setup_start, Clock::now());
  v1::EvidenceBundle bundle;
  bundle.set_format(1);
  bundle.set_thread_id(kThreadId);
  *bundle.mutable_exporter() = spain.party();
  bundle.set_exported_at(kOpenedAt + events * kEventEvery + 600);
  for (const v1::DisclosedEnvelope& e : thread.envelopes) *bundle.add_envelopes() = e;
  for (const std::string& r : thread.receipts) bundle.add_receipts(r);
  bundle.add_rosters(iber.roster.SerializeAsString());
  bundle.add_rosters(wacap.roster.SerializeAsString());
  const std::int64_t now = bundle.exported_at() + 60;
  const v1::RootKey root = iber.root_key();

  std::fprintf(stderr, "comity-bench bundle: %d rounds\n", rounds);
  std::vector<double> sign, verify, items_parse, fold, raw_total, raw_envelope, raw_decrypt, raw_receipt, raw_certificate,
      raw_roster;
  std::string file;
  RawWork raw;
  std::vector<unsigned char> plaintext;
  for (int round = 0; round < rounds; ++round) {
    auto start = Clock::now();
    std::string signed_file = service::SignBundle(spain.identity, bundle);
    sign.push_back(Seconds(start, Clock::now()));
    if (round == 0) {
      file = std::move(signed_file);
      raw = RawWorkOf(file, {&iber, &wacap});
      plaintext.resize(raw.largest_plaintext);
    } else if (signed_file != file) {
      Die("SignBundle gave another file for the same bundle");
    }

    start = Clock::now();
    auto verified = service::VerifyBundle(file, root, now);
    verify.push_back(Seconds(start, Clock::now()));
    if (!verified) Die("the bundle does not verify: " + verified.error().message);
    if (verified->envelopes.size() != static_cast<std::size_t>(events) ||
        verified->receipts.size() != thread.receipts.size() || verified->exporter != AddressOf(spain.party()) ||
        verified->networks != std::vector<std::string>{"IberRed", "WACAP"}) {
      Die("VerifyBundle gave another bundle than the one signed");
    }

    start = Clock::now();
    std::vector<service::ThreadItem> items = ItemsOf(*verified);
    items_parse.push_back(Seconds(start, Clock::now()));
    start = Clock::now();
    const v1::ThreadView view = service::FoldThread(std::move(items), {});
    fold.push_back(Seconds(start, Clock::now()));
    if (view.events_size() != events || view.drafts() != static_cast<std::uint32_t>(thread.drafts) ||
        view.status() != thread.final_status || view.thread_id() != kThreadId || view.participants_size() != 2) {
      Die("FoldThread gave another view than the thread's (" + std::to_string(view.events_size()) + " events, " +
          std::to_string(view.drafts()) + " drafts, status " + view.status() + ")");
    }

    const double envelope_s = TimeVerifies(raw.envelope_signatures);
    const double decrypt_s = TimeDecryptions(raw.ciphertexts, plaintext);
    const double receipt_s = TimeVerifies(raw.receipt_signatures);
    const double certificate_s = TimeVerifies(raw.certificate_signatures);
    const double roster_s = TimeVerifies(raw.roster_and_bundle_signatures);
    raw_envelope.push_back(envelope_s);
    raw_decrypt.push_back(decrypt_s);
    raw_receipt.push_back(receipt_s);
    raw_certificate.push_back(certificate_s);
    raw_roster.push_back(roster_s);
    raw_total.push_back(envelope_s + decrypt_s + receipt_s + certificate_s + roster_s);
  }

  const double verify_s = Median(verify);
  const double baseline_s = Median(raw_total);
  const double ratio = verify_s / baseline_s;
  std::printf("{\n  \"tool\": \"comity-bench\",\n  \"bench\": \"bundle\",\n  \"quick\": %s,\n", quick ? "true" : "false");
  std::printf("  \"libsodium\": \"%s\",\n  \"rounds\": %d,\n  \"events\": %d,\n", sodium_version_string(), rounds, events);
  std::printf("  \"thread\": {\"opened\": 1, \"drafts\": %d, \"draft_bytes\": %zu, \"comments\": %d, \"status_changes\": %d, "
              "\"receipts\": %zu, \"networks\": 2, \"roster_certificates\": %zu},\n",
              thread.drafts, kDraftBytes, thread.comments, thread.status_changes, thread.receipts.size(),
              raw.certificate_signatures.size());
  std::printf("  \"setup_s\": %.3f,\n  \"bundle_bytes\": %zu,\n", setup_s, file.size());
  std::printf("  \"sign_s\": %.4f,\n  \"verify_s\": %.4f,\n  \"events_per_s\": %.0f,\n", Median(sign), verify_s,
              events / verify_s);
  std::printf("  \"items_s\": %.4f,\n  \"fold_s\": %.4f,\n", Median(items_parse), Median(fold));
  std::printf("  \"baseline\": {\"raw_s\": %.4f, \"raw_events_per_s\": %.0f, "
              "\"envelope_verifies\": %zu, \"envelope_verify_s\": %.4f, \"decryptions\": %zu, \"decrypt_s\": %.4f, "
              "\"receipt_verifies\": %zu, \"receipt_verify_s\": %.4f, \"certificate_verifies\": %zu, "
              "\"certificate_verify_s\": %.4f, \"roster_and_bundle_verifies\": %zu, \"roster_and_bundle_verify_s\": %.4f},\n",
              baseline_s, events / baseline_s, raw.envelope_signatures.size(), Median(raw_envelope),
              raw.ciphertexts.size(), Median(raw_decrypt), raw.receipt_signatures.size(), Median(raw_receipt),
              raw.certificate_signatures.size(), Median(raw_certificate), raw.roster_and_bundle_signatures.size(),
              Median(raw_roster));
  std::printf("  \"ratios\": {\"verify_to_baseline\": %.3f},\n", ratio);
  std::printf("  \"goals\": {\"verify_2000_events_under_2_s\": %s, \"verify_to_baseline_under_3\": %s},\n",
              events >= 2000 && verify_s < 2 ? "true" : "false", ratio < 3 ? "true" : "false");
  std::printf("  \"seconds_total\": %.1f\n}\n", Seconds(run_start, Clock::now()));
  return 0;
}

}  // namespace comity::bench
