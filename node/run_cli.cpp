// comityd run: the daemon in the foreground (node/daemon/node.h), until SIGINT or SIGTERM.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>

#include "node/archive/archive.h"
#include "node/cli.h"
#include "crypto/envelope.h"
#include "node/files.h"
#include "proto/link.pb.h"
#include "node/daemon/config.h"
#include "node/daemon/node.h"
#include "node/daemon/send.h"
#include "node/status_text.h"

namespace comity::node {
namespace {

// What running or sending needs: the passphrase, the node's keys, its trust store and the
// networks whose roster lists it.
struct Unlocked {
  crypto::SecretBytes passphrase;
  crypto::Identity identity;
  crypto::TrustStore trust;
  std::vector<v1::Party> memberships;
};

Result<Unlocked, CmdError> Unlock(const Args& args, const Home& home) {
  auto pass = ObtainPassphrase(PassSource(args), false);
  if (!pass) return CmdError(pass.error());
  auto identity = home.UnlockIdentity(*pass);
  if (!identity) return CmdError(identity.error());
  auto trust = home.LoadTrust();
  if (!trust) return CmdError(trust.error());
  auto memberships = MembershipsOf(home.config().member_id(), *trust, *identity);
  if (memberships.empty()) {
    return CmdError(
        Fail("this node is in no roster it trusts yet: join a network first (comityd join --home DIR --roster FILE)"));
  }
  return Unlocked{std::move(pass).value(), std::move(identity).value(), std::move(trust).value(), std::move(memberships)};
}

Result<DaemonSettings, CmdError> Settings(const Args& args, const Home& home) {
  if (auto path = args.Get("config")) {
    auto s = LoadDaemonConfig(*path, home.config());
    if (!s) return CmdError(s.error().message, 2);  // a configuration that does not parse is bad usage
    return std::move(s).value();
  }
  auto s = ParseDaemonConfig("", "(defaults)", home.config());
  if (!s) return CmdError(s.error().message, 2);
  return std::move(s).value();
}

CmdStatus CmdRun(const Args& args) {
  auto home = Home::Open(HomeDir(args));
  if (!home) return CmdError(home.error());
  // One daemon per home, whatever the timing: an exclusive lock held for the whole run.
  const std::string lock_path = home->PathOf("comityd.lock");
  const int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0) return Fail("cannot open " + lock_path + ": " + std::strerror(errno));
  if (::flock(lock, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock);
    return Fail("another comityd runs on " + home->dir() + " (it holds " + lock_path + ")");
  }
  auto settings = Settings(args, *home);  // before the passphrase: a bad file fails at once
  if (!settings) return settings.error();
  auto node_keys = Unlock(args, *home);
  if (!node_keys) return node_keys.error();
  auto archive = archive::Archive::Open(home->dir(), node_keys->passphrase.view());
  if (!archive) return CmdError(archive.error());
  const std::string dir = home->dir();
  NodeParams params(home->config().member_id(), std::move(node_keys->identity), std::move(node_keys->memberships),
                    std::move(node_keys->trust), std::move(archive).value(), std::move(settings).value());
  params.status_path = home->PathOf("status.pb");
  params.api_socket_path = home->PathOf("comity.sock");
  params.on_trust_changed = [dir](const crypto::TrustStore& t) -> Status<> {
    // A roster learnt from a peer outlives the run.
    auto h = Home::Open(dir);
    if (!h) return h.error();
    return h->SaveTrust(t);
  };
  auto node = Node::Create(std::move(params));
  if (!node) return CmdError(node.error());
  const std::string home_dir = home->dir();
  const std::optional<std::string> config_path = args.Get("config");
  (*node)->HandleSignals([home_dir, config_path](Node& n) {
    // SIGHUP: the trust store (a roster joined or accepted meanwhile) and the log level.
    auto h = Home::Open(home_dir);
    if (!h) {
      n.log().Error("reload: " + h.error().message);
      return;
    }
    auto t = h->LoadTrust();
    if (!t) {
      n.log().Error("reload: " + t.error().message);
      return;
    }
    n.ReplaceTrust(std::move(t).value());
    if (config_path) {
      auto s = LoadDaemonConfig(*config_path, h->config());
      if (!s) {
        n.log().Error("reload: " + s.error().message + " (keeping the running configuration)");
        return;
      }
      n.log().set_level(s->log_level);
    }
    n.log().Info("reloaded the trust store" + std::string(config_path ? " and the log level" : ""));
  });
  (*node)->Run();
  node->reset();  // closes the archive cleanly
  return {};
}

// Recipients: MEMBER@NETWORK, or a bare MEMBER found in exactly one of this node's networks.
Result<std::vector<v1::Party>, CmdError> Recipients(const std::string& list, const crypto::TrustStore& trust,
                                                   const std::vector<v1::Party>& mine) {
  std::vector<v1::Party> out;
  std::string item;
  std::stringstream in(list);
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    auto p = ResolveParty(item, trust, mine);
    if (!p) return CmdError(Fail("--to " + p.error().message));
    out.push_back(*p);
  }
  if (out.empty()) return CmdError(Fail("--to names no recipient"));
  return out;
}

