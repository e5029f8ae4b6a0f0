// `edge-agent status` as people read it (agent/ops/status.h): aligned "name value" lines.
#include "agent/ops/status.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace edge::ops {
namespace {

// Every line keeps a space between its name and its value, the longest name included
// ("intake_connections_bad_frame" once ran into its value: "intake_connections_bad_frame0"),
// and the values start in one column.
TEST(StatusRender, EveryTextLineSeparatesItsNameFromItsValueInOneColumn) {
  StatusSnapshot s;
  s.agent_id = "gw-1";
  s.ring_path = "/var/lib/edge-agent/ring";
  s.full_policy = "reject";
  s.intake_connections_refused = 7;
  s.intake_connections_bad_frame = 3;
  s.intake_answers["ok"] = 5;
  std::istringstream text(RenderText(s));
  std::string line;
  size_t value_column = 0;
  int lines = 0;
  while (std::getline(text, line)) {
    const size_t space = line.find(' ');
    ASSERT_NE(space, std::string::npos) << line;
    ASSERT_GT(space, 0u) << line;
    const size_t value = line.find_first_not_of(' ', space);
    if (value == std::string::npos) continue;  // an empty value
    if (value_column == 0) value_column = value;
    EXPECT_EQ(value, value_column) << "misaligned: " << line;
    lines++;
  }
  EXPECT_GT(lines, 10);
  const std::string all = RenderText(s);
  EXPECT_NE(all.find("intake_connections_bad_frame 3"), std::string::npos) << all;
  EXPECT_NE(all.find("intake_connections_refused   7"), std::string::npos) << all;
}

}  // namespace
}  // namespace edge::ops
