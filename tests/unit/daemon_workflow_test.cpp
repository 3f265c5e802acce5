// The judicial workflow between real nodes in one process (docs/PROTOCOL.md §11-§13): a
// draft-request thread from a WACAP authority to an IberRed one that is outbound only behind
// IberRed's relay, the two networks joined by a bridge, from first draft to executed, every
// step receipted, searchable, exported and verified offline; notices with conditions; the
// refusals of bad input.
#include <algorithm>
#include <fstream>

#include "node/daemon/workflow.h"
#include "node/service/bundle.h"
#include "node/service/thread.h"
#include "tests/unit/daemon_test_support.h"

namespace comity::node {
namespace {

class DaemonWorkflowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    wacap_.Admit("NG-CA");
    iberred_.AdmitWith("IBR-RELAY", [](v1::Certificate& c) { c.set_role(v1::ROLE_RELAY); });
    iberred_.AdmitWith("IBR-COORD", [](v1::Certificate& c) { c.set_role(v1::ROLE_COORDINATOR); });
    iberred_.AdmitWith("ES-MJ", [](v1::Certificate& c) {
      c.clear_endpoints();
      c.add_via_relays("IBR-RELAY");
    });
    wacap_.AddBridge(iberred_);
    iberred_.AddBridge(wacap_);
    wacap_roster_ = wacap_.Publish();
    iberred_roster_ = iberred_.Publish();
    for (const char* id : {"NG-CA", "IBR-RELAY", "IBR-COORD"}) ports_[id] = FreePort();
  }

  TestNetwork& NetworkOf(const std::string& id) { return id == "NG-CA" ? wacap_ : iberred_; }
  std::string Address(const std::string& id) { return id + "@" + NetworkOf(id).id(); }

  std::unique_ptr<Running> Start(const std::string& id) {
    auto& dir = homes_[id];
    if (!dir) dir = std::make_unique<archive::test::TempDir>();
    auto a = archive::Archive::Create(dir->path(), crypto::AsBytes(std::string("pw")), crypto::MinimumKdf());
    EXPECT_TRUE(a.ok()) << a.error().message;
    if (!a) return nullptr;
    TestNetwork& own = NetworkOf(id);
    crypto::TrustStore trust;
    EXPECT_TRUE(trust.TrustRoot(own.root_key()).ok());
    EXPECT_TRUE(trust.AcceptRoster(&own == &wacap_ ? wacap_roster_ : iberred_roster_, kNow).ok());
    EXPECT_TRUE(trust.AcceptRoster(&own == &wacap_ ? iberred_roster_ : wacap_roster_, kNow).ok());  // bridged
    DaemonSettings s;
    if (ports_.count(id) != 0) s.listen = {Endpoint(ports_.at(id))};
    for (const auto& [member, port] : ports_) s.peer_endpoints[Address(member)] = {Endpoint(port)};
    if (id == "ES-MJ") s.relays = {"IBR-RELAY@IberRed"};
    s.retry_initial = std::chrono::milliseconds(200);
    s.retry_max = std::chrono::milliseconds(1000);
    auto identity = crypto::Identity::FromSecret(own.member(id).identity.ExportSecret());
    EXPECT_TRUE(identity.ok());
    NodeParams p(id, std::move(identity).value(), {own.member(id).party()}, std::move(trust), std::move(a).value(),
                 std::move(s));
    p.now = [this] { return kNow + std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count(); };
    p.log_sink = [](const std::string& line) {
      if (std::getenv("COMITY_TEST_LOG") != nullptr) std::cerr << line << "\n";
    };
    p.api_socket_path = dir->path() + "/comity.sock";
    auto node = Node::Create(std::move(p));
    EXPECT_TRUE(node.ok()) << node.error().message;
    if (!node) return nullptr;
    return std::make_unique<Running>(std::move(node).value());
  }

