// Child processes for the multi-process benchmarks (see bench_children.h).
#include "bench_children.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sstream>
#include <thread>

namespace comity::bench {

void Tell(int fd, const std::string& line) {
  const std::string out = line + "\n";
  for (std::size_t at = 0; at < out.size();) {
    const ssize_t n = ::write(fd, out.data() + at, out.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) std::_Exit(1);  // the parent is gone
    at += static_cast<std::size_t>(n);
  }
}

void AwaitStop(int control) {
  char b = 0;
  while (::read(control, &b, 1) < 0 && errno == EINTR) {
  }
}

std::optional<char> Command(int control, int ms) {
  pollfd p{control, POLLIN, 0};
  if (::poll(&p, 1, ms) <= 0) return std::nullopt;
  char b = 0;
  for (;;) {
    const ssize_t n = ::read(control, &b, 1);
    if (n < 0 && errno == EINTR) continue;
    return n == 1 ? b : '\0';
  }
}

std::string Field(const std::string& key, double value) {
  char buf[96];
  std::snprintf(buf, sizeof buf, " %s=%.6f", key.c_str(), value);
  return buf;
}

double ProcessCpu() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double PollCounters(node::Node& n, const std::function<bool(const node::NodeCounters&)>& done) {
  double longest = 0;
  for (;;) {
    const auto asked = Clock::now();
    const node::NodeCounters c = n.Counters();
    longest = std::max(longest, Seconds(asked, Clock::now()));
    if (done(c)) return longest;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Child::~Child() {
  if (report >= 0) ::close(report);
  if (control >= 0) ::close(control);
  if (pid > 0 && status < 0) Kill();
}

void Child::Kill() {
  if (pid <= 0 || status >= 0) return;
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

std::string Child::Ending() {
  if (status < 0 && ::waitpid(pid, &status, 0) != pid) return "is lost";
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

std::unique_ptr<Child> Spawn(const std::string& name, const std::function<int(int report, int control)>& body,
                             const std::vector<int>& inherited) {
  int up[2], down[2];
  if (::pipe(up) != 0) return nullptr;
  if (::pipe(down) != 0) {
    ::close(up[0]);
    ::close(up[1]);
    return nullptr;
  }
  std::fflush(nullptr);  // nothing buffered is written twice
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives the parent
    if (::getppid() != parent) std::_Exit(1);
    for (int fd : inherited) ::close(fd);
    ::close(up[0]);
    ::close(down[1]);
    std::_Exit(body(up[1], down[0]));
  }
  ::close(up[1]);
  ::close(down[0]);
  auto c = std::make_unique<Child>();
  c->name = name;
  c->pid = pid;
  c->report = up[0];
  c->control = down[1];
  return pid < 0 ? nullptr : std::move(c);
}

bool ReadLines(Child& c) {
  char buf[4096];
  ssize_t got;
  while ((got = ::read(c.report, buf, sizeof buf)) < 0 && errno == EINTR) {
  }
  if (got <= 0) {
    c.closed = true;
    return false;
  }
  c.partial.append(buf, static_cast<std::size_t>(got));
  for (std::size_t nl; (nl = c.partial.find('\n')) != std::string::npos;) {
    c.lines.push_back(c.partial.substr(0, nl));
    c.partial.erase(0, nl + 1);
  }
  return true;
}

bool Await(const std::vector<Child*>& children, Clock::time_point deadline,
           const std::function<bool(const Child&)>& ready) {
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<Child*> waiting;
    for (Child* c : children) {
      if (c->closed && !ready(*c)) return true;
      if (!ready(*c)) {
        fds.push_back({c->report, POLLIN, 0});
        waiting.push_back(c);
      }
    }
    if (waiting.empty()) return true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno != EINTR) return false;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents != 0) ReadLines(*waiting[i]);
    }
  }
}

bool HasLine(const Child& c) { return !c.lines.empty(); }

std::optional<std::map<std::string, double>> Fields(const std::string& line, const std::string& word) {
  if (line.rfind(word + " ", 0) != 0) return std::nullopt;
  std::map<std::string, double> out;
  std::istringstream in(line.substr(word.size() + 1));
  for (std::string kv; in >> kv;) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) return std::nullopt;
    out[kv.substr(0, eq)] = std::strtod(kv.c_str() + eq + 1, nullptr);
  }
  return out;
}

std::string Failure(Child& c) {
  if (!c.lines.empty() && c.lines.front().rfind("error ", 0) == 0) return c.name + ": " + c.lines.front().substr(6);
  if (!c.lines.empty()) return c.name + " said \"" + c.lines.front() + "\"";
  return "the " + c.name + " " + c.Ending() + " before reporting";
}

}  // namespace comity::bench
