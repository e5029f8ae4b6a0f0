// GapReporter: the dropped ranges reach the broker as a report, and are marked reported only
// once the broker settled that report; a report lost to the ring itself is replaced, never
// counted as sent.
#include "agent/daemon/gap_reporter.h"

#include <cjson/cJSON.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "agent/envelope/envelope.h"

namespace edge::daemon {
namespace {

constexpr uint64_t kNowMs = 1733450000000;

GapReporter::Input Pending(std::vector<ring::Gap> gaps, uint64_t settled_below) {
  GapReporter::Input in;
  in.pending = std::move(gaps);
  in.settled_below = settled_below;
  for (const ring::Gap& g : in.pending) in.dropped_total += g.last_seq - g.first_seq + 1;
  return in;
}

// The report's JSON, from an appended record.
struct Report {
  envelope::Envelope envelope;
  std::unique_ptr<cJSON, void (*)(cJSON*)> json{nullptr, cJSON_Delete};
};
Report Decode(const std::string& record) {
  Report r;
  EXPECT_TRUE(envelope::Decode(record, &r.envelope).ok());
  r.json.reset(cJSON_Parse(r.envelope.payload.c_str()));
  EXPECT_NE(r.json, nullptr) << r.envelope.payload;
  return r;
}
std::string Raw(const cJSON* object, const char* key) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(object, key);
  if (item == nullptr) return "(missing)";
  char* text = cJSON_PrintUnformatted(item);
  std::string out = text;
  cJSON_free(text);
  return out;
}

TEST(GapReporter, DoesNothingWithoutDroppedRanges) {
  GapReporter r("gw-17", "gaps");
  GapReporter::Action a = r.Tick(Pending({}, 1), kNowMs);
  EXPECT_TRUE(a.append.empty());
  EXPECT_EQ(a.mark_through, 0u);
  EXPECT_TRUE(a.log.empty());
}

TEST(GapReporter, ReportsEveryPendingRangeAsJsonOnItsRoute) {
  GapReporter r("gw-17", "gaps");
  GapReporter::Input in = Pending({{1, 4096}, {9000, 9001}}, 1);
  in.dropped_total = 5000;
  GapReporter::Action a = r.Tick(in, kNowMs);
  ASSERT_FALSE(a.append.empty());
  EXPECT_EQ(a.mark_through, 0u) << "nothing is reported before the broker has it";
  Report rep = Decode(a.append);
  EXPECT_EQ(rep.envelope.route, "gaps");
  EXPECT_EQ(rep.envelope.content_type, "application/json");
  EXPECT_EQ(rep.envelope.accepted_at_ms, kNowMs);
  ASSERT_EQ(rep.envelope.headers.size(), 1u);
  EXPECT_EQ(rep.envelope.headers[0].first, "edge-agent-report");
  EXPECT_EQ(rep.envelope.headers[0].second, "gaps");
  EXPECT_EQ(Raw(rep.json.get(), "report"), "\"gaps\"");
  EXPECT_EQ(Raw(rep.json.get(), "agent_id"), "\"gw-17\"");
  EXPECT_EQ(Raw(rep.json.get(), "gaps"),
            "[{\"first_seq\":1,\"last_seq\":4096,\"records\":4096},"
            "{\"first_seq\":9000,\"last_seq\":9001,\"records\":2}]");
  EXPECT_EQ(Raw(rep.json.get(), "records"), "4098");
  EXPECT_EQ(Raw(rep.json.get(), "approximate"), "false");
  EXPECT_EQ(Raw(rep.json.get(), "dropped_total"), "5000");
}

TEST(GapReporter, SeqsBeyondTwoToTheFiftyThirdStayExact) {
  GapReporter r("gw-17", "gaps");
  const uint64_t big = (uint64_t{1} << 60) + 3;
  envelope::Envelope e;
  ASSERT_TRUE(envelope::Decode(r.Tick(Pending({{big, big + 1}}, 1), kNowMs).append, &e).ok());
  // The payload text itself (a double-based parser would round it, as cJSON does).
  EXPECT_NE(e.payload.find("[{\"first_seq\":" + std::to_string(big) + ",\"last_seq\":" +
                           std::to_string(big + 1) + ",\"records\":2}]"),
            std::string::npos)
      << e.payload;
}

TEST(GapReporter, MarksTheRangesReportedOnlyOnceTheBrokerSettledTheReport) {
  GapReporter r("gw-17", "gaps");
  ASSERT_FALSE(r.Tick(Pending({{1, 50}}, 1), kNowMs).append.empty());
  // Appending, then durable as seq 120 but not yet settled: no second report, nothing marked,
  // even though a later drop extended the range meanwhile.
  EXPECT_TRUE(r.Tick(Pending({{1, 60}}, 1), kNowMs).append.empty());
  r.Appended(uint64_t{120});
  for (uint64_t settled : {1u, 100u, 120u}) {
    GapReporter::Action a = r.Tick(Pending({{1, 60}}, settled), kNowMs);
    EXPECT_TRUE(a.append.empty()) << settled;
    EXPECT_EQ(a.mark_through, 0u) << settled;
  }
  // Settled (every seq below 121): marked through the report's own last seq, 50, not 60.
  GapReporter::Action a = r.Tick(Pending({{1, 60}}, 121), kNowMs);
  EXPECT_EQ(a.mark_through, 50u);
  EXPECT_TRUE(a.append.empty());
  EXPECT_NE(a.log.find("1..50"), std::string::npos) << a.log;
  EXPECT_FALSE(a.warning);
  // What the later drop added is reported next.
  Report rep = Decode(r.Tick(Pending({{51, 60}}, 121), kNowMs).append);
  EXPECT_EQ(Raw(rep.json.get(), "gaps"), "[{\"first_seq\":51,\"last_seq\":60,\"records\":10}]");
}

TEST(GapReporter, AReportDroppedBeforeTheBrokerTookItLeavesItsRangesPendingAndIsReplaced) {
  GapReporter r("gw-17", "gaps");
  ASSERT_FALSE(r.Tick(Pending({{1, 50}}, 1), kNowMs).append.empty());
  r.Appended(uint64_t{120});
  // The ring stayed full: the report (seq 120) went with the oldest segment, and the settled
  // prefix moved past it. It must not count as reported.
  GapReporter::Action a = r.Tick(Pending({{1, 300}}, 301), kNowMs);
  EXPECT_EQ(a.mark_through, 0u);
  EXPECT_TRUE(a.warning);
  EXPECT_NE(a.log.find("was itself dropped"), std::string::npos) << a.log;
  ASSERT_FALSE(a.append.empty()) << "a new report replaces the lost one";
  Report rep = Decode(a.append);
  EXPECT_EQ(Raw(rep.json.get(), "gaps"), "[{\"first_seq\":1,\"last_seq\":300,\"records\":300}]");
}

TEST(GapReporter, AFailedAppendIsLoggedAndTriedAgain) {
  GapReporter r("gw-17", "gaps");
  ASSERT_FALSE(r.Tick(Pending({{1, 5}}, 1), kNowMs).append.empty());
  r.Appended(Status::IoError("ring /x: fdatasync failed: Input/output error"));
  GapReporter::Action a = r.Tick(Pending({{1, 5}}, 1), kNowMs);
  EXPECT_TRUE(a.warning);
  EXPECT_NE(a.log.find("fdatasync failed"), std::string::npos) << a.log;
  EXPECT_FALSE(a.append.empty());
  EXPECT_EQ(a.mark_through, 0u);
}

TEST(GapReporter, SaysWhenTheRangesAreApproximate) {
  GapReporter r("gw-17", "gaps");
  GapReporter::Input in = Pending({{1, 900}}, 1);
  in.approximate = true;
  Report rep = Decode(r.Tick(in, kNowMs).append);
  EXPECT_EQ(Raw(rep.json.get(), "approximate"), "true");
}

}  // namespace
}  // namespace edge::daemon
