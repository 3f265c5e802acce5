#include "node/passphrase.h"

#include <fcntl.h>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "node/files.h"

namespace comity::node {
namespace {

constexpr std::size_t kMaxPassphrase = 1024;

Result<crypto::SecretBytes> ToSecret(const char* data, std::size_t size) {
  // A trailing newline from a file or a terminal is not part of the passphrase.
  while (size > 0 && (data[size - 1] == '\n' || data[size - 1] == '\r')) --size;
  if (size == 0) return MakeError("the passphrase is empty");
  if (size > kMaxPassphrase) return MakeError("the passphrase is longer than 1024 bytes");
  crypto::SecretBytes out(size);
  std::memcpy(out.data(), data, size);
  return out;
}

// Reads one line from the terminal with echo off.
Result<crypto::SecretBytes> Prompt(int tty, const char* question) {
  if (::write(tty, question, std::strlen(question)) < 0) return MakeError("cannot prompt for the passphrase");
  termios old {};
  bool restore = ::tcgetattr(tty, &old) == 0;
  if (restore) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  crypto::SecretBytes buf(kMaxPassphrase + 2);
  std::size_t n = 0;
  char c = 0;
  while (n < buf.size() && ::read(tty, &c, 1) == 1 && c != '\n') buf.data()[n++] = static_cast<std::uint8_t>(c);
  if (restore) ::tcsetattr(tty, TCSAFLUSH, &old);
  (void)!::write(tty, "\n", 1);
  return ToSecret(reinterpret_cast<const char*>(buf.data()), n);
}

}  // namespace

Result<crypto::SecretBytes> ObtainPassphrase(const PassphraseSource& source, bool confirm) {
  if (source.file) {
    auto text = ReadFile(*source.file, kMaxPassphrase + 2);
    if (!text) return MakeError("passphrase file: " + text.error().message);
    auto secret = ToSecret(text->data(), text->size());
    sodium_memzero(text->data(), text->size());
    return secret;
  }
  if (char* env = std::getenv("COMITY_PASSPHRASE"); env != nullptr) {
    auto secret = ToSecret(env, std::strlen(env));
    // Not left in the environment for the rest of the process (or for a child).
    sodium_memzero(env, std::strlen(env));
    ::unsetenv("COMITY_PASSPHRASE");
    return secret;
  }
  int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty < 0) {
    return MakeError("no passphrase: use --passphrase-file FILE, COMITY_PASSPHRASE, or run on a terminal");
  }
  auto first = Prompt(tty, "Passphrase: ");
  if (first && confirm) {
    auto second = Prompt(tty, "Passphrase again: ");
    if (!second) first = second.error();
    else if (!crypto::ConstantTimeEqual(first->view(), second->view())) first = MakeError("the passphrases differ");
  }
  ::close(tty);
  return first;
}

}  // namespace comity::node
