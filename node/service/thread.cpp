#include "node/service/thread.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "crypto/trust.h"

namespace comity::service {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string AddressOf(const v1::Party& p) { return p.member_id() + "@" + p.network_id(); }

bool IsLanguageOrEmpty(const std::string& l) { return l.empty() || crypto::IsValidLanguage(l); }

// One checklist item: what a magistrate reads, and the words (lower case, any of the network's
// working languages) whose presence in the draft shows it is there. An empty list of words
// means the item is checked from the thread's metadata (the legal basis).
struct Item {
  const char* what;
  std::vector<const char*> words;
};

const Item kLegalBasis{"the legal basis", {}};
const Item kAuthority{"the requesting authority",
                      {"requesting authority", "authority", "autoridad", "autorit", "autoridade"}};
const Item kFacts{"a summary of the facts",
                  {"facts", "hechos", "faits", "factos", "fatos", "fait"}};
const Item kMeasures{"the measures requested",
                     {"measures", "assistance requested", "measure requested", "medidas", "diligencias", "mesures",
                      "measures requested"}};
const Item kLink{"the link between the offence and the evidence sought",
                 {"link between", "relevance", "connection between", "nexo", "vínculo", "relación entre", "lien entre",
                  "pertinence", "ligação"}};
const Item kOffence{"the offence and the law that makes it one",
                    {"offence", "offense", "delito", "infraction", "infracção", "crime", "crimen"}};
const Item kPerson{"the person sought (identity, nationality, whereabouts)",
                   {"person sought", "persona reclamada", "personne recherchée", "pessoa procurada", "identity",
                    "identidad", "identité"}};
const Item kWarrant{"the warrant or judgment and the penalty",
                    {"warrant", "judgment", "judgement", "orden de detención", "mandat", "sentencia", "penalty", "pena",
                     "peine"}};
const Item kReasons{"the reasons for the transfer",
                    {"reasons", "motivos", "raisons", "grounds", "fundamentos"}};
const Item kProceedings{"the state of the proceedings",
                        {"proceedings", "procedimiento", "procédure", "processo", "investigation"}};
const Item kProperty{"the property concerned", {"property", "assets", "bienes", "biens", "activos", "bens"}};
const Item kOrder{"the order to enforce or its grounds", {"order", "orden", "décision", "decisión", "decisão"}};
const Item kPurpose{"the purpose of the team", {"purpose", "objeto", "objectif", "finalidad", "objetivo"}};
const Item kTeam{"the composition of the team", {"team", "equipo", "équipe", "equipa", "members"}};
const Item kDuration{"the duration", {"duration", "period", "duración", "durée", "plazo", "duração"}};

const std::map<std::string, std::vector<const Item*>>& Checklists() {
  static const std::map<std::string, std::vector<const Item*>> lists = {
      {"mla", {&kLegalBasis, &kAuthority, &kFacts, &kOffence, &kMeasures, &kLink}},
      {"extradition", {&kLegalBasis, &kAuthority, &kPerson, &kFacts, &kOffence, &kWarrant}},
      {"transfer-of-proceedings", {&kLegalBasis, &kAuthority, &kFacts, &kOffence, &kReasons, &kProceedings}},
      {"confiscation", {&kLegalBasis, &kAuthority, &kFacts, &kProperty, &kOrder, &kMeasures}},
      {"joint-investigation", {&kLegalBasis, &kAuthority, &kPurpose, &kTeam, &kDuration}},
      {"other", {&kLegalBasis}},
  };
  return lists;
}

bool IsText(const std::string& media_type) { return media_type.rfind("text/", 0) == 0; }

// Events by creation time (the message id's first bytes), the opening first, then by id;
// but never before an event it names as a parent (two sent in the same second).
std::vector<ThreadItem> CausalOrder(std::vector<ThreadItem> items) {
  auto before = [](const ThreadItem& a, const ThreadItem& b) {
    if (a.created_at != b.created_at) return a.created_at < b.created_at;
    if (a.event.has_opened() != b.event.has_opened()) return a.event.has_opened();
    return a.message_id < b.message_id;
  };
  std::sort(items.begin(), items.end(), before);
  std::set<crypto::Bytes> present, placed;
  for (const ThreadItem& i : items) present.insert(i.message_id);
  std::vector<ThreadItem> out;
  std::vector<bool> done(items.size(), false);
  while (out.size() < items.size()) {
    std::size_t pick = items.size();
    for (std::size_t i = 0; i < items.size() && pick == items.size(); ++i) {
      if (done[i]) continue;
      bool ready = true;
      for (const std::string& p : items[i].event.parents()) {
        const crypto::Bytes id = crypto::ToBytes(p);
        ready = ready && (present.count(id) == 0 || placed.count(id) != 0);
      }
      if (ready) pick = i;
    }
    if (pick == items.size()) {  // a cycle cannot be signed into being, but never loop
      for (std::size_t i = 0; i < items.size() && pick == items.size(); ++i) {
        if (!done[i]) pick = i;
      }
    }
    done[pick] = true;
    placed.insert(items[pick].message_id);
    out.push_back(std::move(items[pick]));
  }
  return out;
}

}  // namespace

