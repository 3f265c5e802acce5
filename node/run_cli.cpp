// comityd run: the daemon in the foreground (node/daemon/node.h), until SIGINT or SIGTERM.
#include <memory>

#include "node/archive/archive.h"
#include "node/cli.h"
#include "node/daemon/config.h"
#include "node/daemon/node.h"

namespace comity::node {
namespace {

// The networks whose current roster lists this node's signing key under its member id.
std::vector<v1::Party> Memberships(const Home& home, const crypto::TrustStore& trust, const crypto::Identity& id) {
  std::vector<v1::Party> out;
  const auto& sign = id.public_identity().sign;
  for (const auto& [network_id, net] : trust.networks()) {
    if (!net.roster) continue;
    auto it = net.roster->members.find(home.config().member_id());
    if (it == net.roster->members.end()) continue;
    if (it->second.keys().sign_ed25519() != std::string(sign.begin(), sign.end())) continue;
    out.push_back(home.PartyIn(network_id));
  }
  return out;
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
  auto settings = Settings(args, *home);  // before the passphrase: a bad file fails at once
  if (!settings) return settings.error();
  auto pass = ObtainPassphrase(PassSource(args), false);
  if (!pass) return CmdError(pass.error());
  auto identity = home->UnlockIdentity(*pass);
  if (!identity) return CmdError(identity.error());
  auto trust = home->LoadTrust();
  if (!trust) return CmdError(trust.error());
  auto memberships = Memberships(*home, *trust, *identity);
  if (memberships.empty()) {
    return Fail("this node is in no roster it trusts yet: join a network first (comityd join --home DIR --roster FILE)");
  }
  auto archive = archive::Archive::Open(home->dir(), pass->view());
  if (!archive) return CmdError(archive.error());
  const std::string dir = home->dir();
  NodeParams params{home->config().member_id(), std::move(identity).value(), std::move(memberships),
                    std::move(trust).value(), std::move(archive).value(), std::move(settings).value(), nullptr,
                    nullptr, [dir](const crypto::TrustStore& t) -> Status<> {
                      // A roster learnt from a peer outlives the run.
                      auto h = Home::Open(dir);
                      if (!h) return h.error();
                      return h->SaveTrust(t);
                    }};
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

}  // namespace

std::vector<Command> RunCommands() {
  return {
      {{"run"}, "run --home DIR [--config FILE]", WithCommonOptions({"config"}), {}, {}, CmdRun},
  };
}

}  // namespace comity::node
