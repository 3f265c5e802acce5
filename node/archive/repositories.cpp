#include "node/archive/repositories.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <tuple>

#include "crypto/stream.h"

namespace comity::archive {
namespace {

constexpr std::string_view kAuditDomain = "comity/v1/audit";

void AppendLe(Bytes& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void AppendField(Bytes& out, const std::string& s) {
  AppendLe(out, s.size(), 4);
  out.insert(out.end(), s.begin(), s.end());
}

// hash = BLAKE2b-256("comity/v1/audit" 0x00 || prev_hash || le64 seq || le64 at ||
//                    le32 len || actor || le32 len || action || le32 len || detail)
Bytes AuditHash(const Bytes& prev, std::int64_t seq, std::int64_t at, const std::string& actor,
                const std::string& action, const std::string& detail) {
  Bytes m(kAuditDomain.begin(), kAuditDomain.end());
  m.push_back(0);
  m.insert(m.end(), prev.begin(), prev.end());
  AppendLe(m, static_cast<std::uint64_t>(seq), 8);
  AppendLe(m, static_cast<std::uint64_t>(at), 8);
  AppendField(m, actor);
  AppendField(m, action);
  AppendField(m, detail);
  return crypto::Blake2b(m, 32);
}

ArchiveError IoFail(const std::string& what, const std::string& path) {
  return Fail(errno == ENOSPC || errno == EFBIG || errno == EDQUOT ? ArchiveCode::kFull : ArchiveCode::kIo,
              what + " " + path + ": " + std::strerror(errno));
}

std::string Hex(crypto::ByteView b) { return crypto::ToHex(b); }

// Steps a bound statement to its end, turning each row into a T with `row`.
template <class T, class RowFn>
ArchiveResult<std::vector<T>> Collect(Stmt& q, RowFn row) {
  std::vector<T> out;
  for (;;) {
    auto more = q.Step();
    if (!more) return more.error();
    if (!*more) break;
    out.push_back(row(q));
  }
  return out;
}

ArchiveResult<std::int64_t> CountOf(Db& db, const char* sql) {
  auto s = db.Prepare(sql);
  if (!s) return s.error();
  auto row = (*s)->Reset().Step();
  if (!row) return row.error();
  std::int64_t n = (*s)->Int(0);
  (*s)->Reset();
  return n;
}

// Runs a SELECT of (id, when, who) bound to `before` and collects its rows.
ArchiveResult<std::vector<PurgeItem>> Items(Db& db, const char* sql, std::int64_t before) {
  auto s = db.Prepare(sql);
  if (!s) return s.error();
  (*s)->Reset().Bind(1, before);
  return Collect<PurgeItem>(**s, [](Stmt& r) { return PurgeItem{r.Blob(0), r.Int(1), r.Text(2)}; });
}

ArchiveStatus RunWith(Db& db, const char* sql, std::int64_t value) {
  auto s = db.Prepare(sql);
  if (!s) return s.error();
  return (*s)->Reset().Bind(1, value).Run();
}

}  // namespace

// ---- meta -----------------------------------------------------------------------------------

ArchiveResult<std::optional<Bytes>> MetaRepository::Get(const std::string& name) {
  auto s = db_.Prepare("SELECT value FROM meta WHERE name = ?1");
  if (!s) return s.error();
  auto row = (*s)->Reset().Bind(1, name).Step();
  if (!row) return row.error();
  std::optional<Bytes> value;
  if (*row) value = (*s)->Blob(0);
  (*s)->Reset();
  return value;
}

ArchiveStatus MetaRepository::Put(const std::string& name, crypto::ByteView value) {
  auto s = db_.Prepare("INSERT OR REPLACE INTO meta (name, value) VALUES (?1, ?2)");
  if (!s) return s.error();
  return (*s)->Reset().Bind(1, name).BindBlob(2, value).Run();
}

// ---- rosters --------------------------------------------------------------------------------

ArchiveStatus RosterRepository::Record(const std::string& network_id, std::uint64_t version,
                                       crypto::ByteView signed_roster, std::int64_t at) {
  auto s = db_.Prepare(
      "INSERT OR IGNORE INTO rosters (network_id, version, signed_roster, received_at) VALUES (?1, ?2, ?3, ?4)");
  if (!s) return s.error();
  return (*s)->Reset().Bind(1, network_id).Bind(2, static_cast<std::int64_t>(version)).BindBlob(3, signed_roster)
      .Bind(4, at).Run();
}

ArchiveResult<std::int64_t> RosterRepository::Count() { return CountOf(db_, "SELECT count(*) FROM rosters"); }

ArchiveResult<std::vector<Bytes>> RosterRepository::OfNetwork(const std::string& network_id) {
  auto s = db_.Prepare("SELECT signed_roster FROM rosters WHERE network_id = ?1 ORDER BY version");
  if (!s) return s.error();
  (*s)->Reset().Bind(1, network_id);
  return Collect<Bytes>(**s, [](Stmt& r) { return r.Blob(0); });
}

// ---- search ---------------------------------------------------------------------------------

namespace {

// The full-text table of partition `part` (an integer: nothing from outside reaches the name).
std::string PartTable(std::int64_t part) { return "search_text_" + std::to_string(part); }

}  // namespace

ArchiveResult<std::vector<SearchIndex::Part>> SearchIndex::Parts() {
  auto s = db_.Prepare("SELECT part, first_item FROM search_parts ORDER BY part");
  if (!s) return s.error();
  (*s)->Reset();
  return Collect<Part>(**s, [](Stmt& r) { return Part{r.Int(0), r.Int(1)}; });
}

ArchiveResult<std::int64_t> SearchIndex::PartFor(std::int64_t id) {
  auto last = db_.Prepare("SELECT part, first_item FROM search_parts ORDER BY part DESC LIMIT 1");
  if (!last) return last.error();
  auto row = (*last)->Reset().Step();
  if (!row) return row.error();
  if (!*row) return Fail(ArchiveCode::kDamaged, db_.path() + " has no full-text partition");
  const std::int64_t part = (*last)->Int(0), first = (*last)->Int(1);
  (*last)->Reset();
  if (id - first < items_per_part_) return part;
  // The newest partition is full: the next one starts at this item.
  auto add = db_.Prepare("INSERT INTO search_parts (part, first_item) VALUES (?1, ?2)");
  if (!add) return add.error();
  if (auto st = (*add)->Reset().Bind(1, part + 1).Bind(2, id).Run(); !st) return st.error();
  if (auto st = db_.Exec("CREATE VIRTUAL TABLE " + PartTable(part + 1) + " USING " + kPartDefinition); !st) {
    return st.error();
  }
  return part + 1;
}

ArchiveResult<std::int64_t> SearchIndex::Add(const std::string& kind, crypto::ByteView ref,
                                             const std::string& thread_uid, const std::string& sender,
                                             const std::string& subject, const std::string& body,
                                             std::int64_t created_at) {
  // newest_at (see Query): the item with the greatest id carries the bound so far.
  auto item = db_.Prepare(
      "INSERT INTO search_items (kind, ref, thread_uid, sender, subject, body, created_at, newest_at) VALUES (?1, ?2, "
      "?3, ?4, ?5, ?6, ?7, max(?7, coalesce((SELECT newest_at FROM search_items ORDER BY id DESC LIMIT 1), ?7)))");
  if (!item) return item.error();
  if (auto st = (*item)->Reset().Bind(1, kind).BindBlob(2, ref).Bind(3, thread_uid).Bind(4, sender).Bind(5, subject)
                    .Bind(6, body).Bind(7, created_at).Run();
      !st) {
    return st.error();
  }
  const std::int64_t id = db_.LastInsertRowid();
  auto part = PartFor(id);
  if (!part) return part.error();
  // External content: the full-text table indexes the row's text and keeps no copy of it.
  auto text = db_.Prepare("INSERT INTO " + PartTable(*part) + " (docid, subject, body) VALUES (?1, ?2, ?3)");
  if (!text) return text.error();
  if (auto st = (*text)->Reset().Bind(1, id).Bind(2, subject).Bind(3, body).Run(); !st) return st.error();
  return id;
}

// Newest first by (created_at, id), without sorting every match. The partitions are walked
// newest first, and in each the full-text index hands out matches newest id first
// (order=DESC). Each item's newest_at bounds the created_at of every item at or below its id,
// so once the page is full the walk stops at the first item whose bound is no newer than the
// page's last hit, and skips every older partition whose last bound is no newer either.
// Messages arrive roughly in created_at order, so a page of even the commonest word reads
// about `limit` rows, from one partition.
ArchiveResult<std::vector<SearchHit>> SearchIndex::Query(const std::string& query, int limit) {
  auto parts = Parts();
  if (!parts) return parts.error();
  auto bound_below = db_.Prepare("SELECT newest_at FROM search_items WHERE id < ?1 ORDER BY id DESC LIMIT 1");
  if (!bound_below) return bound_below.error();
  struct Ranked {
    std::int64_t created_at, id;
    SearchHit hit;
  };
  auto newer = [](const Ranked& a, const Ranked& b) { return std::tie(a.created_at, a.id) > std::tie(b.created_at, b.id); };
  std::vector<Ranked> page;  // a heap under `newer`: its front is the page's last (oldest) hit
  const std::size_t want = limit < 0 ? SIZE_MAX : static_cast<std::size_t>(limit);
  for (auto part = parts->rbegin(); part != parts->rend() && want > 0; ++part) {
    if (page.size() >= want && part != parts->rbegin()) {
      // The bound of this partition's newest item: nothing in it or below can be newer.
      auto row = (*bound_below)->Reset().Bind(1, (part - 1)->first_item).Step();
      if (!row) return row.error();
      const bool older = *row && (*bound_below)->Int(0) <= page.front().created_at;
      (*bound_below)->Reset();
      if (older) break;
    }
    const std::string table = PartTable(part->part);
    auto s = db_.Prepare("SELECT s.kind, s.thread_uid, s.sender, s.subject, s.created_at, s.ref, s.id, s.newest_at FROM " +
                         table + " JOIN search_items s ON s.id = " + table + ".docid WHERE " + table +
                         " MATCH ?1 ORDER BY " + table + ".docid DESC");
    if (!s) return s.error();
    Stmt& q = **s;
    q.Reset().Bind(1, query);
    for (;;) {
      auto row = q.Step();
      if (!row) {
        q.Reset();
        // A malformed FTS query is the caller's mistake, not damage.
        return Fail(ArchiveCode::kInvalid, "search '" + query + "' failed: " + row.error().message);
      }
      if (!*row) break;
      const std::int64_t created_at = q.Int(4), id = q.Int(6);
      if (page.size() >= want) {
        if (q.Int(7) <= page.front().created_at) break;  // nothing from here on is newer
        if (std::tie(created_at, id) < std::tie(page.front().created_at, page.front().id)) continue;
        std::pop_heap(page.begin(), page.end(), newer);
        page.pop_back();
      }
      page.push_back({created_at, id, {q.Text(0), q.Text(1), q.Text(2), q.Text(3), created_at, q.Blob(5)}});
      std::push_heap(page.begin(), page.end(), newer);
    }
    q.Reset();
  }
  std::sort(page.begin(), page.end(), newer);
  std::vector<SearchHit> out;
  out.reserve(page.size());
  for (Ranked& r : page) out.push_back(std::move(r.hit));
  return out;
}

ArchiveResult<std::int64_t> SearchIndex::Count(const std::string& query) {
  auto parts = Parts();
  if (!parts) return parts.error();
  std::int64_t n = 0;
  for (const Part& part : *parts) {
    const std::string table = PartTable(part.part);
    auto s = db_.Prepare("SELECT count(*) FROM " + table + " WHERE " + table + " MATCH ?1");
    if (!s) return s.error();
    auto row = (*s)->Reset().Bind(1, query).Step();
    if (!row) {
      (*s)->Reset();
      return Fail(ArchiveCode::kInvalid, "search '" + query + "' failed: " + row.error().message);
    }
    n += (*s)->Int(0);
    (*s)->Reset();
  }
  return n;
}

ArchiveStatus SearchIndex::DeleteBefore(std::int64_t before) {
  auto parts = Parts();
  if (!parts) return parts.error();
  for (std::size_t i = 0; i < parts->size(); ++i) {
    const Part& part = (*parts)[i];
    const std::int64_t end = i + 1 < parts->size() ? (*parts)[i + 1].first_item : INT64_MAX;
    // The full-text rows first: with external content, FTS4 reads the text it must unindex
    // from search_items, which must still hold it.
    auto s = db_.Prepare("DELETE FROM " + PartTable(part.part) +
                         " WHERE docid IN (SELECT id FROM search_items WHERE created_at < ?1 AND id >= ?2 AND id < ?3)");
    if (!s) return s.error();
    if (auto st = (*s)->Reset().Bind(1, before).Bind(2, part.first_item).Bind(3, end).Run(); !st) return st;
  }
  if (auto st = RunWith(db_, "DELETE FROM search_items WHERE created_at < ?1", before); !st) return st;
  // A partition left empty goes, all but the newest (which takes the next items).
  auto left = db_.Prepare("SELECT count(*) FROM search_items WHERE id >= ?1 AND id < ?2");
  if (!left) return left.error();
  for (std::size_t i = 0; i + 1 < parts->size(); ++i) {
    const Part& part = (*parts)[i];
    auto row = (*left)->Reset().Bind(1, part.first_item).Bind(2, (*parts)[i + 1].first_item).Step();
    if (!row) return row.error();
    const bool empty = *row && (*left)->Int(0) == 0;
    (*left)->Reset();
    if (!empty) continue;
    if (auto st = db_.Exec("DROP TABLE " + PartTable(part.part)); !st) return st;
    if (auto st = RunWith(db_, "DELETE FROM search_parts WHERE part = ?1", part.part); !st) return st;
  }
  return {};
}

ArchiveStatus SearchIndex::Remove(const std::string& kind, crypto::ByteView ref) {
  auto parts = Parts();
  if (!parts) return parts.error();
  auto ids = db_.Prepare("SELECT id FROM search_items WHERE kind = ?1 AND ref = ?2");
  if (!ids) return ids.error();
  (*ids)->Reset().Bind(1, kind).BindBlob(2, ref);
  auto found = Collect<std::int64_t>(**ids, [](Stmt& r) { return r.Int(0); });
  if (!found) return found.error();
  for (const std::int64_t id : *found) {
    // The partition that holds the item: the last one that starts at or before it.
    auto part = std::find_if(parts->rbegin(), parts->rend(), [id](const Part& p) { return p.first_item <= id; });
    if (part == parts->rend()) return Fail(ArchiveCode::kDamaged, db_.path() + ": search item " + std::to_string(id) + " is in no partition");
    // As in DeleteBefore: the full-text row first, while search_items still holds its text.
    if (auto st = RunWith(db_, ("DELETE FROM " + PartTable(part->part) + " WHERE docid = ?1").c_str(), id); !st) return st;
    if (auto st = RunWith(db_, "DELETE FROM search_items WHERE id = ?1", id); !st) return st;
  }
  return {};
}

// ---- messages -------------------------------------------------------------------------------

ArchiveResult<bool> MessageRepository::Add(const MessageRecord& m) {
  auto seen = db_.Prepare("INSERT OR IGNORE INTO seen_ids (message_id, seen_at) VALUES (?1, ?2)");
  if (!seen) return seen.error();
  if (auto st = (*seen)->Reset().BindBlob(1, m.message_id).Bind(2, m.stored_at).Run(); !st) return st.error();
  if (db_.Changes() == 0) return false;  // a duplicate: recognised, not stored twice
  auto search_id = index_.Add("message", m.message_id, m.thread_uid, m.sender, m.subject, m.body, m.created_at);
  if (!search_id) return search_id.error();
  auto ins = db_.Prepare(
      "INSERT INTO messages (message_id, direction, sender, recipients, created_at, stored_at, content_type, "
      "thread_uid, search_id, content, content_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  if (!ins) return ins.error();
  if (auto st = (*ins)->Reset().BindBlob(1, m.message_id).Bind(2, m.direction).Bind(3, m.sender)
                    .Bind(4, m.recipients).Bind(5, m.created_at).Bind(6, m.stored_at).Bind(7, m.content_type)
                    .Bind(8, m.thread_uid).Bind(9, *search_id).BindBlob(10, m.content).BindBlob(11, m.content_key).Run();
      !st) {
    return st.error();
  }
  auto env = db_.Prepare("INSERT INTO envelopes (id, envelope) VALUES (?1, ?2)");
  if (!env) return env.error();
  if (auto st = (*env)->Reset().Bind(1, db_.LastInsertRowid()).BindBlob(2, m.envelope).Run(); !st) return st.error();
  return true;
}

namespace {

constexpr const char* kMessageColumns =
    "SELECT m.message_id, m.direction, m.sender, m.recipients, m.created_at, m.stored_at, m.content_type, e.envelope, "
    "m.content, coalesce(s.subject, ''), coalesce(s.body, ''), m.thread_uid, m.content_key FROM messages m "
    "JOIN envelopes e ON e.id = m.id LEFT JOIN search_items s ON s.id = m.search_id ";

MessageRecord MessageRow(Stmt& q) {
  return MessageRecord{q.Blob(0), q.Text(1), q.Text(2), q.Text(3),  q.Int(4),  q.Int(5), q.Text(6),
                       q.Blob(7), q.Blob(8), q.Text(11), q.Text(9), q.Text(10), q.Blob(12)};
}

}  // namespace

ArchiveResult<std::optional<MessageRecord>> MessageRepository::Get(crypto::ByteView message_id) {
  auto s = db_.Prepare(std::string(kMessageColumns) + "WHERE m.message_id = ?1");
  if (!s) return s.error();
  auto row = (*s)->Reset().BindBlob(1, message_id).Step();
  if (!row) return row.error();
  if (!*row) return std::optional<MessageRecord>();
  MessageRecord m = MessageRow(**s);
  (*s)->Reset();
  return std::optional<MessageRecord>(std::move(m));
}

ArchiveResult<std::vector<MessageRecord>> MessageRepository::OfThread(const std::string& thread_uid) {
  std::vector<MessageRecord> out;
  if (auto st = EachOfThread(thread_uid, true, [&](MessageRecord m) { out.push_back(std::move(m)); }); !st) {
    return st.error();
  }
  return out;
}

ArchiveStatus MessageRepository::EachOfThread(const std::string& thread_uid, bool with_envelope,
                                              const std::function<void(MessageRecord)>& fn) {
  // Without the envelope: x'' in its place, and no join.
  std::string sql = kMessageColumns;
  if (!with_envelope) {
    sql.replace(sql.find("e.envelope"), std::string("e.envelope").size(), "x''");
    sql.replace(sql.find("JOIN envelopes e ON e.id = m.id "), std::string("JOIN envelopes e ON e.id = m.id ").size(), "");
  }
  auto s = db_.Prepare(sql + "WHERE m.thread_uid = ?1 AND m.thread_uid <> '' ORDER BY m.thread_uid, m.message_id");
  if (!s) return s.error();
  Stmt& q = (*s)->Reset().Bind(1, thread_uid);
  for (;;) {
    auto more = q.Step();
    if (!more) return more.error();
    if (!*more) break;
    fn(MessageRow(q));
  }
  q.Reset();
  return {};
}

ArchiveResult<std::int64_t> MessageRepository::Count() { return CountOf(db_, "SELECT count(*) FROM messages"); }

ArchiveResult<std::vector<PurgeItem>> MessageRepository::ListBefore(std::int64_t before) {
  return Items(db_, "SELECT message_id, created_at, sender FROM messages WHERE created_at < ?1", before);
}

ArchiveStatus MessageRepository::DeleteBefore(std::int64_t before) {
  if (auto st = RunWith(db_, "DELETE FROM envelopes WHERE id IN (SELECT id FROM messages WHERE created_at < ?1)", before);
      !st) {
    return st;
  }
  return RunWith(db_, "DELETE FROM messages WHERE created_at < ?1", before);
}

// ---- threads and drafts ---------------------------------------------------------------------

namespace {
ThreadRecord ThreadRow(Stmt& q) {
  return ThreadRecord{q.Text(0), q.Text(1), q.Text(2), q.Text(3), q.Int(4), q.Int(5), q.Blob(6)};
}
}  // namespace

ArchiveStatus ThreadRepository::Put(const ThreadRecord& t) {
  // SQLite 3.15 has no UPSERT: insert if new, then update what may change.
  auto ins = db_.Prepare(
      "INSERT OR IGNORE INTO threads (thread_uid, subject, kind, status, created_at, updated_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!ins) return ins.error();
  if (auto st = (*ins)->Reset().Bind(1, t.thread_uid).Bind(2, t.subject).Bind(3, t.kind).Bind(4, t.status)
                    .Bind(5, t.created_at).Bind(6, t.updated_at).Run();
      !st) {
    return st;
  }
  auto upd = db_.Prepare(
      "UPDATE threads SET subject = ?2, status = ?3, updated_at = ?4, summary = ?5 WHERE thread_uid = ?1");
  if (!upd) return upd.error();
  return (*upd)->Reset().Bind(1, t.thread_uid).Bind(2, t.subject).Bind(3, t.status).Bind(4, t.updated_at)
      .BindBlob(5, t.summary).Run();
}

ArchiveResult<std::optional<ThreadRecord>> ThreadRepository::Get(const std::string& thread_uid) {
  auto s = db_.Prepare(
      "SELECT thread_uid, subject, kind, status, created_at, updated_at, summary FROM threads WHERE thread_uid = ?1");
  if (!s) return s.error();
  auto row = (*s)->Reset().Bind(1, thread_uid).Step();
  if (!row) return row.error();
  if (!*row) return std::optional<ThreadRecord>();
  ThreadRecord t = ThreadRow(**s);
  (*s)->Reset();
  return std::optional<ThreadRecord>(std::move(t));
}

ArchiveResult<std::vector<ThreadRecord>> ThreadRepository::All() {
  auto s = db_.Prepare(
      "SELECT thread_uid, subject, kind, status, created_at, updated_at, summary FROM threads "
      "ORDER BY updated_at DESC, id DESC");
  if (!s) return s.error();
  (*s)->Reset();
  return Collect<ThreadRecord>(**s, ThreadRow);
}

ArchiveResult<std::vector<std::string>> ThreadRepository::StartingWith(const std::string& prefix) {
  // substr, not LIKE: a prefix's _ and % are not wildcards.
  auto s = db_.Prepare("SELECT thread_uid FROM threads WHERE substr(thread_uid, 1, length(?1)) = ?1 LIMIT 2");
  if (!s) return s.error();
  (*s)->Reset().Bind(1, prefix);
  return Collect<std::string>(**s, [](Stmt& r) { return r.Text(0); });
}

ArchiveStatus ThreadRepository::AddDraft(const DraftVersion& d) {
  auto s = db_.Prepare(
      "INSERT INTO draft_versions (thread_id, version, message_id, author, text, created_at) "
      "SELECT id, ?2, ?3, ?4, ?5, ?6 FROM threads WHERE thread_uid = ?1");
  if (!s) return s.error();
  if (auto st = (*s)->Reset().Bind(1, d.thread_uid).Bind(2, d.version).BindBlob(3, d.message_id).Bind(4, d.author)
                    .Bind(5, d.text).Bind(6, d.created_at).Run();
      !st) {
    return st;
  }
  if (db_.Changes() == 0) return Fail(ArchiveCode::kInvalid, "no thread " + d.thread_uid + " for this draft");
  auto thread = Get(d.thread_uid);
  if (!thread) return thread.error();
  auto item = index_.Add("draft", d.message_id, d.thread_uid, d.author, (*thread)->subject, d.text, d.created_at);
  if (!item) return item.error();
  return {};
}

ArchiveResult<std::vector<DraftVersion>> ThreadRepository::Drafts(const std::string& thread_uid) {
  auto s = db_.Prepare(
      "SELECT d.version, d.message_id, d.author, d.text, d.created_at FROM draft_versions d "
      "JOIN threads t ON t.id = d.thread_id WHERE t.thread_uid = ?1 ORDER BY d.version");
  if (!s) return s.error();
  Stmt& q = **s;
  q.Reset().Bind(1, thread_uid);
  return Collect<DraftVersion>(
      q, [&](Stmt& r) { return DraftVersion{thread_uid, r.Int(0), r.Blob(1), r.Text(2), r.Text(3), r.Int(4)}; });
}

ArchiveResult<std::vector<PurgeItem>> ThreadRepository::ListDraftsBefore(std::int64_t before) {
  return Items(db_, "SELECT message_id, created_at, author FROM draft_versions WHERE created_at < ?1", before);
}

ArchiveStatus ThreadRepository::DeleteDraftsBefore(std::int64_t before) {
  return RunWith(db_, "DELETE FROM draft_versions WHERE created_at < ?1", before);
}

// ---- notices --------------------------------------------------------------------------------

ArchiveStatus NoticeRepository::Add(const NoticeRecord& n) {
  auto s = db_.Prepare(
      "INSERT INTO notices (message_id, sender, subject, body, confidentiality, use_conditions, created_at, direction, "
      "recipients, accepted_at, files) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  if (!s) return s.error();
  if (auto st = (*s)->Reset().BindBlob(1, n.message_id).Bind(2, n.sender).Bind(3, n.subject).Bind(4, n.body)
                    .Bind(5, n.confidentiality).Bind(6, n.use_conditions).Bind(7, n.created_at).Bind(8, n.direction)
                    .Bind(9, n.recipients).Bind(10, n.accepted_at).BindBlob(11, n.files).Run();
      !st) {
    return st;
  }
  auto item = index_.Add("notice", n.message_id, "", n.sender, n.subject, n.body, n.created_at);
  if (!item) return item.error();
  return {};
}

ArchiveResult<std::vector<NoticeRecord>> NoticeRepository::Select(const std::string& where,
                                                                   const std::function<void(Stmt&)>& bind) {
  auto s = db_.Prepare(
      "SELECT message_id, sender, subject, body, confidentiality, use_conditions, created_at, direction, recipients, "
      "accepted_at, files, id FROM notices " + where);
  if (!s) return s.error();
  bind((*s)->Reset());
  return Collect<NoticeRecord>(**s, [](Stmt& r) {
    return NoticeRecord{r.Blob(0), r.Text(1), r.Text(2), r.Text(3), r.Text(4), r.Text(5),
                        r.Int(6),  r.Text(7), r.Text(8), r.Int(9),  r.Blob(10), r.Int(11)};
  });
}

ArchiveResult<std::vector<NoticeRecord>> NoticeRepository::All() {
  return Select("ORDER BY id DESC", [](Stmt&) {});
}

ArchiveResult<std::optional<NoticeRecord>> NoticeRepository::Get(std::int64_t number) {
  auto all = Select("WHERE id = ?1", [&](Stmt& q) { q.Bind(1, number); });
  if (!all) return all.error();
  if (all->empty()) return std::optional<NoticeRecord>();
  return std::optional<NoticeRecord>(std::move(all->front()));
}

ArchiveResult<std::optional<NoticeRecord>> NoticeRepository::OfMessage(crypto::ByteView message_id) {
  auto all = Select("WHERE message_id = ?1", [&](Stmt& q) { q.BindBlob(1, message_id); });
  if (!all) return all.error();
  if (all->empty()) return std::optional<NoticeRecord>();
  return std::optional<NoticeRecord>(std::move(all->front()));
}

ArchiveStatus NoticeRepository::Accept(std::int64_t number, std::int64_t at, const std::string& body) {
  auto n = Get(number);
  if (!n) return n.error();
  if (!*n) return Fail(ArchiveCode::kMissing, "no notice " + std::to_string(number));
  auto upd = db_.Prepare("UPDATE notices SET accepted_at = ?2, body = ?3 WHERE id = ?1");
  if (!upd) return upd.error();
  if (auto st = (*upd)->Reset().Bind(1, number).Bind(2, at).Bind(3, body).Run(); !st) return st;
  // Indexed again as one item, subject and body: a search may name words of both, and its hit
  // shows the subject.
  if (auto st = index_.Remove("notice", (*n)->message_id); !st) return st;
  auto item = index_.Add("notice", (*n)->message_id, "", (*n)->sender, (*n)->subject, body, (*n)->created_at);
  if (!item) return item.error();
  return {};
}

ArchiveResult<std::vector<PurgeItem>> NoticeRepository::ListBefore(std::int64_t before) {
  return Items(db_, "SELECT message_id, created_at, sender FROM notices WHERE created_at < ?1", before);
}

ArchiveStatus NoticeRepository::DeleteBefore(std::int64_t before) {
  return RunWith(db_, "DELETE FROM notices WHERE created_at < ?1", before);
}

// ---- outbox ---------------------------------------------------------------------------------

ArchiveStatus OutboxRepository::Enqueue(const OutboxEntry& e) {
  auto s = db_.Prepare(
      "INSERT INTO outbox (message_id, recipient, envelope, next_attempt_at, attempts, expires_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!s) return s.error();
  return (*s)->Reset().BindBlob(1, e.message_id).Bind(2, e.recipient).BindBlob(3, e.envelope)
      .Bind(4, e.next_attempt_at).Bind(5, e.attempts).Bind(6, e.expires_at).Run();
}

ArchiveResult<bool> OutboxRepository::EnqueueOnce(const OutboxEntry& e) {
  auto s = db_.Prepare(
      "INSERT OR IGNORE INTO outbox (message_id, recipient, envelope, next_attempt_at, attempts, expires_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!s) return s.error();
  if (auto st = (*s)->Reset().BindBlob(1, e.message_id).Bind(2, e.recipient).BindBlob(3, e.envelope)
                    .Bind(4, e.next_attempt_at).Bind(5, e.attempts).Bind(6, e.expires_at).Run();
      !st) {
    return st.error();
  }
  return db_.Changes() > 0;
}

ArchiveStatus OutboxRepository::Expedite(const std::string& recipient, std::int64_t now) {
  auto s = db_.Prepare("UPDATE outbox SET next_attempt_at = ?2 WHERE recipient = ?1 AND next_attempt_at > ?2");
  if (!s) return s.error();
  return (*s)->Reset().Bind(1, recipient).Bind(2, now).Run();
}

ArchiveResult<std::optional<std::int64_t>> OutboxRepository::Find(crypto::ByteView message_id,
                                                                  const std::string& recipient) {
  auto s = db_.Prepare("SELECT id FROM outbox WHERE message_id = ?1 AND recipient = ?2");
  if (!s) return s.error();
  auto row = (*s)->Reset().BindBlob(1, message_id).Bind(2, recipient).Step();
  if (!row) return row.error();
  std::optional<std::int64_t> id;
  if (*row) id = (*s)->Int(0);
  (*s)->Reset();
  return id;
}

namespace {

// Whether `sql` (with the message id as ?1) returns a row.
ArchiveResult<bool> AnyRowFor(Db& db, const char* sql, crypto::ByteView message_id) {
  auto s = db.Prepare(sql);
  if (!s) return s.error();
  auto row = (*s)->Reset().BindBlob(1, message_id).Step();
  if (!row) return row.error();
  const bool any = *row;
  (*s)->Reset();
  return any;
}

}  // namespace

ArchiveResult<bool> MessageRepository::Seen(crypto::ByteView message_id) {
  return AnyRowFor(db_, "SELECT 1 FROM seen_ids WHERE message_id = ?1", message_id);
}

ArchiveResult<bool> OutboxRepository::Holds(crypto::ByteView message_id) {
  return AnyRowFor(db_, "SELECT 1 FROM outbox WHERE message_id = ?1 LIMIT 1", message_id);
}

ArchiveResult<std::int64_t> OutboxRepository::Count() { return CountOf(db_, "SELECT count(*) FROM outbox"); }

ArchiveResult<std::vector<std::tuple<std::string, std::int64_t, std::int64_t>>> OutboxRepository::Depths() {
  auto s = db_.Prepare(
      "SELECT o.recipient, count(*), sum(NOT EXISTS (SELECT 1 FROM messages m WHERE m.message_id = o.message_id)) "
      "FROM outbox o GROUP BY o.recipient ORDER BY o.recipient");
  if (!s) return s.error();
  (*s)->Reset();
  return Collect<std::tuple<std::string, std::int64_t, std::int64_t>>(
      **s, [](Stmt& r) { return std::make_tuple(r.Text(0), r.Int(1), r.Int(2)); });
}

namespace {

// Runs one of the outbox's due queries: `sql` selects the entry's columns in OutboxEntry's
// order, bound to (now, limit).
ArchiveResult<std::vector<OutboxEntry>> DueEntries(Db& db, const char* sql, std::int64_t now, int limit) {
  auto s = db.Prepare(sql);
  if (!s) return s.error();
  Stmt& q = **s;
  q.Reset().Bind(1, now).Bind(2, static_cast<std::int64_t>(limit));
  return Collect<OutboxEntry>(
      q, [&](Stmt& r) { return OutboxEntry{r.Int(0), r.Blob(1), r.Text(2), r.Blob(3), r.Int(4), r.Int(5), r.Int(6)}; });
}

}  // namespace

ArchiveResult<std::vector<OutboxEntry>> OutboxRepository::Due(std::int64_t now, int limit) {
  return DueEntries(db_,
                    "SELECT id, message_id, recipient, envelope, next_attempt_at, attempts, expires_at FROM outbox "
                    "WHERE next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2",
                    now, limit);
}

ArchiveResult<std::vector<OutboxEntry>> OutboxRepository::DueOf(std::int64_t now, int limit, bool retried) {
  return DueEntries(db_,
                    retried ? "SELECT id, message_id, recipient, envelope, next_attempt_at, attempts, expires_at FROM outbox "
                              "WHERE next_attempt_at <= ?1 AND attempts > 0 ORDER BY next_attempt_at, id LIMIT ?2"
                            : "SELECT id, message_id, recipient, envelope, next_attempt_at, attempts, expires_at FROM outbox "
                              "WHERE next_attempt_at <= ?1 AND attempts = 0 ORDER BY next_attempt_at, id LIMIT ?2",
                    now, limit);
}

ArchiveStatus OutboxRepository::RecordAttempt(std::int64_t id, std::int64_t next_attempt_at) {
  auto s = db_.Prepare("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2 WHERE id = ?1");
  if (!s) return s.error();
  return (*s)->Reset().Bind(1, id).Bind(2, next_attempt_at).Run();
}

ArchiveResult<bool> OutboxRepository::Remove(std::int64_t id) {
  auto s = db_.Prepare("DELETE FROM outbox WHERE id = ?1");
  if (!s) return s.error();
  if (auto st = (*s)->Reset().Bind(1, id).Run(); !st) return st.error();
  return db_.Changes() > 0;
}

// ---- receipts -------------------------------------------------------------------------------

ArchiveStatus ReceiptRepository::Add(const ReceiptRecord& r) {
  auto s = db_.Prepare(
      "INSERT OR IGNORE INTO receipts (message_id, party, kind, signed_receipt, received_at, evidence_id) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!s) return s.error();
  const Bytes none;
  return (*s)->Reset().BindBlob(1, r.message_id).Bind(2, r.party).Bind(3, r.kind)
      .BindBlob(4, r.evidence_id != 0 ? none : r.signed_receipt).Bind(5, r.received_at).Bind(6, r.evidence_id).Run();
}

ArchiveResult<std::int64_t> ReceiptRepository::AddEvidence(crypto::ByteView signed_receipt) {
  auto s = db_.Prepare("INSERT INTO evidence (signed) VALUES (?1)");
  if (!s) return s.error();
  if (auto st = (*s)->Reset().BindBlob(1, signed_receipt).Run(); !st) return st.error();
  return db_.LastInsertRowid();
}

ArchiveResult<std::int64_t> ReceiptRepository::Count(const std::string& kind) {
  auto s = db_.Prepare("SELECT count(*) FROM receipts WHERE kind = ?1");
  if (!s) return s.error();
  auto row = (*s)->Reset().Bind(1, kind).Step();
  if (!row) return row.error();
  const std::int64_t n = (*s)->Int(0);
  (*s)->Reset();
  return n;
}

ArchiveResult<std::vector<std::pair<Bytes, std::string>>> ReceiptRepository::Unreceipted(std::int64_t after,
                                                                                        std::int64_t until) {
  auto s = db_.Prepare(
      "SELECT message_id, recipients FROM messages WHERE direction = 'out' AND created_at > ?1 AND created_at <= ?2 "
      "AND content_type != 'application/vnd.comity.receipt' ORDER BY created_at");
  if (!s) return s.error();
  (*s)->Reset().Bind(1, after).Bind(2, until);
  auto sent = Collect<std::pair<Bytes, std::string>>(**s, [](Stmt& r) { return std::make_pair(r.Blob(0), r.Text(1)); });
  if (!sent) return sent.error();
  auto has = db_.Prepare(
      "SELECT 1 FROM receipts WHERE message_id = ?1 AND party = ?2 AND kind IN ('delivered', 'not-delivered')");
  if (!has) return has.error();
  std::vector<std::pair<Bytes, std::string>> out;
  for (const auto& [id, recipients] : *sent) {
    std::size_t start = 0;
    while (start <= recipients.size()) {
      std::size_t comma = recipients.find(',', start);
      if (comma == std::string::npos) comma = recipients.size();
      const std::string party = recipients.substr(start, comma - start);
      start = comma + 1;
      if (party.empty()) continue;
      auto row = (*has)->Reset().BindBlob(1, id).Bind(2, party).Step();
      if (!row) return row.error();
      (*has)->Reset();
      if (!*row) out.emplace_back(id, party);
    }
  }
  return out;
}

ArchiveResult<std::vector<ReceiptRecord>> ReceiptRepository::ForMessage(crypto::ByteView message_id) {
  auto s = db_.Prepare(
      "SELECT r.party, r.kind, CASE WHEN r.evidence_id = 0 THEN r.signed_receipt ELSE e.signed END, r.received_at "
      "FROM receipts r LEFT JOIN evidence e ON e.id = r.evidence_id WHERE r.message_id = ?1 ORDER BY r.id");
  if (!s) return s.error();
  Stmt& q = **s;
  q.Reset().BindBlob(1, message_id);
  return Collect<ReceiptRecord>(q, [&](Stmt& r) {
    return ReceiptRecord{Bytes(message_id.begin(), message_id.end()), r.Text(0), r.Text(1), r.Blob(2), r.Int(3)};
  });
}

ArchiveResult<std::vector<PurgeItem>> ReceiptRepository::ListBefore(std::int64_t before) {
  return Items(db_, "SELECT message_id, received_at, party FROM receipts WHERE received_at < ?1", before);
}

ArchiveStatus ReceiptRepository::DeleteBefore(std::int64_t before) {
  if (auto st = RunWith(db_, "DELETE FROM receipts WHERE received_at < ?1", before); !st) return st;
  // A signed receipt goes with the last row that points at it.
  return db_.Exec("DELETE FROM evidence WHERE id NOT IN (SELECT evidence_id FROM receipts)");
}

// ---- attachments ----------------------------------------------------------------------------

std::string AttachmentRepository::BlobPath(crypto::ByteView content_hash) const {
  std::string name = Hex(crypto::Blake2bKeyed(name_key_, content_hash, 32));
  return blob_dir_ + "/" + name.substr(0, 2) + "/" + name;
}

namespace {

ArchiveStatus SyncFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0 || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    return IoFail("cannot sync", path);
  }
  ::close(fd);
  return {};
}

constexpr const char* kAttachmentColumns =
    "SELECT content_hash, size, name, media_type, message_id, stored_at, stream_hash, stream_size, file_key "
    "FROM attachments ";

AttachmentRecord AttachmentRow(Stmt& r) {
  AttachmentRecord rec;
  rec.content_hash = r.Blob(0);
  rec.size = static_cast<std::uint64_t>(r.Int(1));
  rec.name = r.Text(2);
  rec.media_type = r.Text(3);
  rec.message_id = r.Blob(4);
  rec.stored_at = r.Int(5);
  rec.stream_hash = r.Blob(6);
  rec.stream_size = static_cast<std::uint64_t>(r.Int(7));
  return rec;
}

}  // namespace

ArchiveResult<AttachmentRecord> AttachmentRepository::Add(std::istream& in, const std::string& name,
                                                          const std::string& media_type,
                                                          crypto::ByteView message_id, std::int64_t at) {
  if (::mkdir(blob_dir_.c_str(), 0700) != 0 && errno != EEXIST) return IoFail("cannot create", blob_dir_);
  crypto::SecretBytes file_key(crypto_secretstream_xchacha20poly1305_KEYBYTES);
  crypto_secretstream_xchacha20poly1305_keygen(file_key.data());
  std::string tmp = blob_dir_ + "/incoming-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return IoFail("cannot create a blob in", blob_dir_);
  ::close(fd);
  crypto::StreamSummary summary;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    auto enc = crypto::EncryptStream(file_key, in, out);
    if (!enc || !out.flush()) {
      ::unlink(tmp.c_str());
      return Fail(ArchiveCode::kFull, "cannot write attachment " + name + " to " + blob_dir_ +
                                          (enc ? "" : ": " + enc.error().message));
    }
    summary = std::move(enc).value();
  }
  AttachmentRecord rec{summary.content_hash, summary.plaintext_bytes, name, media_type,
                       Bytes(message_id.begin(), message_id.end()), at, summary.stream_hash, summary.stream_bytes};
  return Store(tmp, file_key, rec);
}

ArchiveResult<AttachmentRecord> AttachmentRepository::Adopt(const std::string& stream_path,
                                                            const crypto::SecretBytes& key,
                                                            const AttachmentRecord& rec) {
  if (::mkdir(blob_dir_.c_str(), 0700) != 0 && errno != EEXIST) return IoFail("cannot create", blob_dir_);
  return Store(stream_path, key, rec);
}

ArchiveResult<AttachmentRecord> AttachmentRepository::Store(const std::string& tmp, const crypto::SecretBytes& key,
                                                            const AttachmentRecord& rec) {
  auto existing = Get(rec.content_hash, nullptr);
  if (!existing) return existing.error();
  if (*existing) {
    ::unlink(tmp.c_str());  // the same content is stored already: its first copy stays
    return **existing;
  }
  // Durability before the row that points at it.
  if (auto st = SyncFile(tmp); !st) {
    ::unlink(tmp.c_str());
    return st.error();
  }
  const std::string path = BlobPath(rec.content_hash);
  const std::string dir = path.substr(0, path.rfind('/'));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return IoFail("cannot create", dir);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return IoFail("cannot store blob", path);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  auto ins = db_.Prepare(
      "INSERT INTO attachments (content_hash, size, name, media_type, message_id, file_key, stored_at, stream_hash, "
      "stream_size) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!ins) return ins.error();
  if (auto st = (*ins)->Reset().BindBlob(1, rec.content_hash).Bind(2, static_cast<std::int64_t>(rec.size))
                    .Bind(3, rec.name).Bind(4, rec.media_type).BindBlob(5, rec.message_id).BindBlob(6, key.view())
                    .Bind(7, rec.stored_at).BindBlob(8, rec.stream_hash)
                    .Bind(9, static_cast<std::int64_t>(rec.stream_size)).Run();
      !st) {
    return st.error();
  }
  return rec;
}

ArchiveResult<std::optional<AttachmentRecord>> AttachmentRepository::Get(crypto::ByteView content_hash,
                                                                         crypto::SecretBytes* key) {
  auto s = db_.Prepare(std::string(kAttachmentColumns) + "WHERE content_hash = ?1");
  if (!s) return s.error();
  auto row = (*s)->Reset().BindBlob(1, content_hash).Step();
  if (!row) return row.error();
  if (!*row) {
    (*s)->Reset();
    return std::optional<AttachmentRecord>();
  }
  AttachmentRecord rec = AttachmentRow(**s);
  if (key) {
    Bytes raw = (*s)->Blob(8);
    *key = crypto::SecretBytes(raw.size());
    std::copy(raw.begin(), raw.end(), key->data());
    sodium_memzero(raw.data(), raw.size());
  }
  (*s)->Reset();
  if (rec.stream_hash.empty()) {
    if (auto st = BackfillStream(rec); !st) return st.error();
  }
  return std::optional<AttachmentRecord>(std::move(rec));
}

ArchiveStatus AttachmentRepository::BackfillStream(AttachmentRecord& rec) {
  const std::string path = BlobPath(rec.content_hash);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ArchiveCode::kDamaged, "attachment blob " + path + " is missing");
  crypto::Blake2bHasher hasher;
  std::vector<std::uint8_t> buf(1 << 20);
  std::uint64_t size = 0;
  while (in) {
    in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    hasher.Update(crypto::ByteView(buf.data(), n));
    size += n;
  }
  if (in.bad()) return IoFail("cannot read", path);
  rec.stream_hash = hasher.Final();
  rec.stream_size = size;
  auto s = db_.Prepare("UPDATE attachments SET stream_hash = ?1, stream_size = ?2 WHERE content_hash = ?3");
  if (!s) return s.error();
  return (*s)->Reset().BindBlob(1, rec.stream_hash).Bind(2, static_cast<std::int64_t>(size))
      .BindBlob(3, rec.content_hash).Run();
}

ArchiveResult<std::optional<std::string>> AttachmentRepository::BlobOfStream(crypto::ByteView stream_hash) {
  auto s = db_.Prepare("SELECT content_hash FROM attachments WHERE stream_hash = ?1");
  if (!s) return s.error();
  auto row = (*s)->Reset().BindBlob(1, stream_hash).Step();
  if (!row) return row.error();
  std::optional<std::string> path;
  if (*row) path = BlobPath((*s)->Blob(0));
  (*s)->Reset();
  return path;
}

ArchiveStatus AttachmentRepository::Read(crypto::ByteView content_hash, std::ostream& out) {
  auto s = db_.Prepare("SELECT file_key FROM attachments WHERE content_hash = ?1");
  if (!s) return s.error();
  auto row = (*s)->Reset().BindBlob(1, content_hash).Step();
  if (!row) return row.error();
  if (!*row) return Fail(ArchiveCode::kMissing, "no attachment " + Hex(content_hash));
  Bytes raw_key = (*s)->Blob(0);
  (*s)->Reset();
  crypto::SecretBytes key(raw_key.size());
  std::copy(raw_key.begin(), raw_key.end(), key.data());
  sodium_memzero(raw_key.data(), raw_key.size());
  const std::string path = BlobPath(content_hash);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ArchiveCode::kDamaged, "attachment blob " + path + " is missing");
  auto dec = crypto::DecryptStream(key, in, out);
  if (!dec) return Fail(ArchiveCode::kDamaged, "attachment blob " + path + ": " + dec.error().message);
  if (!crypto::ConstantTimeEqual(dec->content_hash, content_hash)) {
    return Fail(ArchiveCode::kDamaged, "attachment blob " + path + " holds other content than recorded");
  }
  return {};
}

ArchiveResult<std::vector<Bytes>> AttachmentRepository::AllHashes() {
  auto a = db_.Prepare("SELECT content_hash FROM attachments ORDER BY content_hash");
  if (!a) return a.error();
  (*a)->Reset();
  return Collect<Bytes>(**a, [](Stmt& r) { return r.Blob(0); });
}

ArchiveResult<std::vector<PurgeItem>> AttachmentRepository::ListBefore(std::int64_t before) {
  return Items(db_, "SELECT content_hash, stored_at, name FROM attachments WHERE stored_at < ?1", before);
}

ArchiveStatus AttachmentRepository::DeleteBefore(std::int64_t before) {
  return RunWith(db_, "DELETE FROM attachments WHERE stored_at < ?1", before);
}

// ---- audit ----------------------------------------------------------------------------------

ArchiveStatus AuditLog::Append(std::int64_t at, const std::string& actor, const std::string& action,
                               const std::string& detail) {
  auto head = db_.Prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
  if (!head) return head.error();
  auto row = (*head)->Reset().Step();
  if (!row) return row.error();
  std::int64_t seq = 1;
  Bytes prev(32, 0);
  if (*row) {
    seq = (*head)->Int(0) + 1;
    prev = (*head)->Blob(1);
  }
  (*head)->Reset();
  Bytes hash = AuditHash(prev, seq, at, actor, action, detail);
  auto ins = db_.Prepare(
      "INSERT INTO audit_log (seq, at, actor, action, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!ins) return ins.error();
  if (auto st = (*ins)->Reset().Bind(1, seq).Bind(2, at).Bind(3, actor).Bind(4, action).Bind(5, detail)
                    .BindBlob(6, prev).BindBlob(7, hash).Run();
      !st) {
    return st;
  }
  // The head is kept apart from the log, so deleting the newest entries also shows.
  Bytes headv;
  AppendLe(headv, static_cast<std::uint64_t>(seq), 8);
  headv.insert(headv.end(), hash.begin(), hash.end());
  return meta_.Put("audit_head", headv);
}

ArchiveResult<std::vector<AuditEntry>> AuditLog::Tail(int limit) {
  auto s = db_.Prepare(
      "SELECT seq, at, actor, action, detail, prev_hash, hash FROM audit_log ORDER BY seq DESC LIMIT ?1");
  if (!s) return s.error();
  Stmt& q = **s;
  q.Reset().Bind(1, static_cast<std::int64_t>(limit));
  return Collect<AuditEntry>(q, [&](Stmt& r) {
    return AuditEntry{r.Int(0), r.Int(1), r.Text(2), r.Text(3), r.Text(4), r.Blob(5), r.Blob(6)};
  });
}

ArchiveResult<std::string> AuditLog::Verify() {
  auto fail = [](std::string why) { return Fail(ArchiveCode::kDamaged, std::move(why)); };
  auto s = db_.Prepare("SELECT seq, at, actor, action, detail, prev_hash, hash FROM audit_log ORDER BY seq");
  if (!s) return fail(s.error().message);
  Stmt& q = **s;
  q.Reset();
  Bytes prev(32, 0);
  std::int64_t expected = 1;
  for (;;) {
    auto row = q.Step();
    if (!row) return fail("audit log unreadable: " + row.error().message);
    if (!*row) break;
    std::int64_t seq = q.Int(0);
    if (seq != expected) {
      q.Reset();
      return fail("audit chain broken at entry " + std::to_string(expected) + ": entry missing (next is " +
                  std::to_string(seq) + ")");
    }
    Bytes stored_prev = q.Blob(5);
    Bytes stored_hash = q.Blob(6);
    if (stored_prev != prev) {
      q.Reset();
      return fail("audit chain broken at entry " + std::to_string(seq) + ": it does not follow entry " +
                  std::to_string(seq - 1));
    }
    if (AuditHash(prev, seq, q.Int(1), q.Text(2), q.Text(3), q.Text(4)) != stored_hash) {
      q.Reset();
      return fail("audit chain broken at entry " + std::to_string(seq) + ": its content was altered");
    }
    prev = stored_hash;
    ++expected;
  }
  const std::int64_t entries = expected - 1;
  auto head = meta_.Get("audit_head");
  if (!head) return fail(head.error().message);
  if (head->has_value() || entries > 0) {
    Bytes have;
    AppendLe(have, static_cast<std::uint64_t>(entries), 8);
    have.insert(have.end(), prev.begin(), prev.end());
    if (head->value_or(Bytes()) != have) {
      return fail("audit chain broken at its end: entries after " + std::to_string(entries) + " were removed");
    }
  }
  return "audit chain: " + std::to_string(entries) + " entries, head " +
         (entries > 0 ? Hex(prev).substr(0, 16) : std::string("(empty)"));
}

}  // namespace comity::archive