CmdStatus CmdSend(const Args& args) {
  const bool text = args.Get("text").has_value(), file = args.Get("file").has_value();
  const std::optional<std::string> attach = args.Get("attach");
  if (args.Get("to").has_value() == args.Get("network").has_value()) {
    return CmdError("give exactly one of --to ID[,ID...] or --network NET", 2);
  }
  if (text && file) return CmdError("give one of --text TEXT or --file FILE, not both", 2);
  if (!text && !file && !attach) return CmdError("give --text TEXT, --file FILE or --attach FILE", 2);
  std::int64_t count = 1;
  if (auto c = args.Get("count")) {
    if (c->empty() || c->size() > 6 || c->find_first_not_of("0123456789") != std::string::npos) {
      return CmdError("--count must be a number from 1 to 100000", 2);
    }
    count = std::stoll(*c);
    if (count < 1 || count > 100000) return CmdError("--count must be a number from 1 to 100000", 2);
  }
  std::string content;
  if (text) {
    content = *args.Get("text");
  } else if (file) {
    auto bytes = ReadFile(*args.Get("file"), crypto::kMaxEnvelopeSize - (1 << 20));
    if (!bytes) return Fail("--file: " + bytes.error().message);
    content = std::move(bytes).value();
  }
  const std::string type =
      args.Get("type").value_or(file ? "application/octet-stream" : "text/plain; charset=utf-8");
  auto home = Home::Open(HomeDir(args));
  if (!home) return CmdError(home.error());
  auto node_keys = Unlock(args, *home);
  if (!node_keys) return node_keys.error();
  Result<std::vector<v1::Party>, CmdError> to = CmdError("", 1);
  if (auto network = args.Get("network")) {
    auto all = NetworkRecipients(*network, node_keys->trust, node_keys->memberships, Now());
    if (!all) return Fail("--network: " + all.error().message);
    to = std::move(all).value();
  } else {
    to = Recipients(*args.Get("to"), node_keys->trust, node_keys->memberships);
  }
  if (!to) return to.error();
  auto archive = archive::Archive::Open(home->dir(), node_keys->passphrase.view());
  if (!archive) return CmdError(archive.error());
  std::vector<OutgoingFile> files;
  if (attach) {
    auto settings = Settings(args, *home);
    if (!settings) return settings.error();
    auto f = PrepareFile(*attach, (*archive)->blob_dir(), "application/octet-stream", settings->max_attachment_bytes);
    if (!f) return Fail("--attach: " + f.error().message);
    files.push_back(std::move(f).value());
    if (auto st = ReuseStored(**archive, files.back()); !st) {
      ::unlink(files.back().stream_path.c_str());
      return CmdError(st.error());
    }
  }
  std::vector<Outgoing> messages;
  for (std::int64_t i = 0; i < count; ++i) {
    messages.push_back({*to, type, count == 1 ? content : content + " #" + std::to_string(i + 1), 0, files, std::nullopt});
  }
  auto ids = QueueMessages(**archive, node_keys->identity, node_keys->memberships, node_keys->trust, messages, Now());
  if (!ids) {
    for (const OutgoingFile& f : files) {
      if (!f.stream_path.empty()) ::unlink(f.stream_path.c_str());
    }
    return CmdError(ids.error());
  }
  std::string names;
  for (const v1::Party& p : *to) names += (names.empty() ? "" : ", ") + AddressOf(p);
  if (count == 1) {
    std::cout << "Queued " << crypto::ToHex(ids->front()) << " for " << names << "\n";
  } else {
    std::cout << "Queued " << count << " messages for " << names << "\n";
  }
  std::cout << "The running daemon delivers them (comityd run --home " << home->dir() << ").\n";
  return {};
}

// Exit 0 when the daemon runs, 3 when it does not (what the status file says, and whether its
// process is alive).
CmdStatus CmdStatus_(const Args& args) {
  auto home = Home::Open(HomeDir(args));
  if (!home) return CmdError(home.error());
  const std::string path = home->PathOf("status.pb");
  const std::int64_t now = Now();
  std::cout << "Node " << home->config().member_id() << " (" << crypto::EscapeForDisplay(home->config().authority_name())
            << ")\n";
  if (!FileExists(path)) {
    std::cout << "Not running: it has never run (start it with comityd run --home " << home->dir() << ")\n";
    return CmdError("", 3);
  }
  auto bytes = ReadFile(path, 4u << 20);
  v1::NodeStatus st;
  if (!bytes || !st.ParseFromString(*bytes) || st.format() != 1) return Fail(path + " is damaged");
  const bool alive = st.running() && st.pid() > 0 && ::kill(st.pid(), 0) == 0 && now - st.written_at() < 30;
  if (alive) {
    std::cout << "Running, pid " << st.pid() << "; status of " << Ago(st.written_at(), now) << "\n";
  } else {
    std::cout << "Not running; last status of " << Ago(st.written_at(), now)
              << " (start it with comityd run --home " << home->dir() << ")\n";
  }
  PrintStatus(st, now, std::cout);
  if (!alive) return CmdError("", 3);
  return {};
}

}  // namespace

std::vector<Command> RunCommands() {
  return {
      {{"run"}, "run --home DIR [--config FILE]", WithCommonOptions({"config"}), {}, {}, CmdRun},
      {{"send"},
       "send --home DIR (--to ID[,ID...] | --network NET) (--text TEXT | --file FILE) [--attach FILE] "
       "[--type MEDIA_TYPE] [--count N] [--config FILE]",
       WithCommonOptions({"to", "network", "text", "file", "attach", "type", "count", "config"}), {}, {}, CmdSend},
      {{"status"}, "status --home DIR", WithCommonOptions({}), {}, {}, CmdStatus_},
  };
}

}  // namespace comity::node
