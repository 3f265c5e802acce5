// What the multi-process benchmarks (attach_bench.cpp, soak_bench.cpp) share: nodes forked into
// child processes of their own, each reporting to the parent in lines on a pipe and stopped by
// a byte (or the close) of another pipe. The parent starts no ZeroMQ context or thread before
// its children are forked.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench_nodes.h"
#include "node/daemon/node.h"

namespace comity::bench {

// ---- in a child -------------------------------------------------------------------------------

// Writes one line to the parent; ends the child (status 1) when the parent is gone.
void Tell(int fd, const std::string& line);
// Blocks until the parent writes a byte to `control` or closes it: the node may stop.
void AwaitStop(int control);
// Waits at most `ms` for a byte on `control`: the byte, '\0' when the parent's end is closed,
// nullopt when none came in time.
std::optional<char> Command(int control, int ms);
// " KEY=VALUE" with six decimals, for a "done ..." or "progress ..." line.
std::string Field(const std::string& key, double value);
// CPU seconds (user + system) of every thread of this process so far.
double ProcessCpu();
// Waits, polling every 5 ms, until `done` holds for the node's counters (the parent's
// deadline bounds the wait). Returns the longest a Counters() call took: it is answered on the
// node's thread, so this is how long that thread was busy at a stretch.
double PollCounters(node::Node& n, const std::function<bool(const node::NodeCounters&)>& done);

// ---- in the parent ----------------------------------------------------------------------------

// A child process seen from the parent: the pipe it writes lines on, the pipe that tells it
// to stop. Destroying the handle of a child still running kills and reaps it.
struct Child {
  std::string name;
  pid_t pid = -1;
  int report = -1;   // read end of the child's lines
  int control = -1;  // write end: a byte, or closing it, stops the child
  std::string partial;
  std::deque<std::string> lines;
  bool closed = false;  // the child's end is closed: it has exited
  int status = -1;      // waitpid's, once reaped

  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();
  // How it ended, in words (reaps it first if need be).
  std::string Ending();
  // SIGKILL, then reaps it.
  void Kill();
};

// Forks a child that closes `inherited` (the parent's ends of earlier children), runs `body`
// with its ends of the two pipes and leaves with _exit: no destructor of the parent's objects
// runs in it. Null when the pipes or the fork cannot be made.
std::unique_ptr<Child> Spawn(const std::string& name, const std::function<int(int report, int control)>& body,
                             const std::vector<int>& inherited);

// Reads what `c` has written so far (without blocking when poll said it is readable) into its
// lines; false once its end is closed.
bool ReadLines(Child& c);
// Reads what `children` write until `ready` holds for each of them (or one has closed its
// end), or `deadline` passes: false then.
bool Await(const std::vector<Child*>& children, Clock::time_point deadline,
           const std::function<bool(const Child&)>& ready);
bool HasLine(const Child& c);
// "WORD KEY=VALUE ..." as numbers, for the given first word ("done", "progress"); nullopt for
// any other line.
std::optional<std::map<std::string, double>> Fields(const std::string& line, const std::string& word = "done");
// Why `c` gave no expected line: what it said, or how it ended.
std::string Failure(Child& c);

}  // namespace comity::bench