  v1::ApiResponse Api(const std::string& id, const v1::ApiRequest& r) {
    return ApiCall(homes_.at(id)->path() + "/comity.sock", r);
  }
  static v1::ApiRequest Request() {
    v1::ApiRequest r;
    r.set_version(1);
    return r;
  }
  v1::ApiResponse Show(const std::string& id, const std::string& thread) {
    v1::ApiRequest r = Request();
    r.mutable_thread_show()->set_thread(thread);
    return Api(id, r);
  }
  std::uint32_t Drafts(const std::string& id, const std::string& thread) {
    v1::ApiResponse r = Show(id, thread);
    return r.error().empty() ? r.thread().drafts() : 0;
  }
  std::string Status(const std::string& id, const std::string& thread) { return Show(id, thread).thread().status(); }
  v1::ApiResponse Post(const std::string& id, const std::string& thread, const std::string& status,
                       const std::string& note = "") {
    v1::ApiRequest r = Request();
    r.mutable_thread_status()->set_thread(thread);
    r.mutable_thread_status()->set_status(status);
    r.mutable_thread_status()->set_note(note);
    return Api(id, r);
  }
  v1::ApiResponse Draft(const std::string& id, const std::string& thread, const std::string& text,
                        const std::string& language = "", bool force = false) {
    v1::ApiRequest r = Request();
    r.mutable_thread_draft()->set_thread(thread);
    r.mutable_thread_draft()->set_content(text);
    r.mutable_thread_draft()->set_name("request.txt");
    r.mutable_thread_draft()->set_language(language);
    r.mutable_thread_draft()->set_force(force);
    return Api(id, r);
  }
  std::size_t Threads(const std::string& id) {
    v1::ApiRequest r = Request();
    r.mutable_thread_list();
    return static_cast<std::size_t>(Api(id, r).thread_list().threads_size());
  }

  const Clock::time_point started_ = Clock::now();
  TestNetwork wacap_{"WACAP"};
  TestNetwork iberred_{"IberRed"};
  v1::Signed wacap_roster_, iberred_roster_;
  std::map<std::string, int> ports_;
  std::map<std::string, std::unique_ptr<archive::test::TempDir>> homes_;
};

constexpr const char* kFirstDraft = "Requesting authority: Federal Ministry of Justice, Abuja.\nSummary of facts: ...\n";
constexpr const char* kSecondDraft =
    "Requesting authority: Federal Ministry of Justice, Abuja.\nSummary of facts: a fraud ring.\n"
    "Offence: fraud (Criminal Code s. 419).\nMeasures requested: bank records of account 123.\n"
    "Link between the offence and the evidence: the proceeds went through it.\n";

