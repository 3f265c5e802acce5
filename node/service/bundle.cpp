#include "node/service/bundle.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>
#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "crypto/envelope.h"
#include "crypto/trust.h"
#include "node/service/thread.h"
#include "proto/content.pb.h"

namespace comity::service {
namespace {

namespace pb = google::protobuf;

constexpr std::size_t kMaxReceiptIds = 4096;  // as node/daemon/send.h: a receipt covers 1 to 4096 ids
constexpr std::size_t kMessageIdSize = 32;

// The one encoding the verifier accepts: protobuf's deterministic serialization.
std::string Deterministic(const pb::Message& message) {
  std::string out;
  {
    pb::io::StringOutputStream stream(&out);
    pb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    // Fails only past 2 GiB, far above kMaxBundleBytes; an empty result then matches nothing.
    if (!message.SerializeToCodedStream(&coded)) return {};
  }
  return out;
}

bool HasUnknownFields(const pb::Message& message) {
  const pb::Reflection* reflection = message.GetReflection();
  if (!reflection->GetUnknownFields(message).empty()) return true;
  std::vector<const pb::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const pb::FieldDescriptor* field : fields) {
    if (field->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (!field->is_repeated()) {
      if (HasUnknownFields(reflection->GetMessage(message, field))) return true;
      continue;
    }
    for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
      if (HasUnknownFields(reflection->GetRepeatedMessage(message, field, i))) return true;
    }
  }
  return false;
}

// The first byte of `original` that its parsed form `parsed` does not give back when it is
// serialized canonically (unknown fields dropped), or nullopt when every byte matters.
std::optional<std::size_t> NonCanonicalAt(const pb::Message& parsed, std::string_view original) {
  std::string canonical;
  if (HasUnknownFields(parsed)) {
    std::unique_ptr<pb::Message> known(parsed.New());
    known->CopyFrom(parsed);
    known->DiscardUnknownFields();
    canonical = Deterministic(*known);
  } else {
    canonical = Deterministic(parsed);
  }
  const std::size_t common = std::min(canonical.size(), original.size());
  const auto [a, b] = std::mismatch(canonical.begin(), canonical.begin() + static_cast<std::ptrdiff_t>(common),
                                    original.begin());
  const auto at = static_cast<std::size_t>(a - canonical.begin());
  if (at < common || canonical.size() != original.size()) return at;
  return std::nullopt;
}

// One field of a message as it lies in its bytes: [begin, end) is the whole field (tag,
// length, data), `data` where its value starts (for a length-delimited field, after the length).
struct FieldSpan {
  std::uint32_t number = 0;
  std::size_t begin = 0;
  std::size_t data = 0;
  std::size_t end = 0;
};

// Walks the top-level fields of a serialized message; nullopt when it is not well-formed.
std::optional<std::vector<FieldSpan>> WalkFields(std::string_view bytes) {
  pb::io::CodedInputStream in(reinterpret_cast<const std::uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
  std::vector<FieldSpan> out;
  while (true) {
    FieldSpan field;
    field.begin = static_cast<std::size_t>(in.CurrentPosition());
    const std::uint32_t tag = in.ReadTag();
    if (tag == 0) {
      if (field.begin == bytes.size()) return out;
      return std::nullopt;
    }
    field.number = tag >> 3;
    bool ok = true;
    switch (tag & 7) {
      case 0: {  // varint
        std::uint64_t value = 0;
        field.data = static_cast<std::size_t>(in.CurrentPosition());
        ok = in.ReadVarint64(&value);
        break;
      }
      case 1: {  // fixed64
        std::uint64_t value = 0;
        field.data = static_cast<std::size_t>(in.CurrentPosition());
        ok = in.ReadLittleEndian64(&value);
        break;
      }
      case 2: {  // length-delimited
        int length = 0;
        ok = in.ReadVarintSizeAsInt(&length);
        field.data = static_cast<std::size_t>(in.CurrentPosition());
        ok = ok && in.Skip(length);
        break;
      }
      case 5: {  // fixed32
        std::uint32_t value = 0;
        field.data = static_cast<std::size_t>(in.CurrentPosition());
        ok = in.ReadLittleEndian32(&value);
        break;
      }
      default:  // groups: no Comity message has one
        ok = false;
    }
    if (!ok) return std::nullopt;
    field.end = static_cast<std::size_t>(in.CurrentPosition());
    out.push_back(field);
  }
}

// Where the value of the first field `number` starts in `message` (0 when absent).
std::size_t DataOffset(std::string_view message, std::uint32_t number) {
  if (auto fields = WalkFields(message)) {
    for (const FieldSpan& f : *fields) {
      if (f.number == number) return f.data;
    }
  }
  return 0;
}

std::string Address(const v1::Party& party) {
  return crypto::EscapeForDisplay(party.member_id()) + "@" + crypto::EscapeForDisplay(party.network_id());
}

bool IsValidParty(const v1::Party& party) {
  return crypto::IsValidMemberId(party.member_id()) && crypto::IsValidNetworkId(party.network_id());
}

std::string TimeText(std::int64_t t) {
  const auto seconds = static_cast<std::time_t>(t);
  std::tm tm{};
  char text[64];
  if (gmtime_r(&seconds, &tm) == nullptr || std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
    return "Unix time " + std::to_string(t);
  }
  return text;
}

// "bytes 1204-2311": the first and the last byte of [begin, end), counted from 0.
std::string ByteRange(std::size_t begin, std::size_t end) {
  return "bytes " + std::to_string(begin) + "-" + std::to_string(end - 1);
}

// The verified rosters of the bundle, by network id.
using RostersByNetwork = std::map<std::string, std::vector<const crypto::VerifiedRoster*>>;

// Finds the certificate under which `party` (named as `role`) did an act at time `at`: one
// listed for it by a verified roster of its network whose key `verifies` the act's signature,
// valid at `at`, and whose key no roster of that network issued at or before `at` revokes.
// When none is, says why of the certificate that came furthest.
Result<const v1::Certificate*> Certify(const RostersByNetwork& rosters, const v1::Party& party, std::int64_t at,
                                       std::string_view role, std::string_view signature_name,
                                       const std::function<bool(crypto::ByteView key)>& verifies) {
  const std::string who = Address(party);
  if (!IsValidParty(party)) return MakeError(std::string(role) + " " + who + " is not a valid MEMBER@NETWORK");
  const auto network = rosters.find(party.network_id());
  if (network == rosters.end()) {
    return MakeError("no roster in the bundle certifies " + std::string(role) + " " + who + " (none of network " +
                     crypto::EscapeForDisplay(party.network_id()) + " verified)");
  }
  std::map<std::string, bool> verified_keys;  // one signature check per key
  std::optional<std::string> window_error;
  std::optional<std::string> revoked_error;
  bool listed = false;
  for (const crypto::VerifiedRoster* roster : network->second) {
    const auto member = roster->members.find(party.member_id());
    if (member == roster->members.end()) continue;
    listed = true;
    const v1::Certificate& cert = member->second;
    const std::string& key = cert.keys().sign_ed25519();
    auto [cached, fresh] = verified_keys.emplace(key, false);
    if (fresh) cached->second = verifies(crypto::AsBytes(key));
    if (!cached->second) continue;
    if (at < cert.not_before() || at >= cert.not_after()) {
      if (!window_error) {
        window_error = who + "'s certificate is not valid at " + TimeText(at) + " (it is valid from " +
                       TimeText(cert.not_before()) + " until " + TimeText(cert.not_after()) + ")";
      }
      continue;
    }
    const crypto::VerifiedRoster* revoking = nullptr;
    for (const crypto::VerifiedRoster* other : network->second) {
      if (other->roster.issued_at() > at) continue;
      for (const v1::Revocation& revocation : other->roster.revocations()) {
        // As TrustStore's status check (docs/PROTOCOL.md §4.6): a revocation names the key.
        if (revocation.sign_ed25519() == key) revoking = other;
      }
      if (revoking != nullptr) break;
    }
    if (revoking != nullptr) {
      if (!revoked_error) {
        revoked_error = who + "'s key was revoked by roster version " + std::to_string(revoking->roster.version()) +
                        " of " + party.network_id() + ", issued " + TimeText(revoking->roster.issued_at()) +
                        " (the signature is of " + TimeText(at) + ")";
      }
      continue;
    }
    return &cert;
  }
  if (!listed) return MakeError(std::string(role) + " " + who + " is in no roster of the bundle");
  if (revoked_error) return MakeError(*revoked_error);
  if (window_error) return MakeError(*window_error);
  return MakeError(std::string(signature_name) + " does not verify under the key of " + who);
}

// Parses a signed object carried as bytes inside the bundle and requires its canonical
// encoding; `file_offset` is where it starts in the file, for the message.
Result<v1::Signed> ParseSignedItem(std::string_view bytes, std::size_t file_offset, std::string_view what) {
  v1::Signed signed_item;
  if (!signed_item.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return MakeError("the " + std::string(what) + " does not parse as a signed object");
  }
  if (auto at = NonCanonicalAt(signed_item, bytes)) {
    return MakeError("the " + std::string(what) + " is not in canonical form at byte " +
                     std::to_string(file_offset + *at));
  }
  return signed_item;
}

// One verification of one file: the steps of docs/PROTOCOL.md §13.2, in order.
class BundleVerifier {
 public:
  BundleVerifier(std::string_view file, const v1::RootKey& root, std::int64_t now)
      : file_(file), root_(root), now_(now) {}

  Result<VerifiedBundle> Run() {
    if (auto s = Parse(); !s) return s.error();
    if (auto s = VerifyRosters(); !s) return s.error();
    if (auto s = VerifyEnvelopes(); !s) return s.error();
    if (auto s = VerifyReceipts(); !s) return s.error();
    if (auto s = VerifyExporter(); !s) return s.error();
    out_.bundle = std::move(bundle_);
    return std::move(out_);
  }

 private:
  // "envelope 3 of 7 (bytes 1204-2311)": an item of repeated field `number` of the body.
  std::string Item(std::string_view kind, std::uint32_t number, int index) const {
    const std::vector<FieldSpan>& spans = items_.at(number);
    const FieldSpan& span = spans.at(static_cast<std::size_t>(index));
    return std::string(kind) + " " + std::to_string(index + 1) + " of " + std::to_string(spans.size()) + " (" +
           ByteRange(body_offset_ + span.begin, body_offset_ + span.end) + ")";
  }
  // The item's value: its bytes in the body, and where they start in the file.
  std::pair<std::string_view, std::size_t> ItemData(std::uint32_t number, int index) const {
    const FieldSpan& span = items_.at(number).at(static_cast<std::size_t>(index));
    return {std::string_view(outer_.body()).substr(span.data, span.end - span.data), body_offset_ + span.data};
  }
  std::string Field(std::string_view name, std::uint32_t number) const {
    for (const FieldSpan& span : body_fields_) {
      if (span.number != number) continue;
      return std::string(name) + " (" + ByteRange(body_offset_ + span.begin, body_offset_ + span.end) + ")";
    }
    return std::string(name);
  }

  Status<> Parse() {
    if (root_.format() != 1 || !crypto::IsValidNetworkId(root_.network_id()) ||
        !crypto::IsValidEd25519PublicKey(crypto::AsBytes(root_.root_key()))) {
      return MakeError("the root key given is malformed");
    }
    if (file_.size() > kMaxBundleBytes) {
      return MakeError("the file is larger than 256 MiB, the most an evidence bundle may be");
    }
    if (!outer_.ParseFromArray(file_.data(), static_cast<int>(file_.size()))) {
      return MakeError("the file is not an evidence bundle: it does not parse as a signed object");
    }
    if (auto at = NonCanonicalAt(outer_, file_)) {
      return MakeError("the file is not in canonical form at byte " + std::to_string(*at));
    }
    outer_fields_ = WalkFields(file_).value_or(std::vector<FieldSpan>{});
    body_offset_ = DataOffset(file_, 1);
    if (!bundle_.ParseFromString(outer_.body())) {
      return MakeError("the file is not an evidence bundle: its body does not parse as one");
    }
    if (auto at = NonCanonicalAt(bundle_, outer_.body())) {
      return MakeError("the file is not in canonical form at byte " + std::to_string(body_offset_ + *at));
    }
    body_fields_ = WalkFields(outer_.body()).value_or(std::vector<FieldSpan>{});
    for (const FieldSpan& span : body_fields_) items_[span.number].push_back(span);
    if (items_[5].size() != static_cast<std::size_t>(bundle_.envelopes_size()) ||
        items_[6].size() != static_cast<std::size_t>(bundle_.receipts_size()) ||
        items_[7].size() != static_cast<std::size_t>(bundle_.rosters_size())) {
      return MakeError("the file's fields cannot be located");  // cannot happen once canonical
    }
    if (bundle_.format() != 1) {
      return MakeError(Field("the bundle's format", 1) + " is " + std::to_string(bundle_.format()) +
                       "; this verifier reads format 1");
    }
    if (!IsValidThreadId(bundle_.thread_id())) {
      return MakeError(Field("the bundle's thread id", 2) + " is '" + crypto::EscapeForDisplay(bundle_.thread_id()) +
                       "', not 16 lower-case hex digits");
    }
    if (bundle_.exported_at() > now_ + crypto::kMaxClockSkewSeconds) {
      return MakeError(Field("the bundle's export time", 4) + " " + TimeText(bundle_.exported_at()) +
                       " is in the future; check the clock");
    }
    if (bundle_.envelopes_size() == 0) return MakeError("the bundle holds no envelope");
    return {};
  }

  // Rosters: each signed by the root, or by a root that a verified roster of the root's
  // network bridges (one hop, as the trust store); in whatever order they come.
  Status<> VerifyRosters() {
    struct Root {
      std::string network_id;
      std::string key;
    };
    std::vector<Root> roots{{root_.network_id(), root_.root_key()}};
    const int count = bundle_.rosters_size();
    std::vector<v1::Signed> signed_rosters;
    for (int i = 0; i < count; ++i) {
      auto [bytes, offset] = ItemData(7, i);
      auto parsed = ParseSignedItem(bytes, offset, "roster");
      if (!parsed) return MakeError(Item("roster", 7, i) + ": " + parsed.error().message);
      signed_rosters.push_back(std::move(parsed).value());
    }
    rosters_.resize(static_cast<std::size_t>(count));
    std::map<std::pair<std::string, std::uint64_t>, int> versions;
    for (bool progress = true; progress;) {
      progress = false;
      for (int i = 0; i < count; ++i) {
        auto& slot = rosters_[static_cast<std::size_t>(i)];
        if (slot) continue;
        const v1::Signed& signed_roster = signed_rosters[static_cast<std::size_t>(i)];
        for (std::size_t r = 0; r < roots.size(); ++r) {
          const Root root = roots[r];  // a copy: the loop below may grow `roots`
          const bool signs = crypto::VerifySignature(crypto::AsBytes(root.key), crypto::kDomainRoster,
                                                     crypto::AsBytes(signed_roster.body()),
                                                     crypto::AsBytes(signed_roster.signature()));
          if (!signs) continue;
          auto verified = crypto::VerifyRoster(signed_roster, crypto::AsBytes(root.key), root.network_id, now_);
          if (!verified) return MakeError(Item("roster", 7, i) + ": " + verified.error().message);
          const auto [seen, fresh] = versions.emplace(std::make_pair(root.network_id, verified->roster.version()), i);
          if (!fresh) {
            return MakeError(Item("roster", 7, i) + ": it is version " + std::to_string(verified->roster.version()) +
                             " of " + root.network_id + " again, as roster " + std::to_string(seen->second + 1));
          }
          if (root.network_id == root_.network_id()) {
            for (const v1::Bridge& bridge : verified->roster.bridges()) {
              // A key belongs to one network id: rosters are attributed by the key that signs them.
              const bool taken = std::any_of(roots.begin(), roots.end(), [&](const Root& known) {
                return known.key == bridge.root_key();
              });
              if (!taken) roots.push_back({bridge.network_id(), bridge.root_key()});
            }
          }
          slot = std::move(verified).value();
          by_network_[root.network_id].push_back(&*slot);
          progress = true;
          break;
        }
      }
    }
    for (int i = 0; i < count; ++i) {
      if (!rosters_[static_cast<std::size_t>(i)]) {
        return MakeError(Item("roster", 7, i) + ": no root the bundle reaches signs it (neither the root of " +
                         root_.network_id() + " nor a root that a roster of " + root_.network_id() + " bridges)");
      }
    }
    if (by_network_.count(root_.network_id()) != 0) out_.networks.push_back(root_.network_id());
    for (const auto& [network_id, rosters] : by_network_) {
      if (network_id != root_.network_id()) out_.networks.push_back(network_id);
    }
    return {};
  }

  Status<> VerifyEnvelopes() {
    std::map<crypto::Bytes, int> ids;
    for (int i = 0; i < bundle_.envelopes_size(); ++i) {
      const v1::DisclosedEnvelope& disclosed = bundle_.envelopes(i);
      const std::string where = Item("envelope", 5, i);
      if (disclosed.envelope().size() > crypto::kMaxEnvelopeSize) {
        return MakeError(where + ": the envelope is larger than 64 MiB");
      }
      auto [item, item_offset] = ItemData(5, i);
      auto envelope = ParseSignedItem(disclosed.envelope(), item_offset + DataOffset(item, 1), "envelope");
      if (!envelope) return MakeError(where + ": " + envelope.error().message);
      // The sender and time as the envelope claims them, to find the key that must verify it.
      v1::EnvelopeBody body;
      v1::EnvelopeHeader claimed;
      if (!body.ParseFromString(envelope->body()) || !claimed.ParseFromString(body.header())) {
        return MakeError(where + ": the envelope body is malformed");
      }
      auto sender = Certify(by_network_, claimed.sender(), claimed.created_at(), "sender", "envelope signature",
                            [&](crypto::ByteView key) {
                              return crypto::VerifySignature(key, crypto::kDomainEnvelope,
                                                             crypto::AsBytes(envelope->body()),
                                                             crypto::AsBytes(envelope->signature()));
                            });
      if (!sender) return MakeError(where + ": " + sender.error().message);
      // Certify verified the signature under this certificate's key.
      auto opened = crypto::OpenDisclosedVerified(crypto::AsBytes(disclosed.envelope()),
                                                  crypto::AsBytes(disclosed.content_key()), **sender);
      if (!opened) return MakeError(where + ": " + opened.error().message);
      VerifiedEnvelope verified;
      verified.message_id = opened->message_id;
      verified.sender = Address(crypto::PartyOf(**sender));
      if (opened->header.files_size() == 0) {
        verified.content = std::move(opened->plaintext);
      } else {
        v1::WithFiles with_files;
        if (!with_files.ParseFromArray(opened->plaintext.data(), static_cast<int>(opened->plaintext.size())) ||
            with_files.files_size() != opened->header.files_size()) {
          return MakeError(where + ": its header lists files but its plaintext is no WithFiles of as many");
        }
        verified.content = crypto::ToBytes(with_files.content());
      }
      if (opened->header.content_type() != kThreadEventContentType) {
        return MakeError(where + ": its content type is '" + crypto::EscapeForDisplay(opened->header.content_type()) +
                         "', not " + std::string(kThreadEventContentType));
      }
      v1::ThreadEvent event;
      if (!event.ParseFromArray(verified.content.data(), static_cast<int>(verified.content.size())) ||
          event.format() != 1) {
        return MakeError(where + ": its content is not a thread event");
      }
      if (event.thread_id() != bundle_.thread_id()) {
        return MakeError(where + ": it is an event of thread '" + crypto::EscapeForDisplay(event.thread_id()) +
                         "', not of the bundle's thread " + bundle_.thread_id());
      }
      const auto [seen, fresh] = ids.emplace(verified.message_id, i);
      if (!fresh) return MakeError(where + ": it is the same message as envelope " + std::to_string(seen->second + 1));
      verified.header = std::move(opened->header);
      out_.envelopes.push_back(std::move(verified));
    }
    message_ids_ = std::move(ids);
    return {};
  }

  Status<> VerifyReceipts() {
    std::map<std::string, int> bodies;
    for (int i = 0; i < bundle_.receipts_size(); ++i) {
      const std::string where = Item("receipt", 6, i);
      auto [bytes, offset] = ItemData(6, i);
      auto signed_receipt = ParseSignedItem(bytes, offset, "receipt");
      if (!signed_receipt) return MakeError(where + ": " + signed_receipt.error().message);
      v1::Receipt receipt;
      if (!receipt.ParseFromString(signed_receipt->body())) {
        return MakeError(where + ": its body does not parse as a receipt");
      }
      auto signer = Certify(by_network_, receipt.signer(), receipt.at(), "signer", "receipt signature",
                            [&](crypto::ByteView key) {
                              return crypto::VerifySignature(key, crypto::kDomainReceipt,
                                                             crypto::AsBytes(signed_receipt->body()),
                                                             crypto::AsBytes(signed_receipt->signature()));
                            });
      if (!signer) return MakeError(where + ": " + signer.error().message);
      const std::string& kind = receipt.kind();
      const bool about_needed = kind == "relayed" || kind == "not-delivered";
      const bool kind_ok = about_needed || kind == "accepted" || kind == "delivered" || kind == "read" ||
                           kind == "conditions-accepted";
      bool ids_ok = receipt.message_ids_size() >= 1 &&
                    static_cast<std::size_t>(receipt.message_ids_size()) <= kMaxReceiptIds;
      for (const std::string& id : receipt.message_ids()) ids_ok = ids_ok && id.size() == kMessageIdSize;
      if (receipt.format() != 1 || !kind_ok || !ids_ok || (about_needed && !IsValidParty(receipt.about()))) {
        return MakeError(where + ": the receipt is malformed");
      }
      const bool covers = std::any_of(
          receipt.message_ids().begin(), receipt.message_ids().end(),
          [&](const std::string& id) { return message_ids_.count(crypto::ToBytes(id)) != 0; });
      if (!covers) return MakeError(where + ": it covers no envelope of the bundle");
      const auto [seen, fresh] = bodies.emplace(signed_receipt->body(), i);
      if (!fresh) return MakeError(where + ": it is the same receipt as receipt " + std::to_string(seen->second + 1));
      out_.receipts.push_back({std::move(receipt), Address(crypto::PartyOf(**signer))});
    }
    return {};
  }

  Status<> VerifyExporter() {
    std::string signature_name = "the exporter's signature";
    for (const FieldSpan& span : outer_fields_) {
      if (span.number == 2) signature_name += " (" + ByteRange(span.begin, span.end) + ")";
    }
    auto exporter = Certify(by_network_, bundle_.exporter(), bundle_.exported_at(), "exporter", signature_name,
                            [&](crypto::ByteView key) {
                              return crypto::VerifySignature(key, crypto::kDomainEvidenceBundle,
                                                             crypto::AsBytes(outer_.body()),
                                                             crypto::AsBytes(outer_.signature()));
                            });
    if (!exporter) return MakeError(Field("the exporter", 3) + ": " + exporter.error().message);
    out_.exporter = Address(crypto::PartyOf(**exporter));
    return {};
  }

  std::string_view file_;
  const v1::RootKey& root_;
  std::int64_t now_;

  v1::Signed outer_;
  std::vector<FieldSpan> outer_fields_;
  std::size_t body_offset_ = 0;  // where the body starts in the file
  v1::EvidenceBundle bundle_;
  std::vector<FieldSpan> body_fields_;
  std::map<std::uint32_t, std::vector<FieldSpan>> items_;  // the body's fields by number
  std::vector<std::optional<crypto::VerifiedRoster>> rosters_;  // by index in the bundle
  RostersByNetwork by_network_;                            // into rosters_, in the order they verified
  std::map<crypto::Bytes, int> message_ids_;
  VerifiedBundle out_;
};

}  // namespace

std::string SignBundle(const crypto::Identity& exporter, const v1::EvidenceBundle& bundle) {
  v1::Signed file;
  file.set_body(Deterministic(bundle));
  file.set_signature(crypto::AsString(exporter.Sign(crypto::kDomainEvidenceBundle, crypto::AsBytes(file.body()))));
  return Deterministic(file);
}

Result<VerifiedBundle> VerifyBundle(std::string_view file, const v1::RootKey& root, std::int64_t now) {
  return BundleVerifier(file, root, now).Run();
}

}  // namespace comity::service
