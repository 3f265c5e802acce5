// comity-sandbox-run: runs a command under the seccomp filters that the systemd unit's
// SystemCallFilter=, RestrictAddressFamilies= and MemoryDenyWriteExecute= would install, so that
// package_test can run comityd as the unit confines it on a machine without systemd as PID 1.
//
//   comity-sandbox-run --syscalls FILE --families AF_UNIX,AF_INET,... [--deny-wx] -- COMMAND ARGS...
//
// FILE lists the allowed system calls, one name per line (package_test expands the unit's
// filter with `systemd-analyze syscall-filter`); any other fails with EPERM, as
// SystemCallErrorNumber=EPERM makes it. socket() of a family not listed fails with
// EAFNOSUPPORT. --deny-wx refuses mappings both writable and executable (EPERM).
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

int Usage(const std::string& why) {
  std::fprintf(stderr, "comity-sandbox-run: %s\nusage: comity-sandbox-run --syscalls FILE --families LIST [--deny-wx] -- COMMAND...\n",
               why.c_str());
  return 2;
}

const std::map<std::string, int> kFamilies = {
    {"AF_UNIX", AF_UNIX},       {"AF_INET", AF_INET},     {"AF_INET6", AF_INET6},
    {"AF_NETLINK", AF_NETLINK}, {"AF_PACKET", AF_PACKET},
};

}  // namespace

int main(int argc, char** argv) {
  std::string syscalls_file;
  std::vector<int> families;
  bool deny_wx = false;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "--syscalls" && i + 1 < argc) {
      syscalls_file = argv[++i];
    } else if (a == "--families" && i + 1 < argc) {
      std::stringstream list(argv[++i]);
      for (std::string f; std::getline(list, f, ',');) {
        auto it = kFamilies.find(f);
        if (it == kFamilies.end()) return Usage("unknown address family " + f);
        families.push_back(it->second);
      }
    } else if (a == "--deny-wx") {
      deny_wx = true;
    } else {
      return Usage("unknown option " + a);
    }
  }
  if (syscalls_file.empty() || families.empty() || i >= argc) return Usage("--syscalls, --families and a command are needed");

  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (ctx == nullptr) return Usage("seccomp_init failed");
  std::ifstream in(syscalls_file);
  if (!in) return Usage("cannot read " + syscalls_file);
  int allowed = 0;
  for (std::string name; std::getline(in, name);) {
    if (name.empty()) continue;
    const int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // not a system call of this architecture
    if (deny_wx && (name == "mmap" || name == "mprotect" || name == "pkey_mprotect")) {
      // MemoryDenyWriteExecute: PROT_WRITE|PROT_EXEC together is refused, anything else allowed.
      const int prot_arg = 2;
      if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                           SCMP_CMP(prot_arg, SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, 0)) != 0 ||
          seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                           SCMP_CMP(prot_arg, SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_WRITE)) != 0 ||
          seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
                           SCMP_CMP(prot_arg, SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_EXEC)) != 0) {
        return Usage("cannot add the rules for " + name);
      }
    } else if (name == "socket") {
      for (int f : families) {
        if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(f))) != 0) {
          return Usage("cannot add the rule for socket");
        }
      }
      // Every other family: EAFNOSUPPORT, as RestrictAddressFamilies= answers. A rule per
      // family range keeps libseccomp's one-comparison-per-argument limit.
      for (int f = 0; f < 64; ++f) {
        bool listed = false;
        for (int g : families) listed = listed || g == f;
        if (!listed && seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), nr, 1,
                                        SCMP_A0(SCMP_CMP_EQ, static_cast<scmp_datum_t>(f))) != 0) {
          return Usage("cannot add the rule for socket family " + std::to_string(f));
        }
      }
    } else if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0) {
      return Usage("cannot allow " + name);
    }
    ++allowed;
  }
  if (allowed == 0) return Usage(syscalls_file + " names no system call");
  if (seccomp_load(ctx) != 0) return Usage("seccomp_load failed");  // sets no_new_privs itself
  seccomp_release(ctx);
  execvp(argv[i], argv + i);
  std::fprintf(stderr, "comity-sandbox-run: cannot run %s: %s\n", argv[i], std::strerror(errno));
  return 127;
}
