// comity stats: the content-free counts of the threads and notices this node takes part in
// (StatsRequest), as a table or as CSV rows "metric,key,value".
#include <cstdio>
#include <iostream>

#include "client/api_client.h"
#include "client/commands.h"
#include "client/print.h"

namespace comity::client {
namespace {

struct StatRow {
  std::string metric;
  std::string key;  // empty for totals
  std::string value;
};

std::string Days(double days) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", days);
  return text;
}

// The rows both forms print, in this order.
std::vector<StatRow> Rows(const v1::StatsResponse& s) {
  std::vector<StatRow> rows;
  auto count = [&](const std::string& metric, std::uint32_t value) { rows.push_back({metric, "", std::to_string(value)}); };
  count("threads", s.threads());
  auto by = [&](const std::string& metric, const google::protobuf::RepeatedPtrField<v1::StatCount>& counts) {
    for (const auto& c : counts) rows.push_back({metric, c.key(), std::to_string(c.threads())});
  };
  by("kind", s.by_kind());
  by("legal_basis", s.by_legal_basis());
  by("status", s.by_status());
  count("agreed", s.agreed());
  rows.push_back({"median_days_to_agreement", "", Days(s.median_days_to_agreement())});
  count("executed", s.executed());
  rows.push_back({"median_days_to_execution", "", Days(s.median_days_to_execution())});
  count("notices_sent", s.notices_sent());
  count("notices_received", s.notices_received());
  count("notices_accepted", s.notices_accepted());
  return rows;
}

// RFC 4180: a field with a comma, a quote or a line break goes in quotes, its quotes doubled.
std::string CsvField(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

int Stats(const Options& o) {
  if (auto f = CheckOptions(o, "stats", {"--csv"})) return Fail(*f);
  if (o.words.size() != 1) return Usage("'stats' takes no argument (see comity --help)");
  if (o.json && o.Has("--csv")) return Usage("give --csv or --json, not both");
  v1::ApiRequest request;
  request.mutable_stats();
  auto r = Call(o, std::move(request));
  if (!r.ok()) return Fail(r.error());
  if (o.json) {
    PrintJson(r->stats());
    return 0;
  }
  const std::vector<StatRow> rows = Rows(r->stats());
  if (o.Has("--csv")) {
    // Keys are legal bases typed by people: shown, so that a spreadsheet gets no control bytes.
    std::cout << "metric,key,value\n";
    for (const StatRow& row : rows) std::cout << row.metric << "," << CsvField(Shown(row.key)) << "," << row.value << "\n";
    return 0;
  }
  std::size_t width = 3;
  for (const StatRow& row : rows) width = std::max(width, Shown(row.key).size());
  char line[512];
  std::snprintf(line, sizeof line, "%-26s  %-*s  %s\n", "METRIC", static_cast<int>(width), "KEY", "VALUE");
  std::cout << line;
  for (const StatRow& row : rows) {
    std::snprintf(line, sizeof line, "%-26s  %-*s  %s\n", row.metric.c_str(), static_cast<int>(width),
                  row.key.empty() ? "" : Shown(row.key).c_str(), row.value.c_str());
    std::cout << line;
  }
  return 0;
}

}  // namespace comity::client