TEST_F(DaemonWorkflowTest, AThreadGoesFromFirstDraftToExecutedAcrossABridgeThroughARelay) {
  auto ng = Start("NG-CA");
  auto relay = Start("IBR-RELAY");
  auto es = Start("ES-MJ");
  ASSERT_TRUE(ng && relay && es);

  v1::ApiRequest open = Request();
  v1::ThreadOpenRequest* o = open.mutable_thread_open();
  o->add_to("ES-MJ@IberRed");
  o->set_kind("mla");
  o->set_subject("Bank records, Operation Lagoon");
  o->set_legal_basis("UNTOC art. 18");
  o->set_language("en");
  o->set_deadline("2026-12-31");
  o->set_draft(kFirstDraft);
  o->set_draft_name("request-v1.txt");
  const v1::ApiResponse opened = Api("NG-CA", open);
  ASSERT_EQ(opened.error(), "");
  const std::string thread = opened.thread_posted().thread_id();
  ASSERT_TRUE(service::IsValidThreadId(thread));
  EXPECT_EQ(opened.thread_posted().version(), 1u);
  EXPECT_EQ(opened.thread_posted().recipients(0), "ES-MJ@IberRed");

  // ES-MJ, outbound only, gets both events through the relay; it answers with version 2.
  ASSERT_TRUE(WaitFor([&] { return Drafts("ES-MJ", thread) == 1; }));
  v1::ApiResponse shown = Show("ES-MJ", thread);
  EXPECT_EQ(shown.thread().kind(), "mla");
  EXPECT_EQ(shown.thread().opened_by(), "NG-CA@WACAP");
  EXPECT_EQ(shown.thread().legal_basis(), "UNTOC art. 18");
  EXPECT_TRUE(shown.thread().waiting_on_me());
  EXPECT_NE(std::find(shown.thread().missing().begin(), shown.thread().missing().end(), "the measures requested"),
            shown.thread().missing().end());
  ASSERT_EQ(Draft("ES-MJ", thread.substr(0, 6), kSecondDraft).error(), "");  // a prefix names the thread
  ASSERT_TRUE(WaitFor([&] { return Drafts("NG-CA", thread) == 2; }));

  v1::ApiRequest drafts = Request();
  drafts.mutable_drafts()->set_thread(thread);
  drafts.mutable_drafts()->add_versions(1);
  drafts.mutable_drafts()->add_versions(2);
  const v1::ApiResponse both = Api("NG-CA", drafts);
  ASSERT_EQ(both.error(), "");
  ASSERT_EQ(both.drafts().drafts_size(), 2);
  EXPECT_EQ(both.drafts().drafts(0).content(), kFirstDraft);
  EXPECT_EQ(both.drafts().drafts(1).content(), kSecondDraft);
  EXPECT_EQ(both.drafts().drafts(1).media_type(), "text/plain");

  v1::ApiRequest comment = Request();
  comment.mutable_thread_comment()->set_thread(thread);
  comment.mutable_thread_comment()->set_text("Agreed on our side;\nplease confirm.");
  ASSERT_EQ(Api("ES-MJ", comment).error(), "");
  ASSERT_EQ(Post("NG-CA", thread, "agreed").error(), "");
  ASSERT_TRUE(WaitFor([&] { return Status("ES-MJ", thread) == "agreed"; }));
  const v1::ApiResponse submitted = Post("NG-CA", thread, "formally-submitted");
  ASSERT_EQ(submitted.error(), "");
  EXPECT_EQ(submitted.thread_posted().warnings_size(), 0) << "the second draft is complete";
  ASSERT_TRUE(WaitFor([&] { return Status("ES-MJ", thread) == "formally-submitted"; }));
  ASSERT_EQ(Post("ES-MJ", thread, "in-execution").error(), "");
  ASSERT_TRUE(WaitFor([&] { return Status("NG-CA", thread) == "in-execution"; }));
  ASSERT_EQ(Post("ES-MJ", thread, "executed", "records sent by courier").error(), "");
  ASSERT_TRUE(WaitFor([&] { return Status("NG-CA", thread) == "executed"; }));

  // A closed thread goes nowhere.
  EXPECT_EQ(Post("NG-CA", thread, "consultation").error(),
            "thread status: thread " + thread + " is executed: it is closed, not consultation");

  // Every step NG-CA sent is receipted: accepted by itself, delivered and read (ES-MJ showed
  // the thread) by ES-MJ; the first ones went through the relay, which receipted them too (once
  // ES-MJ had dialled NG-CA to send its own, NG-CA answered on that link).
  auto receipted = [&] {
    const v1::ApiResponse r = Show("NG-CA", thread);
    for (const v1::ThreadEventView& ev : r.thread().events()) {
      if (ev.by() != "NG-CA@WACAP") continue;
      std::set<std::string> kinds;
      for (const v1::ReceiptView& rv : ev.receipts()) kinds.insert(rv.kind() + " " + rv.party());
      for (const char* want : {"accepted NG-CA@WACAP", "delivered ES-MJ@IberRed", "read ES-MJ@IberRed"}) {
        if (kinds.count(want) == 0) return false;
      }
      if (ev.kind() == "opened" && kinds.count("relayed ES-MJ@IberRed") == 0) return false;
    }
    return true;
  };
  Show("ES-MJ", thread);  // reads the newest events
  EXPECT_TRUE(WaitFor(receipted)) << Show("NG-CA", thread).DebugString();
  const v1::ApiResponse final_view = Show("NG-CA", thread);
  ASSERT_EQ(final_view.thread().events_size(), 8);  // opened, 2 drafts, a comment, 4 status changes
  EXPECT_EQ(final_view.thread().events(1).kind(), "draft");
  EXPECT_EQ(final_view.thread().events(1).version(), 1u);
  EXPECT_EQ(final_view.thread().events(2).version(), 2u);
  EXPECT_EQ(final_view.thread().events(2).by(), "ES-MJ@IberRed");
  EXPECT_EQ(final_view.thread().missing_size(), 0);
  EXPECT_FALSE(final_view.thread().waiting_on_me());
  EXPECT_GT(final_view.thread().agreed_at(), 0);
  EXPECT_GT(final_view.thread().executed_at(), 0);
  EXPECT_TRUE(WaitFor([&] {
    const v1::ApiResponse r = Show("NG-CA", thread);
    for (const v1::ThreadEventView& ev : r.thread().events()) {
      for (const v1::ReceiptView& rv : ev.receipts()) {
        if (rv.kind() == "read" && rv.party() == "ES-MJ@IberRed") return true;
      }
    }
    return false;
  }));

  // Searchable at both ends: the second draft's words.
  v1::ApiRequest search = Request();
  search.mutable_search()->add_words("courier");
  EXPECT_EQ(Api("NG-CA", search).search().total(), 1);
  search.mutable_search()->clear_words();
  search.mutable_search()->add_words("proceeds");
  const v1::ApiResponse found = Api("NG-CA", search);
  ASSERT_EQ(found.search().hits_size(), 1);
  EXPECT_EQ(found.search().hits(0).kind(), "draft");
  EXPECT_EQ(found.search().hits(0).thread(), thread);

  // Exported and verified offline, under either network's root.
  v1::ApiRequest exp = Request();
  exp.mutable_export_()->set_thread(thread);
  const v1::ApiResponse exported = Api("NG-CA", exp);
  ASSERT_EQ(exported.error(), "");
  EXPECT_EQ(exported.export_().envelopes(), 8u);
  const std::string bundle = exported.export_().bundle();
  for (const TestNetwork* root : {&wacap_, &iberred_}) {
    auto verified = service::VerifyBundle(bundle, root->root_key(), kNow + 3600);
    ASSERT_TRUE(verified.ok()) << verified.error().message;
    EXPECT_EQ(verified->exporter, "NG-CA@WACAP");
    std::vector<service::ThreadItem> items;
    for (const service::VerifiedEnvelope& e : verified->envelopes) {
      service::ThreadItem item{e.message_id, e.sender, e.header.created_at(), {}};
      ASSERT_TRUE(item.event.ParseFromArray(e.content.data(), static_cast<int>(e.content.size())));
      items.push_back(std::move(item));
    }
    const v1::ThreadView folded = service::FoldThread(items, {});
    EXPECT_EQ(folded.status(), "executed");
    EXPECT_EQ(folded.drafts(), 2u);
    EXPECT_GE(verified->receipts.size(), 3u);
  }
  std::string damaged = bundle;
  damaged[damaged.size() / 2] = static_cast<char>(damaged[damaged.size() / 2] ^ 1);
  EXPECT_FALSE(service::VerifyBundle(damaged, iberred_.root_key(), kNow + 3600).ok());
  // A root of neither network does not verify it.
  TestNetwork stranger("EJN");
  EXPECT_FALSE(service::VerifyBundle(bundle, stranger.root_key(), kNow + 3600).ok());

  v1::ApiRequest stats = Request();
  stats.mutable_stats();
  const v1::ApiResponse counted = Api("ES-MJ", stats);
  ASSERT_EQ(counted.error(), "");
  EXPECT_EQ(counted.stats().threads(), 1u);
  EXPECT_EQ(counted.stats().executed(), 1u);
  ASSERT_EQ(counted.stats().by_kind_size(), 1);
  EXPECT_EQ(counted.stats().by_kind(0).key(), "mla");
  EXPECT_EQ(counted.stats().by_legal_basis(0).key(), "UNTOC art. 18");
}