const std::vector<std::string>& RequestKinds() {
  static const std::vector<std::string> kinds = {"mla",          "extradition",         "transfer-of-proceedings",
                                                 "confiscation", "joint-investigation", "other"};
  return kinds;
}

const std::vector<std::string>& Statuses() {
  static const std::vector<std::string> statuses = {"consultation", "agreed",   "formally-submitted", "in-execution",
                                                    "executed",     "refused", "withdrawn"};
  return statuses;
}

const std::vector<std::string>& SuggestedLegalBases() {
  static const std::vector<std::string> bases = {"UNTOC art. 16", "UNTOC art. 18", "UNTOC art. 21", "UNTOC art. 13",
                                                 "bilateral treaty", "reciprocity"};
  return bases;
}

std::vector<std::string> AllowedChanges(const std::string& from) {
  static const std::map<std::string, std::vector<std::string>> changes = {
      {"consultation", {"agreed", "refused", "withdrawn"}},
      {"agreed", {"consultation", "formally-submitted", "withdrawn"}},
      {"formally-submitted", {"in-execution", "refused", "withdrawn"}},
      {"in-execution", {"executed", "refused", "withdrawn"}},
  };
  auto it = changes.find(from);
  return it == changes.end() ? std::vector<std::string>{} : it->second;
}

bool IsAllowedChange(const std::string& from, const std::string& to) {
  const auto next = AllowedChanges(from);
  return std::find(next.begin(), next.end(), to) != next.end();
}

bool IsFinalStatus(const std::string& status) {
  return status == "executed" || status == "refused" || status == "withdrawn";
}

bool IsValidDate(std::string_view d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(d[i]))) return false;
  }
  const int y = std::stoi(std::string(d.substr(0, 4))), m = std::stoi(std::string(d.substr(5, 2))),
            day = std::stoi(std::string(d.substr(8, 2)));
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1970 || m < 1 || m > 12 || day < 1) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return day <= kDays[m - 1] + (m == 2 && leap ? 1 : 0);
}

