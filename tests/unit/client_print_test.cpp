// client/print.cpp: text from other nodes reaches the terminal escaped (control characters,
// bidirectional overrides, broken UTF-8) but otherwise whole; times, sizes, and the receipts
// and thread views the commands share.
#include "client/print.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace comity::client {
namespace {

TEST(Shown, PrintableTextIsKeptWhole) {
  EXPECT_EQ(Shown("Solicitud de asistencia judicial — art. 18"), "Solicitud de asistencia judicial — art. 18");
  EXPECT_EQ(Shown(std::string(300, 'a')), std::string(300, 'a'));  // nothing is cut
  EXPECT_EQ(Shown("col1\tcol2"), "col1\tcol2");
  EXPECT_EQ(Shown(""), "");
}

TEST(Shown, WhatCouldForgeTheScreenIsEscaped) {
  EXPECT_EQ(Shown("red \x1b[31m"), "red \\x1b[31m");
  EXPECT_EQ(Shown("line\nforged"), "line\\x0aforged");
  EXPECT_EQ(Shown("cr\r"), "cr\\x0d");
  EXPECT_EQ(Shown("abc \xe2\x80\xae fed"), "abc \\xe2\\x80\\xae fed");  // U+202E right-to-left override
  EXPECT_EQ(Shown("caf\xc3\xa9 \xff"), "caf\xc3\xa9 \\xff");         // é kept, a stray byte escaped
  EXPECT_EQ(Shown("\xc3"), "\\xc3");                                  // a sequence cut short
  EXPECT_EQ(Shown("\xc2\x85"), "\\xc2\\x85");                         // C1 control NEL
}

TEST(Shown, ListsAreJoinedAndEmptyIsADash) {
  EXPECT_EQ(ShownList(std::vector<std::string>{"ES-MJ@IberRed", "SN-MJ@WACAP"}), "ES-MJ@IberRed, SN-MJ@WACAP");
  EXPECT_EQ(ShownList(std::vector<std::string>{}), "-");
}

TEST(IsValidUtf8, AcceptsUtf8AndRefusesTheRest) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain\r\n\x1b text"));  // control characters are valid UTF-8
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // cut short
  EXPECT_FALSE(IsValidUtf8("\x80"));
}

TEST(UtcTime, IsMinutesInUtcAndADashForNever) {
  EXPECT_EQ(UtcTime(1'750'000'000), "2025-06-15 15:06");
  EXPECT_EQ(UtcTime(0), "-");
}

TEST(SizeText, UsesBinaryUnits) {
  EXPECT_EQ(SizeText(1), "1 byte");
  EXPECT_EQ(SizeText(812), "812 bytes");
  EXPECT_EQ(SizeText(12 * 1024 + 300), "12.3 KiB");
  EXPECT_EQ(SizeText(std::uint64_t{8} << 20), "8.0 MiB");
}

v1::ReceiptView Receipt(const std::string& kind, const std::string& party, std::int64_t at) {
  v1::ReceiptView r;
  r.set_kind(kind);
  r.set_party(party);
  r.set_at(at);
  return r;
}

TEST(PrintReceipts, OneLinePerPartyOldestFirstAndWhoHasNone) {
  google::protobuf::RepeatedPtrField<v1::ReceiptView> receipts;
  *receipts.Add() = Receipt("read", "SN-MJ@WACAP", 1'750'000'600);
  *receipts.Add() = Receipt("delivered", "SN-MJ@WACAP", 1'750'000'060);
  *receipts.Add() = Receipt("relayed", "XX-RELAY@WACAP", 1'750'000'030);
  std::ostringstream out;
  PrintReceipts(receipts, {"ES-MJ@IberRed", "SN-MJ@WACAP", "PT-PGR@IberRed"}, {"SN-MJ@WACAP", "PT-PGR@IberRed"}, "  ",
                out);
  EXPECT_EQ(out.str(),
            "  SN-MJ@WACAP     delivered 2025-06-15 15:07, read 2025-06-15 15:16\n"
            "  PT-PGR@IberRed  no receipt yet\n"
            "  XX-RELAY@WACAP  relayed 2025-06-15 15:07\n");
}

TEST(PrintThread, ShowsEscapedTextAndWhatIsMissing) {
  v1::ThreadView v;
  v.set_thread_id("0123456789abcdef");
  v.set_kind("extradition");
  v.set_subject("Extradition of \x1b[2J X");
  v.set_legal_basis("bilateral treaty");
  v.set_urgent(true);
  v.set_opened_by("ES-MJ@IberRed");
  v.set_opened_at(1'750'000'000);
  v.add_participants("ES-MJ@IberRed");
  v.add_participants("SN-MJ@WACAP");
  v.set_status("consultation");
  v.set_drafts(0);
  v1::ThreadEventView* e = v.add_events();
  e->set_kind("comment");
  e->set_by("SN-MJ@WACAP");
  e->set_at(1'750'000'000 + 3600);
  e->set_text("two\nlines \xe2\x80\xae");
  v.add_missing("the person sought");
  std::ostringstream out;
  PrintThread(v, out);
  EXPECT_EQ(out.str(),
            "Thread 0123456789abcdef\n"
            "  Kind:         extradition\n"
            "  Subject:      Extradition of \\x1b[2J X\n"
            "  Legal basis:  bilateral treaty\n"
            "  Language:     -\n"
            "  Urgent:       yes\n"
            "  Deadline:     -\n"
            "  Status:       consultation\n"
            "  Participants: ES-MJ@IberRed, SN-MJ@WACAP\n"
            "  Opened by:    ES-MJ@IberRed at 2025-06-15 15:06 UTC\n"
            "  Drafts:       0\n"
            "\n"
            "Timeline, oldest first (UTC):\n"
            "  2025-06-15 16:06  SN-MJ@WACAP  comment:\n"
            "      | two\n"
            "      | lines \\xe2\\x80\\xae\n"
            "      ES-MJ@IberRed  no receipt yet\n"
            "\n"
            "Missing for a complete extradition request:\n"
            "  - the person sought\n");
}

TEST(ProgressLine, SaysBytesRateAndTimeLeft) {
  EXPECT_EQ(ProgressLine::Text("encrypting", 50u << 20, 100u << 20, 2.0),
            "encrypting: 50.0 MiB of 100.0 MiB, 25.0 MiB/s, 2 s left");
  EXPECT_EQ(ProgressLine::Text("encrypting", 100u << 20, 100u << 20, 4.0), "encrypting: 100.0 MiB of 100.0 MiB, 25.0 MiB/s");
  EXPECT_EQ(ProgressLine::Text("encrypting", 0, 512, 0), "encrypting: 0 bytes of 512 bytes");
}

}  // namespace
}  // namespace comity::client