TEST_F(DaemonWorkflowTest, BadInputIsRefusedInOneLineAndWritesNothing) {
  auto ng = Start("NG-CA");
  auto relay = Start("IBR-RELAY");
  ASSERT_TRUE(ng && relay);
  auto messages = [&] {
    std::int64_t n = -1;
    (*ng)->WithArchive([&](archive::Archive& a) { n = a.MessageCount().ok() ? *a.MessageCount() : -1; });
    return n;
  };
  const std::int64_t before = messages();
  v1::ApiRequest open = Request();
  v1::ThreadOpenRequest* o = open.mutable_thread_open();
  o->add_to("ES-MJ@IberRed");
  o->set_kind("mla");
  o->set_subject("Bank records");
  o->set_legal_basis("UNTOC art. 18");
  o->set_language("fr");
  o->set_draft("Demande d'entraide");
  o->set_draft_name("demande.txt");
  // ES-MJ's certificate accepts es and en.
  EXPECT_EQ(Api("NG-CA", open).error(),
            "thread open: the draft is in 'fr', which ES-MJ@IberRed does not accept (it accepts es, en); send anyway "
            "with --force");
  o->set_kind("rogatory");
  EXPECT_EQ(Api("NG-CA", open).error(), "thread open: unknown request kind 'rogatory'");
  o->set_kind("mla");
  o->clear_legal_basis();
  EXPECT_NE(Api("NG-CA", open).error().find("thread open: give the legal basis (--legal-basis), e.g. UNTOC art. 16"),
            std::string::npos);
  o->set_legal_basis("reciprocity");
  o->set_deadline("2026-02-30");
  EXPECT_EQ(Api("NG-CA", open).error(), "thread open: the deadline is not a YYYY-MM-DD date");
  o->clear_deadline();
  o->set_to(0, "XX-NOBODY@IberRed");
  EXPECT_NE(Api("NG-CA", open).error().find("thread open: recipient XX-NOBODY@IberRed:"), std::string::npos);
  EXPECT_EQ(messages(), before) << "nothing half-sent";
  EXPECT_EQ(Threads("NG-CA"), 0u);
  o->set_to(0, "ES-MJ@IberRed");
  o->set_force(true);
  const v1::ApiResponse forced = Api("NG-CA", open);
  ASSERT_EQ(forced.error(), "");
  const std::string thread = forced.thread_posted().thread_id();
  EXPECT_EQ(Threads("NG-CA"), 1u);

  EXPECT_EQ(Show("NG-CA", "ffff").error(), "thread show: no thread ffff");
  EXPECT_EQ(Show("NG-CA", "xyz!").error(), "thread show: 'xyz!' is not a thread id (4 to 16 of its hex digits)");
  EXPECT_EQ(Post("NG-CA", thread, "executed").error(),
            "thread status: thread " + thread + " is consultation: it can go to agreed, refused, withdrawn, not executed");
  EXPECT_EQ(Post("NG-CA", thread, "finished").error().rfind("thread status: unknown status 'finished'", 0), 0u);
  EXPECT_EQ(Draft("NG-CA", thread, "Nouvelle version").error(),
            "thread draft: the draft is in 'fr', which ES-MJ@IberRed does not accept (it accepts es, en); send "
            "anyway with --force");
  EXPECT_EQ(Draft("NG-CA", thread, "Version two", "en").error(), "");
  // Formal submission of an incomplete request says what it lacks before it goes, and goes
  // only when forced.
  ASSERT_EQ(Post("NG-CA", thread, "agreed").error(), "");
  EXPECT_EQ(Post("NG-CA", thread, "formally-submitted").error(),
            "thread status: thread " + thread +
                " lacks, for a complete mla request: the requesting authority, a summary of the facts, the offence "
                "and the law that makes it one, the measures requested, the link between the offence and the "
                "evidence sought; submit anyway with --force");
  v1::ApiRequest forced_submit = Request();
  forced_submit.mutable_thread_status()->set_thread(thread);
  forced_submit.mutable_thread_status()->set_status("formally-submitted");
  forced_submit.mutable_thread_status()->set_force(true);
  const v1::ApiResponse submitted = Api("NG-CA", forced_submit);
  ASSERT_EQ(submitted.error(), "");
  EXPECT_GE(submitted.thread_posted().warnings_size(), 3);
  EXPECT_EQ(submitted.thread_posted().warnings(0), "missing for a complete mla request: the requesting authority");

  // Notices: only a coordinator broadcasts to a network; an unreadable attachment is refused.
  v1::ApiRequest notice = Request();
  notice.mutable_notice_send()->set_network("IberRed");
  notice.mutable_notice_send()->set_subject("Alert");
  notice.mutable_notice_send()->set_body("Body");
  EXPECT_NE(Api("NG-CA", notice).error().find("notice send: this node is no member of network 'IberRed'"),
            std::string::npos);
  notice.mutable_notice_send()->clear_network();
  notice.mutable_notice_send()->add_to("ES-MJ@IberRed");
  notice.mutable_notice_send()->add_attach("/nonexistent/file.pdf");
  EXPECT_EQ(Api("NG-CA", notice).error(), "notice send: cannot read /nonexistent/file.pdf");
  v1::ApiRequest accept = Request();
  accept.mutable_notice_accept()->set_number(7);
  EXPECT_EQ(Api("NG-CA", accept).error(), "notice accept: no notice 7 (comity notice list shows them)");
}

