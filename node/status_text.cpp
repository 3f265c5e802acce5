#include "node/status_text.h"

#include <algorithm>
#include <cstdio>

#include "crypto/trust.h"

namespace comity::node {

std::string Ago(std::int64_t then, std::int64_t now) {
  if (then <= 0) return "never";
  const std::int64_t d = std::max<std::int64_t>(0, now - then);
  if (d < 120) return std::to_string(d) + " s ago";
  if (d < 7200) return std::to_string(d / 60) + " min ago";
  return std::to_string(d / 3600) + " h ago";
}

void PrintStatus(const v1::NodeStatus& st, std::int64_t now, std::ostream& out) {
  if (!st.fingerprint().empty()) {
    out << "Identity:    " << crypto::EscapeForDisplay(st.authority()) << ", fingerprint " << st.fingerprint() << "\n";
  }
  std::string line;
  for (const auto& m : st.memberships()) line += (line.empty() ? "" : ", ") + m;
  out << "Memberships: " << line << "\n";
  line.clear();
  for (const auto& e : st.listening()) line += (line.empty() ? "" : ", ") + e;
  out << "Listening:   " << (line.empty() ? "no (outbound only)" : line) << "\n";
  line.clear();
  for (const auto& n : st.networks()) line += (line.empty() ? "" : ", ") + n.network_id() + " v" + std::to_string(n.version());
  out << "Rosters:     " << line << "\n";
  out << "Peers:\n";
  if (st.peers().empty()) out << "  none yet\n";
  for (const auto& p : st.peers()) {
    std::string link = p.dialled() && p.linked_in() ? "both ways" : p.dialled() ? "dialled" : p.linked_in() ? "linked in" : "none";
    char row[256];
    std::snprintf(row, sizeof row, "  %-28s link %-10s last seen %-12s outbox %lld (relayed %lld)\n",
                  crypto::EscapeForDisplay(p.member()).c_str(), link.c_str(), Ago(p.last_seen(), now).c_str(),
                  static_cast<long long>(p.outbox()), static_cast<long long>(p.relayed()));
    out << row;
  }
  line.clear();
  for (const auto& c : st.counters()) line += (line.empty() ? "" : ", ") + c.name() + " " + std::to_string(c.value());
  out << "Counters:    " << line << "\n";
}

}  // namespace comity::node
