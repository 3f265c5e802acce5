// comityd's identity and network commands (init, enroll, join, show, members, verify,
// network ...): each acts on a node's home directory and prints what it did (node/cli.h).

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <ctime>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "crypto/envelope.h"  // PartyOf
#include "crypto/keystore.h"
#include "crypto/trust.h"
#include "node/files.h"
#include "node/home.h"
#include "node/passphrase.h"
#include "node/archive/archive.h"
#include "node/cli.h"
#include "node/daemon/config.h"

namespace comity::node {
namespace {

using crypto::AsBytes;
using crypto::AsString;

constexpr std::int64_t kDay = 24 * 60 * 60;
constexpr std::int64_t kDefaultValidDays = 730;

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Result<std::string> ReadInput(const std::string& path, const char* what) {
  auto bytes = ReadFile(path);
  if (!bytes) return Fail(std::string(what) + ": " + bytes.error().message);
  return bytes;
}

template <class Message>
Result<Message> ReadProto(const std::string& path, const char* what) {
  auto bytes = ReadInput(path, what);
  if (!bytes) return bytes.error();
  Message m;
  if (!m.ParseFromString(*bytes)) return Fail(std::string(what) + " " + path + " is damaged: it does not parse");
  return m;
}

// Refuses an --out that would land in the node's home, where it could replace a secret.
Status<> CheckOutsideHome(const Home& home, const std::string& out) {
  std::string parent = out.find('/') == std::string::npos ? "." : out.substr(0, out.rfind('/'));
  if (parent.empty()) parent = "/";
  char* resolved_parent = ::realpath(parent.c_str(), nullptr);
  char* resolved_home = ::realpath(home.dir().c_str(), nullptr);
  bool inside = resolved_parent != nullptr && resolved_home != nullptr &&
                std::string(resolved_parent).rfind(resolved_home, 0) == 0 &&
                (std::string(resolved_parent).size() == std::string(resolved_home).size() ||
                 resolved_parent[std::string(resolved_home).size()] == '/');
  std::free(resolved_parent);
  std::free(resolved_home);
  if (inside) return Fail("--out " + out + " is inside the node's home " + home.dir() + "; write it elsewhere");
  return {};
}

Status<> WritePublic(const std::string& path, const std::string& bytes) {
  return WriteFileAtomic(path, bytes, 0644);
}

std::string Fp(const std::string& key) { return crypto::Fingerprint(AsBytes(key)); }

std::string TrustFailure(const crypto::TrustError& e) {
  return std::string(crypto::TrustCodeName(e.code)) + ": " + e.message;
}

// A node's home and the trust store it keeps, for the commands that read or update it.
struct HomeAndTrust {
  Home home;
  crypto::TrustStore trust;
};

Result<HomeAndTrust> OpenWithTrust(const Args& args) {
  auto home = Home::Open(HomeDir(args));
  if (!home) return home.error();
  auto trust = home->LoadTrust();
  if (!trust) return trust.error();
  return HomeAndTrust{std::move(home).value(), std::move(trust).value()};
}

// ---- node identity -------------------------------------------------------------------

CmdStatus CmdInit(const Args& args) {
  v1::NodeConfig config;
  config.set_member_id(*args.Get("id"));
  config.set_authority_name(*args.Get("name"));
  config.set_country(*args.Get("country"));
  if (!crypto::IsValidMemberId(config.member_id())) {
    return Fail("--id must be 2 to 32 upper-case letters, digits or dashes, starting with a letter or digit (e.g. ES-MJ)");
  }
  if (!crypto::IsValidAuthorityName(config.authority_name())) {
    return Fail("--name must be 1 to 200 bytes of printable UTF-8 (no control characters)");
  }
  if (!crypto::IsValidCountry(config.country())) return Fail("--country must be an ISO 3166-1 alpha-2 code such as ES");
  if (auto listen = args.Get("listen")) {
    for (const std::string& e : SplitList(*listen)) {
      if (!IsValidTcpEndpoint(e) || !crypto::IsValidEndpointText(e)) {
        return Fail("--listen endpoint '" + crypto::EscapeForDisplay(e) + "' is not tcp://HOST:PORT");
      }
      config.add_listen(e);
    }
  }
  if (auto via = args.Get("via")) {
    for (const std::string& r : SplitList(*via)) {
      if (!crypto::IsValidMemberId(r)) return Fail("--via names '" + r + "', which is not a member id");
      config.add_via_relays(r);
    }
  }
  if (config.listen().empty() && config.via_relays().empty()) {
    return Fail("a node needs --listen tcp://HOST:PORT (reachable) or --via RELAY_ID (outbound-only, reached through relays)");
  }
  const std::string dir = HomeDir(args);
  if (FileExists(dir + "/node.conf") || FileExists(dir + "/keys")) {
    return Fail("refusing to overwrite the existing node in " + dir);
  }
  auto pass = ObtainPassphrase(PassSource(args), true);
  if (!pass) return pass.error();
  crypto::Identity identity = crypto::Identity::Generate();
  const crypto::KdfParams kdf = CreationKdf();
  auto home = Home::Create(dir, config, identity, *pass, kdf);
  if (!home) return home.error();
  const crypto::PublicIdentity& pub = identity.public_identity();
  auto archive = archive::Archive::Create(dir, pass->view(), kdf);
  auto recorded = archive ? (*archive)->Batch([&] {
    return (*archive)->Audit(Now(), Actor(*home), "init",
                             "node " + config.member_id() + " created, fingerprint " + crypto::Fingerprint(pub.sign));
  })
                          : archive::ArchiveStatus(archive.error());
  if (!recorded) {
    // No node without its archive: take back what was written.
    archive = archive::ArchiveError{};
    for (const char* f : {"/node.conf", "/keys", "/archive.kdf", "/archive.db", "/archive.db-wal", "/archive.db-shm"}) {
      ::unlink((dir + f).c_str());
    }
    ::rmdir((dir + "/blobs").c_str());
    return CmdError(recorded.error());
  }
  std::cout << "Created node " << config.member_id() << " (" << config.authority_name() << ", "
            << config.country() << ") in " << dir << "\n"
            << "Fingerprint: " << crypto::Fingerprint(pub.sign) << "\n"
            << "Transport key (CURVE, Z85): " << crypto::Z85Encode(pub.transport) << "\n";
  return {};
}

CmdStatus CmdEnroll(const Args& args) {
  auto home = Home::Open(HomeDir(args));
  if (!home) return home.error();
  auto pass = ObtainPassphrase(PassSource(args), false);
  if (!pass) return pass.error();
  auto identity = home->UnlockIdentity(*pass);
  if (!identity) return identity.error();
  const v1::NodeConfig& c = home->config();
  v1::EnrollmentRequest req;
  req.set_format(1);
  req.set_member_id(c.member_id());
  req.set_authority_name(c.authority_name());
  req.set_country(c.country());
  *req.mutable_keys() = c.keys();
  *req.mutable_endpoints() = c.listen();
  *req.mutable_via_relays() = c.via_relays();
  req.set_created_at(Now());
  v1::Signed signed_req = crypto::SignEnrollment(*identity, req);
  const std::string out = *args.Get("out");
  if (auto st = CheckOutsideHome(*home, out); !st) return st;
  if (auto st = WritePublic(out, signed_req.SerializeAsString()); !st) return st;
  std::cout << "Enrollment request of " << c.member_id() << " written to " << out << "\n"
            << "Fingerprint: " << Fp(c.keys().sign_ed25519())
            << " (read it to the coordinator, who checks it before admitting)\n";
  return {};
}

// Prints where this node stands in a network's roster.
void PrintStanding(const Home& home, const crypto::TrustStore& store, const std::string& network) {
  auto me = store.FindMember(home.PartyIn(network), Now());
  if (me && me->keys().sign_ed25519() == home.config().keys().sign_ed25519()) {
    std::cout << "This node is member " << me->member_id() << " (" << crypto::RoleName(me->role())
              << ") of " << network << "\n";
  } else if (me) {
    std::cout << "Warning: " << network << " lists member " << me->member_id()
              << " with other keys than this node's\n";
  } else {
    std::cout << "This node is not a current member of " << network << " (" << TrustFailure(me.error()) << ")\n";
  }
}

CmdStatus CmdJoin(const Args& args) {
  auto opened = OpenWithTrust(args);
  if (!opened) return opened.error();
  Home* home = &opened->home;
  crypto::TrustStore* trust = &opened->trust;
  auto roster = ReadProto<v1::Signed>(*args.Get("roster"), "roster");
  if (!roster) return roster.error();
  std::optional<v1::RootKey> new_root;
  if (auto root_path = args.Get("root")) {
    auto root = ReadProto<v1::RootKey>(*root_path, "root key file");
    if (!root) return root.error();
    // A root file is trusted only together with a roster it signed: a root handed over out
    // of band must not slip in beside an unrelated roster.
    auto signed_by_it = crypto::VerifyRoster(*roster, AsBytes(root->root_key()), root->network_id(), Now());
    if (!signed_by_it) {
      return Fail("roster refused: it is not a valid roster of " + root->network_id() + " signed by the root in " +
                  *root_path + " (" + TrustFailure(signed_by_it.error()) + ")");
    }
    const crypto::TrustedNetworkView* known = trust->network(root->network_id());
    if (known == nullptr || !known->direct) new_root = *root;
    if (auto st = trust->TrustRoot(*root); !st) return Fail("cannot trust " + *root_path + ": " + TrustFailure(st.error()));
  }
  auto pass = ObtainPassphrase(PassSource(args), false);  // the archive records the roster
  if (!pass) return pass.error();
  auto network = trust->AcceptRoster(*roster, Now());
  if (!network) {
    std::string hint = network.error().code == crypto::TrustCode::kUnknownRoot && !args.Get("root")
                           ? "; pass --root ROOT_FILE to trust its network directly"
                           : "";
    return Fail("roster refused: " + TrustFailure(network.error()) + hint);
  }
  if (auto st = home->SaveTrust(*trust); !st) return st;
  const crypto::TrustedNetworkView* net = trust->network(*network);
  if (new_root) {
    std::cout << "New trusted root for " << new_root->network_id() << ", fingerprint " << Fp(new_root->root_key())
              << " (compare it with the one the coordinator read to you)\n";
  }
  // A bridge that names a directly trusted network with another key is not followed: say so.
  for (const v1::Bridge& b : net->roster->roster.bridges()) {
    const crypto::TrustedNetworkView* other = trust->network(b.network_id());
    if (other != nullptr && other->direct && !crypto::ConstantTimeEqual(other->root_key, AsBytes(b.root_key()))) {
      std::cout << "Warning: " << *network << " bridges " << b.network_id() << " with root fingerprint "
                << Fp(b.root_key()) << ", but this node trusts " << b.network_id() << " with root fingerprint "
                << crypto::Fingerprint(other->root_key) << "; the configured root is kept\n";
    }
  }
  std::cout << "Trusting " << *network << " (root fingerprint " << crypto::Fingerprint(net->root_key) << ", "
            << (net->direct ? "configured root" : "reached through a bridge") << "): roster version "
            << net->version() << ", " << net->roster->members.size() << " members, "
            << net->roster->roster.revocations_size() << " revoked, " << net->roster->roster.bridges_size()
            << " bridges\n";
  PrintStanding(*home, *trust, *network);
  return RecordInArchive(*home, *pass, "join", *network + " roster version " + std::to_string(net->version()),
                         &*roster, *network, net->version());
}

// ---- coordinator ---------------------------------------------------------------------

struct Coordinator {
  Home home;
  v1::CoordinatorState state;
  crypto::SecretBytes passphrase;  // set by UnlockRootOf
};

Result<Coordinator> OpenCoordinator(const Args& args) {
  auto home = Home::Open(HomeDir(args));
  if (!home) return home.error();
  auto state = home->LoadCoordinator();
  if (!state) return state.error();
  return Coordinator{std::move(home).value(), std::move(state).value(), {}};
}

Result<crypto::SigningKey> UnlockRootOf(Coordinator& c, const Args& args) {
  auto pass = ObtainPassphrase(PassSource(args), false);
  if (!pass) return pass.error();
  c.passphrase = std::move(pass).value();
  auto root = c.home.UnlockRoot(c.passphrase);
  if (!root) return root.error();
  if (AsString(root->public_key()) != c.state.root_key()) {
    return Fail("root.key does not match the network state in " + c.home.dir());
  }
  return root;
}

v1::Certificate IssueCertificate(v1::CoordinatorState& state, const v1::EnrollmentRequest& req, v1::Role role,
                                 std::int64_t valid_days) {
  const std::int64_t now = Now();
  v1::Certificate cert;
  cert.set_format(1);
  cert.set_network_id(state.network_id());
  cert.set_member_id(req.member_id());
  cert.set_authority_name(req.authority_name());
  cert.set_country(req.country());
  cert.set_role(role);
  *cert.mutable_keys() = req.keys();
  *cert.mutable_endpoints() = req.endpoints();
  *cert.mutable_via_relays() = req.via_relays();
  cert.set_not_before(now - crypto::kMaxClockSkewSeconds);
  cert.set_not_after(now + valid_days * kDay);
  cert.set_root_key(state.root_key());
  cert.set_serial(state.next_serial());
  state.set_next_serial(state.next_serial() + 1);
  return cert;
}

// A signed roster ready to publish, with the trust store that already accepted it.
struct PendingRoster {
  v1::Signed signed_roster;
  crypto::TrustStore trust;
  std::uint64_t version = 0;
};

// Signs the next roster version from the state and checks this node's trust store accepts it.
// Nothing is saved: CommitRoster does that once the roster is safely out.
Result<PendingRoster> SignNextRoster(Coordinator& c, const crypto::SigningKey& root) {
  v1::Roster roster;
  roster.set_format(1);
  roster.set_network_id(c.state.network_id());
  roster.set_version(c.state.last_published_version() + 1);
  roster.set_issued_at(Now());
  roster.set_root_key(c.state.root_key());
  *roster.mutable_certificates() = c.state.certificates();
  *roster.mutable_revocations() = c.state.revocations();
  *roster.mutable_bridges() = c.state.bridges();
  v1::Signed signed_roster = crypto::SignRoster(root, roster);

  auto trust = c.home.LoadTrust();
  if (!trust) return trust.error();
  v1::RootKey own;
  own.set_format(1);
  own.set_network_id(c.state.network_id());
  own.set_root_key(c.state.root_key());
  if (auto st = trust->TrustRoot(own); !st) return Fail(TrustFailure(st.error()));
  // Verifying what we are about to publish catches a state that would make a bad roster.
  if (auto ok = trust->AcceptRoster(signed_roster, Now()); !ok) {
    return Fail("the roster would not verify: " + TrustFailure(ok.error()));
  }
  return PendingRoster{std::move(signed_roster), std::move(trust).value(), roster.version()};
}

Status<> CommitRoster(Coordinator& c, const PendingRoster& pending) {
  c.state.set_last_published_version(pending.version);
  if (auto st = c.home.SaveCoordinator(c.state); !st) return st;
  return c.home.SaveTrust(pending.trust);
}

std::optional<int> FindCertificate(const v1::CoordinatorState& state, const std::string& member_id) {
  for (int i = 0; i < state.certificates_size(); ++i) {
    v1::Certificate cert;
    if (cert.ParseFromString(state.certificates(i).body()) && cert.member_id() == member_id) return i;
  }
  return std::nullopt;
}

CmdStatus CmdNetworkCreate(const Args& args) {
  auto home = Home::Open(HomeDir(args));
  if (!home) return home.error();
  const std::string network = *args.Get("network");
  if (!crypto::IsValidNetworkId(network)) {
    return Fail("--network must be 1 to 64 letters, digits, '.', '_' or '-' (e.g. IberRed)");
  }
  if (home->IsCoordinator()) return Fail("this node already holds a network root (" + home->dir() + "/root.key)");
  if (FileExists(home->PathOf("root.key"))) {
    return Fail(home->dir() + "/root.key exists without network.pb: restore network.pb from a backup");
  }
  auto pass = ObtainPassphrase(PassSource(args), false);
  if (!pass) return pass.error();
  auto identity = home->UnlockIdentity(*pass);
  if (!identity) return identity.error();
  crypto::SigningKey root = crypto::SigningKey::Generate();

  // network.pb first (it holds no secret; a leftover one without root.key is an unfinished
  // create and is simply replaced), then root.key, then the first roster.
  Coordinator c{std::move(home).value(), {}, pass->Clone()};
  c.state.set_format(1);
  c.state.set_network_id(network);
  c.state.set_root_key(AsString(root.public_key()));
  c.state.set_next_serial(1);
  const v1::NodeConfig& cfg = c.home.config();
  v1::EnrollmentRequest self;
  self.set_member_id(cfg.member_id());
  self.set_authority_name(cfg.authority_name());
  self.set_country(cfg.country());
  *self.mutable_keys() = cfg.keys();
  *self.mutable_endpoints() = cfg.listen();
  *self.mutable_via_relays() = cfg.via_relays();
  *c.state.add_certificates() =
      crypto::SignCertificate(root, IssueCertificate(c.state, self, v1::ROLE_COORDINATOR, kDefaultValidDays));
  auto pending = SignNextRoster(c, root);
  if (!pending) return pending.error();
  if (auto st = c.home.SaveCoordinator(c.state); !st) return st;
  if (auto st = c.home.CreateRoot(root, *pass, CreationKdf()); !st) {
    ::unlink(c.home.PathOf("network.pb").c_str());
    return st;
  }
  if (auto st = CommitRoster(c, *pending); !st) return st;
  const v1::Signed* published = &pending->signed_roster;
  std::cout << "Created network " << network << " with this node (" << cfg.member_id() << ") as coordinator\n"
            << "Root fingerprint: " << crypto::Fingerprint(root.public_key()) << "\n"
            << "Roster version 1 is installed locally; export the root with 'comityd network root'\n";
  return RecordInArchive(c.home, c.passphrase, "network-create",
                         network + ", root fingerprint " + crypto::Fingerprint(root.public_key()), published,
                         network, 1);
}

CmdStatus CmdNetworkAdmit(const Args& args) {
  auto c = OpenCoordinator(args);
  if (!c) return c.error();
  auto role = crypto::ParseRole(*args.Get("role"));
  if (!role) {
    return Fail("--role must be one of central-authority, competent-authority, contact-point, coordinator, relay");
  }
  std::int64_t valid_days = kDefaultValidDays;
  if (auto days = args.Get("valid-days")) {
    if (days->empty() || days->size() > 5 || days->find_first_not_of("0123456789") != std::string::npos ||
        std::stoll(*days) < 1) {
      return Fail("--valid-days must be a whole number of days from 1 to 99999");
    }
    valid_days = std::stoll(*days);
  }
  std::vector<std::string> languages;
  if (auto l = args.Get("languages")) {
    languages = SplitList(*l);
    for (const std::string& lang : languages) {
      if (!crypto::IsValidLanguage(lang)) return Fail("--languages: '" + lang + "' is not an ISO 639-1 code such as es");
    }
  }
  auto request = ReadProto<v1::Signed>(*args.Get("request"), "enrollment request");
  if (!request) return request.error();
  auto req = crypto::VerifyEnrollment(*request);
  if (!req) return Fail("enrollment request refused: " + TrustFailure(req.error()));
  if (FindCertificate(c->state, req->member_id())) {
    return Fail("member " + req->member_id() + " is already in " + c->state.network_id());
  }
  const v1::PublicKeys& k = req->keys();
  if (auto expected = args.Get("expect-fingerprint"); expected && *expected != Fp(k.sign_ed25519())) {
    return Fail("the request's fingerprint is " + Fp(k.sign_ed25519()) + ", not the expected " + *expected +
                "; do not admit it");
  }
  // Revocation is by key: a revoked member may come back under its id, with new keys only
  // (all three: the request proves possession of the signing key alone).
  auto retired = [&](const std::string& key) {
    for (const v1::Revocation& rev : c->state.revocations()) {
      if (rev.sign_ed25519() == key) return true;
    }
    for (const v1::PublicKeys& old : c->state.retired_keys()) {
      if (key == old.sign_ed25519() || key == old.agree_x25519() || key == old.transport_curve()) return true;
    }
    return false;
  };
  if (retired(k.sign_ed25519()) || retired(k.agree_x25519()) || retired(k.transport_curve())) {
    return Fail("the request of " + req->member_id() + " reuses a key that was revoked; enroll again with new keys "
                "('comityd init' in a new home)");
  }
  for (const v1::Signed& sc : c->state.certificates()) {
    v1::Certificate other;
    other.ParseFromString(sc.body());
    for (const std::string* mine : {&k.sign_ed25519(), &k.agree_x25519(), &k.transport_curve()}) {
      const v1::PublicKeys& o = other.keys();
      if (*mine == o.sign_ed25519() || *mine == o.agree_x25519() || *mine == o.transport_curve()) {
        return Fail("the request of " + req->member_id() + " reuses a public key of member " + other.member_id());
      }
    }
  }
  auto root = UnlockRootOf(*c, args);
  if (!root) return root.error();
  v1::Certificate cert = IssueCertificate(c->state, *req, *role, valid_days);
  for (const std::string& lang : languages) cert.add_languages(lang);
  if (auto forms = args.Get("forms")) {
    for (const std::string& f : SplitList(*forms)) {
      if (!crypto::IsValidTransmissionForm(f)) return Fail("--forms: each form must be 1 to 256 bytes of printable UTF-8");
      cert.add_transmission_forms(f);
    }
  }
  cert.set_contact_24_7(args.Has("contact-24-7"));
  *c->state.add_certificates() = crypto::SignCertificate(*root, cert);
  if (auto st = c->home.SaveCoordinator(c->state); !st) return st;
  std::cout << "Admitted " << cert.member_id() << " (" << cert.authority_name() << ", " << cert.country() << ") to "
            << cert.network_id() << " as " << crypto::RoleName(cert.role()) << "\n"
            << "Fingerprint: " << Fp(cert.keys().sign_ed25519())
            << " (must match the one the applicant read to you)\n"
            << "Publish a roster ('comityd network publish') to make it known\n";
  return RecordInArchive(c->home, c->passphrase, "admit",
                         cert.member_id() + " as " + crypto::RoleName(cert.role()) + ", fingerprint " +
                             Fp(cert.keys().sign_ed25519()));
}

// Shows what a request asks for and its fingerprint, so the coordinator can compare it with
// the one the applicant reads aloud before admitting anything.
CmdStatus CmdNetworkInspect(const Args& args) {
  auto request = ReadProto<v1::Signed>(*args.Get("request"), "enrollment request");
  if (!request) return request.error();
  auto req = crypto::VerifyEnrollment(*request);
  if (!req) return Fail("enrollment request refused: " + TrustFailure(req.error()));
  std::cout << "Enrollment request of " << req->member_id() << " (" << req->authority_name() << ", " << req->country()
            << "), self-signature valid\n"
            << "Fingerprint: " << Fp(req->keys().sign_ed25519()) << "\n";
  for (const std::string& e : req->endpoints()) std::cout << "Listens on: " << e << "\n";
  for (const std::string& r : req->via_relays()) std::cout << "Reached via relay: " << r << "\n";
  return {};
}

CmdStatus CmdNetworkRevoke(const Args& args) {
  auto c = OpenCoordinator(args);
  if (!c) return c.error();
  const std::string member = *args.Get("member");
  auto index = FindCertificate(c->state, member);
  if (!index) return Fail("no member " + member + " in " + c->state.network_id());
  v1::Certificate cert;
  cert.ParseFromString(c->state.certificates(*index).body());
  if (cert.role() == v1::ROLE_COORDINATOR && cert.member_id() == c->home.config().member_id()) {
    return Fail("the coordinator cannot revoke its own node");
  }
  const std::string reason = args.Get("reason").value_or("");
  if (!crypto::IsValidRevocationReason(reason)) {
    return Fail("--reason must be at most 1000 bytes of printable UTF-8");
  }
  auto root = UnlockRootOf(*c, args);  // the operator must prove they hold the root
  if (!root) return root.error();
  v1::Revocation* rev = c->state.add_revocations();
  rev->set_member_id(member);
  rev->set_sign_ed25519(cert.keys().sign_ed25519());
  rev->set_revoked_at(Now());
  rev->set_reason(reason);
  *c->state.add_retired_keys() = cert.keys();
  c->state.mutable_certificates()->DeleteSubrange(*index, 1);
  if (auto st = c->home.SaveCoordinator(c->state); !st) return st;
  std::cout << "Revoked " << member << " in " << c->state.network_id()
            << "; publish a roster ('comityd network publish') to make it known\n";
  return RecordInArchive(c->home, c->passphrase, "revoke", member + ": " + rev->reason());
}

CmdStatus CmdNetworkBridge(const Args& args) {
  auto c = OpenCoordinator(args);
  if (!c) return c.error();
  auto other = ReadProto<v1::RootKey>(*args.Get("root"), "root key file");
  if (!other) return other.error();
  if (other->format() != 1 || !crypto::IsValidNetworkId(other->network_id()) ||
      other->root_key().size() != crypto::kPublicKeySize) {
    return Fail("root key file " + *args.Get("root") + " is malformed");
  }
  if (other->network_id() == c->state.network_id()) return Fail("a network cannot bridge itself");
  for (const v1::Bridge& b : c->state.bridges()) {
    if (b.network_id() == other->network_id()) {
      return Fail(c->state.network_id() + " already bridges " + b.network_id());
    }
  }
  auto root = UnlockRootOf(*c, args);
  if (!root) return root.error();
  v1::Bridge* b = c->state.add_bridges();
  b->set_network_id(other->network_id());
  b->set_root_key(other->root_key());
  if (auto st = c->home.SaveCoordinator(c->state); !st) return st;
  std::cout << c->state.network_id() << " now bridges " << other->network_id() << " (root fingerprint "
            << Fp(other->root_key()) << "); publish a roster to make it known\n";
  return RecordInArchive(c->home, c->passphrase, "bridge",
                         other->network_id() + ", root fingerprint " + Fp(other->root_key()));
}

CmdStatus CmdNetworkUnbridge(const Args& args) {
  auto c = OpenCoordinator(args);
  if (!c) return c.error();
  const std::string other = *args.Get("network");
  auto* bridges = c->state.mutable_bridges();
  auto it = std::find_if(bridges->begin(), bridges->end(),
                         [&](const v1::Bridge& b) { return b.network_id() == other; });
  if (it == bridges->end()) return Fail(c->state.network_id() + " does not bridge " + other);
  auto root = UnlockRootOf(*c, args);
  if (!root) return root.error();
  bridges->erase(it);
  if (auto st = c->home.SaveCoordinator(c->state); !st) return st;
  std::cout << c->state.network_id() << " no longer bridges " << other
            << "; publish a roster to make it known\n";
  return RecordInArchive(c->home, c->passphrase, "unbridge", other);
}

CmdStatus CmdNetworkPublish(const Args& args) {
  auto c = OpenCoordinator(args);
  if (!c) return c.error();
  auto root = UnlockRootOf(*c, args);
  if (!root) return root.error();
  auto pending = SignNextRoster(*c, *root);
  if (!pending) return pending.error();
  const std::string out = *args.Get("out");
  if (auto st = CheckOutsideHome(c->home, out); !st) return st;
  // The roster goes out first: a failed write must not use up a version number.
  if (auto st = WritePublic(out, pending->signed_roster.SerializeAsString()); !st) return st;
  if (auto st = CommitRoster(*c, *pending); !st) return st;
  const v1::Signed* roster = &pending->signed_roster;
  std::cout << "Published roster version " << c->state.last_published_version() << " of " << c->state.network_id()
            << ": " << c->state.certificates_size() << " members, " << c->state.revocations_size() << " revoked, "
            << c->state.bridges_size() << " bridges -> " << out << "\n";
  return RecordInArchive(c->home, c->passphrase, "publish",
                         c->state.network_id() + " version " + std::to_string(c->state.last_published_version()),
                         roster, c->state.network_id(), c->state.last_published_version());
}

CmdStatus CmdNetworkRoot(const Args& args) {
  auto c = OpenCoordinator(args);
  if (!c) return c.error();
  v1::RootKey root;
  root.set_format(1);
  root.set_network_id(c->state.network_id());
  root.set_root_key(c->state.root_key());
  const std::string out = *args.Get("out");
  if (auto st = CheckOutsideHome(c->home, out); !st) return st;
  if (auto st = WritePublic(out, root.SerializeAsString()); !st) return st;
  std::cout << "Root of " << root.network_id() << " written to " << out << "\n"
            << "Root fingerprint: " << Fp(root.root_key()) << " (read it aloud to whoever installs it)\n";
  return {};
}

// ---- inspection ----------------------------------------------------------------------

CmdStatus CmdShow(const Args& args) {
  auto opened = OpenWithTrust(args);
  if (!opened) return opened.error();
  Home* home = &opened->home;
  crypto::TrustStore* trust = &opened->trust;
  const v1::NodeConfig& c = home->config();
  std::cout << "Node " << c.member_id() << " (" << c.authority_name() << ", " << c.country() << ")\n"
            << "Fingerprint: " << Fp(c.keys().sign_ed25519()) << "\n"
            << "Transport key (CURVE, Z85): " << crypto::Z85Encode(AsBytes(c.keys().transport_curve())) << "\n";
  for (const std::string& e : c.listen()) std::cout << "Listens on: " << e << "\n";
  for (const std::string& r : c.via_relays()) std::cout << "Reached via relay: " << r << "\n";
  if (home->IsCoordinator()) {
    auto state = home->LoadCoordinator();
    if (!state) return state.error();
    std::cout << "Coordinator of " << state->network_id() << " (root fingerprint " << Fp(state->root_key())
              << "), last published roster version " << state->last_published_version() << "\n";
  }
  for (const auto& [id, net] : trust->networks()) {
    std::cout << "Trusts " << id << " (" << (net.direct ? "configured root" : "bridged") << ", root fingerprint "
              << crypto::Fingerprint(net.root_key) << "): roster version " << net.version() << "\n";
  }
  return {};
}

CmdStatus CmdMembers(const Args& args) {
  auto opened = OpenWithTrust(args);
  if (!opened) return opened.error();
  crypto::TrustStore* trust = &opened->trust;
  auto only = args.Get("network");
  if (only && trust->network(*only) == nullptr) return Fail("network " + *only + " is not trusted by this node");
  const std::int64_t now = Now();
  for (const auto& [id, net] : trust->networks()) {
    if ((only && *only != id) || !net.roster) continue;
    std::cout << id << " roster version " << net.version() << "\n";
    for (const auto& [member, cert] : net.roster->members) {
      auto status = trust->FindMember(crypto::PartyOf(cert), now);
      std::cout << "  " << member << "  " << cert.country() << "  " << crypto::RoleName(cert.role()) << "  "
                << cert.authority_name() << "  [" << (status ? "valid" : crypto::TrustCodeName(status.error().code))
                << "]  until " << UtcTime(cert.not_after(), "%Y-%m-%d");
      if (cert.languages_size() > 0) {
        std::cout << "  languages:";
        for (const std::string& l : cert.languages()) std::cout << " " << l;
      }
      if (cert.contact_24_7()) std::cout << "  24/7";
      std::cout << "\n";
    }
    for (const v1::Revocation& rev : net.roster->roster.revocations()) {
      std::cout << "  " << rev.member_id() << "  [revoked]\n";
    }
  }
  return {};
}

// Exit 0 when the member verifies now, 1 (with the reason) when it does not.
CmdStatus CmdVerify(const Args& args) {
  auto opened = OpenWithTrust(args);
  if (!opened) return opened.error();
  crypto::TrustStore* trust = &opened->trust;
  v1::Party party;
  party.set_network_id(*args.Get("network"));
  party.set_member_id(*args.Get("member"));
  auto cert = trust->FindMember(party, Now());
  if (!cert) {
    return Fail(party.member_id() + "@" + party.network_id() + " does not verify: " + TrustFailure(cert.error()));
  }
  std::cout << party.member_id() << "@" << party.network_id() << " verifies: " << cert->authority_name() << ", "
            << cert->country() << ", " << crypto::RoleName(cert->role()) << ", fingerprint "
            << Fp(cert->keys().sign_ed25519()) << "\n";
  return {};
}

}  // namespace

std::vector<Command> TrustCommands() {
  auto with = WithCommonOptions;
  return {
      {{"init"}, "init --home DIR --id ID --name NAME --country CC [--listen tcp://HOST:PORT] [--via RELAY_ID[,...]]",
       with({"id", "name", "country", "listen", "via"}), {}, {"id", "name", "country"}, CmdInit},
      {{"enroll"}, "enroll --home DIR --out REQUEST", with({"out"}), {}, {"out"}, CmdEnroll},
      {{"join"}, "join --home DIR --roster ROSTER [--root ROOT_FILE]", with({"roster", "root"}), {}, {"roster"}, CmdJoin},
      {{"show"}, "show --home DIR", with({}), {}, {}, CmdShow},
      {{"members"}, "members --home DIR [--network NET]", with({"network"}), {}, {}, CmdMembers},
      {{"verify"}, "verify --home DIR --network NET --member ID", with({"network", "member"}), {},
       {"network", "member"}, CmdVerify},
      {{"network", "create"}, "network create --home DIR --network NET", with({"network"}), {}, {"network"},
       CmdNetworkCreate},
      {{"network", "admit"},
       "network admit --home DIR --request REQUEST --role ROLE [--languages es,pt] [--forms LIST] [--contact-24-7] "
       "[--valid-days N] [--expect-fingerprint FP]",
       with({"request", "role", "languages", "forms", "valid-days", "expect-fingerprint"}), {"contact-24-7"},
       {"request", "role"},
       CmdNetworkAdmit},
      {{"network", "inspect"}, "network inspect --request REQUEST", with({"request"}), {}, {"request"},
       CmdNetworkInspect},
      {{"network", "revoke"}, "network revoke --home DIR --member ID [--reason TEXT]", with({"member", "reason"}), {},
       {"member"}, CmdNetworkRevoke},
      {{"network", "bridge"}, "network bridge --home DIR --root OTHER_ROOT_FILE", with({"root"}), {}, {"root"},
       CmdNetworkBridge},
      {{"network", "unbridge"}, "network unbridge --home DIR --network OTHER_NET", with({"network"}), {}, {"network"},
       CmdNetworkUnbridge},
      {{"network", "publish"}, "network publish --home DIR --out ROSTER", with({"out"}), {}, {"out"},
       CmdNetworkPublish},
      {{"network", "root"}, "network root --home DIR --out ROOT_FILE", with({"out"}), {}, {"out"}, CmdNetworkRoot},
  };
}


}  // namespace comity::node
