#include "agent/daemon/gap_reporter.h"

#include <cjson/cJSON.h>

#include <memory>
#include <utility>

#include "agent/envelope/envelope.h"

namespace edge::daemon {
namespace {

std::string RangesText(const std::vector<ring::Gap>& gaps) {
  std::string out;
  for (const ring::Gap& g : gaps) {
    if (!out.empty()) out += " ";
    out += std::to_string(g.first_seq) + ".." + std::to_string(g.last_seq);
  }
  return out;
}

// Seqs are 64-bit: written as raw JSON numbers, not through cJSON's doubles (exact beyond 2^53).
void AddU64(cJSON* object, const char* key, uint64_t value) {
  cJSON_AddRawToObject(object, key, std::to_string(value).c_str());
}

std::string ReportJson(const std::string& agent_id, const GapReporter::Input& in) {
  std::unique_ptr<cJSON, void (*)(cJSON*)> root(cJSON_CreateObject(), cJSON_Delete);
  cJSON_AddStringToObject(root.get(), "report", "gaps");
  cJSON_AddStringToObject(root.get(), "agent_id", agent_id.c_str());
  cJSON_AddStringToObject(root.get(), "reason", "ring full under drop_oldest");
  cJSON* gaps = cJSON_AddArrayToObject(root.get(), "gaps");
  uint64_t records = 0;
  for (const ring::Gap& g : in.pending) {
    cJSON* item = cJSON_CreateObject();
    AddU64(item, "first_seq", g.first_seq);
    AddU64(item, "last_seq", g.last_seq);
    AddU64(item, "records", g.last_seq - g.first_seq + 1);
    cJSON_AddItemToArray(gaps, item);
    records += g.last_seq - g.first_seq + 1;
  }
  AddU64(root.get(), "records", records);
  cJSON_AddBoolToObject(root.get(), "approximate", in.approximate);
  AddU64(root.get(), "dropped_total", in.dropped_total);
  char* text = cJSON_PrintUnformatted(root.get());
  std::string out = text != nullptr ? text : "{}";
  cJSON_free(text);
  return out;
}

bool Covers(const std::vector<ring::Gap>& gaps, uint64_t seq) {
  for (const ring::Gap& g : gaps) {
    if (g.first_seq <= seq && seq <= g.last_seq) return true;
  }
  return false;
}

}  // namespace

GapReporter::GapReporter(std::string agent_id, std::string route)
    : agent_id_(std::move(agent_id)), route_(std::move(route)) {}

GapReporter::Action GapReporter::Tick(const Input& in, uint64_t now_ms) {
  std::lock_guard<std::mutex> l(mu_);
  Action a;
  if (!append_error_.empty()) {
    a.log = "gap report could not be appended to the ring (" + append_error_ +
            "); the ranges stay pending and are reported again";
    a.warning = true;
    append_error_.clear();
  }
  if (state_ == State::kAppending) return a;
  if (state_ == State::kInFlight) {
    // Dropped first: once dropped, the settled prefix may pass the report's seq without the
    // broker ever having seen it.
    if (Covers(in.pending, report_seq_)) {
      a.log = "gap report (seq " + std::to_string(report_seq_) + ", ranges " + ranges_text_ +
              ") was itself dropped before the broker took it; its ranges stay pending and "
              "go in the next report";
      a.warning = true;
      state_ = State::kIdle;
    } else if (in.settled_below > report_seq_) {
      a.mark_through = through_;
      a.log = "gap report (seq " + std::to_string(report_seq_) + ") settled by the broker: " +
              "dropped ranges " + ranges_text_ + " reported on route " + route_;
      state_ = State::kIdle;
      return a;  // in.pending is stale now; the next tick reports what is left
    } else {
      return a;
    }
  }
  if (in.pending.empty()) return a;
  envelope::Envelope e;
  e.route = route_;
  e.accepted_at_ms = now_ms;
  e.content_type = "application/json";
  e.headers.emplace_back("edge-agent-report", "gaps");
  e.payload = ReportJson(agent_id_, in);
  a.append = envelope::Encode(e);
  through_ = in.pending.back().last_seq;
  ranges_text_ = RangesText(in.pending) + (in.approximate ? " (approximate)" : "");
  state_ = State::kAppending;
  return a;
}

void GapReporter::Appended(const Result<uint64_t>& seq) {
  std::lock_guard<std::mutex> l(mu_);
  if (state_ != State::kAppending) return;
  if (seq.ok()) {
    report_seq_ = seq.value();
    state_ = State::kInFlight;
  } else {
    append_error_ = seq.status().message();
    state_ = State::kIdle;
  }
}

}  // namespace edge::daemon