TEST_F(DaemonWorkflowTest, ANoticeOpensOnlyAfterItsConditionsAreAccepted) {
  auto coord = Start("IBR-COORD");
  auto relay = Start("IBR-RELAY");
  auto es = Start("ES-MJ");
  ASSERT_TRUE(coord && relay && es);
  archive::test::TempDir files;
  const std::string attachment = files.path() + "/annex.pdf";
  {
    std::ofstream out(attachment, std::ios::binary);
    out << std::string(300000, 'x');
  }
  v1::ApiRequest send = Request();
  v1::NoticeSendRequest* n = send.mutable_notice_send();
  n->set_network("IberRed");
  n->set_subject("Spontaneous information: vessel Aurora");
  n->set_body("The vessel Aurora carries undeclared cargo.");
  n->set_confidential(true);
  n->set_use_restriction("Intelligence only; not as evidence without consent");
  n->add_attach(attachment);
  const v1::ApiResponse sent = Api("IBR-COORD", send);
  ASSERT_EQ(sent.error(), "");
  EXPECT_EQ(sent.notice().direction(), "out");
  EXPECT_EQ(sent.notice().recipients_size(), 2);  // ES-MJ and the relay: every other member
  EXPECT_EQ(sent.notice().attachments_size(), 1);

  v1::ApiRequest list = Request();
  list.mutable_notice_list();
  ASSERT_TRUE(WaitFor([&] { return Api("ES-MJ", list).notice_list().notices_size() == 1; }))
      << Api("ES-MJ", list).DebugString();
  const v1::NoticeView listed = Api("ES-MJ", list).notice_list().notices(0);
  EXPECT_EQ(listed.subject(), "Spontaneous information: vessel Aurora");
  EXPECT_TRUE(listed.confidential());
  EXPECT_EQ(listed.body(), "");
  v1::ApiRequest show = Request();
  show.mutable_notice_show()->set_number(listed.number());
  const v1::ApiResponse before = Api("ES-MJ", show);
  ASSERT_EQ(before.error(), "");
  EXPECT_FALSE(before.notice().accepted());
  EXPECT_EQ(before.notice().body(), "") << "the body opens only after acceptance";
  EXPECT_EQ(before.notice().attachments_size(), 0);
  EXPECT_EQ(before.notice().attachment_count(), 1u);
  EXPECT_EQ(before.notice().use_restriction(), "Intelligence only; not as evidence without consent");
  v1::ApiRequest search = Request();
  search.mutable_search()->add_words("undeclared");
  EXPECT_EQ(Api("ES-MJ", search).search().total(), 0) << "nor is it searchable before";

  archive::test::TempDir saved;
  show.mutable_notice_show()->set_save_to(saved.path());
  EXPECT_EQ(Api("ES-MJ", show).error(), "notice show: notice " + std::to_string(listed.number()) +
                                            "'s conditions are not accepted: nothing opens yet");
  v1::ApiRequest accept = Request();
  accept.mutable_notice_accept()->set_number(listed.number());
  accept.mutable_notice_accept()->set_save_to(saved.path());
  const v1::ApiResponse accepted = Api("ES-MJ", accept);
  ASSERT_EQ(accepted.error(), "");
  EXPECT_TRUE(accepted.notice().accepted());
  EXPECT_EQ(accepted.notice().body(), "The vessel Aurora carries undeclared cargo.");
  ASSERT_EQ(accepted.notice().attachments_size(), 1);
  EXPECT_EQ(accepted.notice().attachments(0).name(), "annex.pdf");
  EXPECT_EQ(accepted.notice().attachments(0).size(), 300000u);
  ASSERT_EQ(accepted.notice().saved_size(), 1);
  EXPECT_EQ(accepted.notice().saved(0), saved.path() + "/annex.pdf");
  {
    std::ifstream in(saved.path() + "/annex.pdf", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes, std::string(300000, 'x'));
  }
  // Never over a file that is there.
  EXPECT_EQ(Api("ES-MJ", show).error(), "notice show: " + saved.path() + "/annex.pdf exists");
  EXPECT_EQ(Api("ES-MJ", search).search().total(), 1);

  // The coordinator holds ES-MJ's signed acceptance.
  show.mutable_notice_show()->set_number(sent.notice().number());
  show.mutable_notice_show()->clear_save_to();
  EXPECT_TRUE(WaitFor([&] {
    const v1::ApiResponse shown = Api("IBR-COORD", show);
    for (const v1::ReceiptView& r : shown.notice().receipts()) {
      if (r.kind() == "conditions-accepted" && r.party() == "ES-MJ@IberRed") return true;
    }
    return false;
  }));
  // Asked for, progress comes before the answer: bytes of the attachments encrypted so far.
  boost::asio::io_context io;
  boost::asio::local::stream_protocol::socket sock(io);
  sock.connect(boost::asio::local::stream_protocol::endpoint(homes_.at("IBR-COORD")->path() + "/comity.sock"));
  send.set_progress(true);
  send.mutable_notice_send()->set_subject("Second notice");
  boost::asio::write(sock, boost::asio::buffer(ApiFrame(send)));
  std::vector<v1::ApiResponse> frames;
  do {
    unsigned char header[4];
    boost::asio::read(sock, boost::asio::buffer(header));
    std::string body((std::size_t{header[0]} << 24) | (header[1] << 16) | (header[2] << 8) | header[3], '\0');
    boost::asio::read(sock, boost::asio::buffer(body));
    ASSERT_TRUE(frames.emplace_back().ParseFromString(body));
  } while (frames.back().has_progress());
  ASSERT_GE(frames.size(), 2u);
  EXPECT_EQ(frames.back().error(), "");
  EXPECT_EQ(frames.back().notice().subject(), "Second notice");
  for (std::size_t i = 0; i + 1 < frames.size(); ++i) {
    EXPECT_EQ(frames[i].progress().total(), 300000u);
    EXPECT_LE(frames[i].progress().done(), 300000u);
    EXPECT_FALSE(frames[i].has_notice());
  }

  // A member that is not a coordinator cannot broadcast.
  send.set_progress(false);
  EXPECT_EQ(Api("ES-MJ", send).error(),
            "notice send: broadcasting to all of IberRed needs the coordinator role there; this node is "
            "central-authority");
}

}  // namespace
}  // namespace comity::node
