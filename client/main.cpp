// comity: the operator's client. It will speak to comityd's local API (a Unix socket);
// until that API exists it only identifies itself, and says so rather than pretending.
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  const std::string arg = argc > 1 ? argv[1] : "";
  if (arg == "--version") {
    std::cout << "comity 0.1.0\n";
    return 0;
  }
  if (arg == "--help" || arg == "-h") {
    std::cout << "usage: comity --version | --help\n"
                 "The client's commands need comityd's local API, which this version does not have yet.\n"
                 "Node identity, enrollment and rosters are administered with 'comityd --help'.\n";
    return 0;
  }
  std::cerr << "comity: this version has no commands yet (they need comityd's local API); see 'comity --help'\n";
  return 2;
}