bool IsValidThreadId(std::string_view id) {
  return id.size() == 16 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string NewThreadId() { return crypto::ToHex(crypto::RandomBytes(8)); }

Status<> CheckEvent(const v1::ThreadEvent& e) {
  if (e.format() != 1) return MakeError("thread event format " + std::to_string(e.format()) + " is not 1");
  if (!IsValidThreadId(e.thread_id())) return MakeError("the thread id is not 16 hex digits");
  if (e.parents_size() > 64) return MakeError("more than 64 parents");
  if (e.event_case() == v1::ThreadEvent::EVENT_NOT_SET) {
    return MakeError("a thread event of an unknown kind (a newer version?)");
  }
  if (!e.has_opened() && e.parents_size() == 0) return MakeError("an event other than the opening names no parent");
  for (const std::string& p : e.parents()) {
    if (p.size() != 32) return MakeError("a parent is not a message id");
  }
  switch (e.event_case()) {
    case v1::ThreadEvent::kOpened: {
      const v1::ThreadOpened& o = e.opened();
      if (std::find(RequestKinds().begin(), RequestKinds().end(), o.kind()) == RequestKinds().end()) {
        return MakeError("unknown request kind '" + crypto::EscapeForDisplay(o.kind()) + "'");
      }
      if (o.subject().empty() || o.subject().size() > kMaxSubjectBytes || !crypto::IsPrintableUtf8(o.subject())) {
        return MakeError("the subject must be 1 to 200 bytes of printable text");
      }
      if (o.legal_basis().empty() || o.legal_basis().size() > kMaxLegalBasisBytes ||
          !crypto::IsPrintableUtf8(o.legal_basis())) {
        return MakeError("the legal basis must be 1 to 200 bytes of printable text");
      }
      if (!IsLanguageOrEmpty(o.language())) return MakeError("the language is not an ISO 639-1 code");
      if (!o.deadline().empty() && !IsValidDate(o.deadline())) return MakeError("the deadline is not a YYYY-MM-DD date");
      if (o.participants_size() < 2 || o.participants_size() > 64) return MakeError("a thread has 2 to 64 participants");
      std::set<std::string> seen;
      for (const v1::Party& p : o.participants()) {
        if (!crypto::IsValidMemberId(p.member_id()) || !crypto::IsValidNetworkId(p.network_id()) ||
            !seen.insert(AddressOf(p)).second) {
          return MakeError("a participant is invalid or listed twice");
        }
      }
      return {};
    }
    case v1::ThreadEvent::kDraft: {
      const v1::DraftPosted& d = e.draft();
      if (d.version() < 1) return MakeError("a draft's version starts at 1");
      if (d.name().empty() || d.name().size() > 255 || d.name().find('/') != std::string::npos ||
          d.name() == "." || d.name() == ".." || !crypto::IsPrintableUtf8(d.name())) {
        return MakeError("a draft's name must be a plain file name");
      }
      if (d.media_type().empty() || d.media_type().size() > 255 || !crypto::IsVisibleAscii(d.media_type())) {
        return MakeError("a draft's media type is invalid");
      }
      if (d.content().size() > kMaxDraftBytes) return MakeError("a draft is larger than 8 MiB");
      if (d.note().size() > kMaxNoteBytes || !crypto::IsPrintableText(d.note())) {
        return MakeError("a note must be at most 2000 bytes of text");
      }
      if (!IsLanguageOrEmpty(d.language())) return MakeError("the language is not an ISO 639-1 code");
      return {};
    }
    case v1::ThreadEvent::kComment:
      if (e.comment().text().empty() || e.comment().text().size() > kMaxCommentBytes ||
          !crypto::IsPrintableText(e.comment().text())) {
        return MakeError("a comment must be 1 to 65536 bytes of text");
      }
      return {};
    case v1::ThreadEvent::kStatus:
      if (std::find(Statuses().begin(), Statuses().end(), e.status().status()) == Statuses().end()) {
        return MakeError("unknown status '" + crypto::EscapeForDisplay(e.status().status()) + "'");
      }
      if (e.status().note().size() > kMaxNoteBytes || !crypto::IsPrintableText(e.status().note())) {
        return MakeError("a note must be at most 2000 bytes of text");
      }
      return {};
    default:
      return MakeError("a thread event of an unknown kind (a newer version?)");
  }
}

std::vector<std::string> MissingItems(const std::string& kind, const std::string& legal_basis,
                                      std::string_view draft_text) {
  std::vector<std::string> missing;
  auto it = Checklists().find(kind);
  if (it == Checklists().end()) return missing;
  const std::string text = Lower(draft_text);
  for (const Item* item : it->second) {
    bool found = false;
    if (item->words.empty()) {
      found = !legal_basis.empty();
    } else {
      for (const char* w : item->words) found = found || text.find(w) != std::string::npos;
    }
    if (!found) missing.emplace_back(item->what);
  }
  return missing;
}

v1::ThreadView FoldThread(std::vector<ThreadItem> items, const std::vector<std::string>& mine) {
  items = CausalOrder(std::move(items));
  v1::ThreadView view;
  view.set_status("consultation");
  for (const ThreadItem& item : items) {
    if (item.event.has_opened() && view.thread_id().empty()) view.set_thread_id(item.event.thread_id());
  }
  if (view.thread_id().empty() && !items.empty()) view.set_thread_id(items.front().event.thread_id());
  // The thread's opening: the first opened event sent by the first participant it names.
  const ThreadItem* opening = nullptr;
  for (const ThreadItem& item : items) {
    const v1::ThreadEvent& e = item.event;
    if (opening == nullptr && e.thread_id() == view.thread_id() && e.has_opened() &&
        e.opened().participants_size() > 0 && AddressOf(e.opened().participants(0)) == item.sender) {
      opening = &item;
    }
  }
  std::set<std::string> participants;
  if (opening != nullptr) {
    for (const v1::Party& p : opening->event.opened().participants()) participants.insert(AddressOf(p));
  }
  const ThreadItem* newest_draft = nullptr;
  bool opened = false;
  std::map<std::string, std::int64_t> folded;  // message id -> created_at
  for (const ThreadItem& item : items) {
    const v1::ThreadEvent& e = item.event;
    if (e.thread_id() != view.thread_id()) continue;
    // Nothing counts before the opening, nor from anyone it does not name (another member
    // that learnt the thread id, or a backdated event).
    if (opening != nullptr && (!opened && &item != opening)) continue;
    if (opening != nullptr && participants.count(item.sender) == 0) continue;
    if (e.has_opened() && &item != opening) continue;  // a second opening, or a forged one
    if (!e.has_opened()) {
      // Tied to the thread by its parents, all of them folded already, none of them newer
      // than it (an event dated before what it answers is backdated).
      bool tied = e.parents_size() > 0;
      for (const std::string& p : e.parents()) {
        auto parent = folded.find(p);
        tied = tied && parent != folded.end() && parent->second <= item.created_at;
      }
      if (!tied) continue;
    }
    folded.emplace(crypto::AsString(item.message_id), item.created_at);
    v1::ThreadEventView* ev = view.add_events();
    ev->set_message_id(crypto::AsString(item.message_id));
    ev->set_by(item.sender);
    ev->set_at(item.created_at);
    switch (e.event_case()) {
      case v1::ThreadEvent::kOpened:
        ev->set_kind("opened");
        if (!opened) {
          opened = true;
          const v1::ThreadOpened& o = e.opened();
          view.set_kind(o.kind());
          view.set_subject(o.subject());
          view.set_legal_basis(o.legal_basis());
          view.set_language(o.language());
          view.set_urgent(o.urgent());
          view.set_deadline(o.deadline());
          view.set_opened_by(item.sender);
          view.set_opened_at(item.created_at);
          for (const v1::Party& p : o.participants()) view.add_participants(AddressOf(p));
        }
        break;
      case v1::ThreadEvent::kDraft: {
        const v1::DraftPosted& d = e.draft();
        ev->set_kind("draft");
        view.set_drafts(view.drafts() + 1);
        ev->set_version(view.drafts());
        ev->set_claimed_version(d.version());
        ev->set_name(d.name());
        ev->set_media_type(d.media_type());
        ev->set_size(d.content().empty() ? item.draft_size : d.content().size());
        ev->set_text(d.note());
        ev->set_language(d.language().empty() ? view.language() : d.language());
        newest_draft = &item;
        break;
      }
      case v1::ThreadEvent::kComment:
        ev->set_kind("comment");
        ev->set_text(e.comment().text());
        break;
      case v1::ThreadEvent::kStatus: {
        ev->set_kind("status");
        ev->set_status(e.status().status());
        ev->set_text(e.status().note());
        const bool applied = IsAllowedChange(view.status(), e.status().status());
        ev->set_applied(applied);
        if (applied) {
          view.set_status(e.status().status());
          if (view.status() == "agreed" && view.agreed_at() == 0) view.set_agreed_at(item.created_at);
          if (view.status() == "executed" && view.executed_at() == 0) view.set_executed_at(item.created_at);
        }
        break;
      }
      default:
        ev->set_kind("unknown");
        break;
    }
    view.set_last_at(item.created_at);
    view.set_last_by(item.sender);
  }
  view.set_event_count(static_cast<std::uint32_t>(view.events_size()));
  if (newest_draft == nullptr) {
    view.add_missing("a draft of the request");
  } else if (!IsText(newest_draft->event.draft().media_type())) {
    view.add_missing("the newest draft is not text: its completeness could not be checked");
  } else {
    for (const std::string& m : MissingItems(view.kind(), view.legal_basis(), newest_draft->event.draft().content())) {
      view.add_missing(m);
    }
  }
  const bool mine_last = std::find(mine.begin(), mine.end(), view.last_by()) != mine.end();
  bool taking_part = false;
  for (const std::string& p : view.participants()) {
    if (!taking_part && std::find(mine.begin(), mine.end(), p) != mine.end()) {
      taking_part = true;
      view.set_me(p);
    }
  }
  view.set_waiting_on_me(taking_part && !mine_last && !view.last_by().empty() && !IsFinalStatus(view.status()));
  return view;
}

}  // namespace comity::service
