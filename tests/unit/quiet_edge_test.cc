// QuietEdge (agent/daemon/quiet_edge.h): when the daemon gives freed memory back.
#include "agent/daemon/quiet_edge.h"

#include <gtest/gtest.h>

namespace edge::daemon {
namespace {

TEST(QuietEdgeTest, FiresOnceWhenTheIntakeStopsAfterABurst) {
  QuietEdge q;
  EXPECT_FALSE(q.Update(0, 0));    // first tick: only records
  EXPECT_FALSE(q.Update(100, 0));  // appending
  EXPECT_FALSE(q.Update(200, 0));  // still appending
  EXPECT_TRUE(q.Update(200, 0));   // stopped
  EXPECT_FALSE(q.Update(200, 0));  // quiet stays quiet: no second release
}

TEST(QuietEdgeTest, NeverFiresWhileNothingMoves) {
  QuietEdge q;
  EXPECT_FALSE(q.Update(7, 7));  // a recovered ring's counters are not activity
  EXPECT_FALSE(q.Update(7, 7));
  EXPECT_FALSE(q.Update(7, 7));
}

TEST(QuietEdgeTest, FiresWhenTheIntakeStopsWhileTheBacklogStillDrains) {
  QuietEdge q;
  EXPECT_FALSE(q.Update(0, 0));
  EXPECT_FALSE(q.Update(500, 10));  // burst into a backlog, publisher confirming
  EXPECT_TRUE(q.Update(500, 20));   // intake stopped, confirms go on
  EXPECT_FALSE(q.Update(500, 30));  // draining
  EXPECT_TRUE(q.Update(500, 30));   // drained
  EXPECT_FALSE(q.Update(500, 30));
}

TEST(QuietEdgeTest, DoesNotFireWhileBothKeepMoving) {
  QuietEdge q;
  EXPECT_FALSE(q.Update(0, 0));
  for (uint64_t i = 1; i < 10; i++) EXPECT_FALSE(q.Update(i * 10, i * 10));
}

TEST(QuietEdgeTest, FiresAgainAfterTheNextBurst) {
  QuietEdge q;
  EXPECT_FALSE(q.Update(0, 0));
  EXPECT_FALSE(q.Update(1, 1));
  EXPECT_TRUE(q.Update(1, 1));
  EXPECT_FALSE(q.Update(1, 1));
  EXPECT_FALSE(q.Update(2, 1));
  EXPECT_TRUE(q.Update(2, 2));  // intake stopped (the confirm moved: not yet quiet on that side)
  EXPECT_TRUE(q.Update(2, 2));  // confirms stopped
}

}  // namespace
}  // namespace edge::daemon
