// SharedBrokerTest<Suite>: a gtest fixture base whose tests share one private RabbitMQ node
// (BrokerFixture, 10-15 s to start), started once per suite and stopped by pid at its end.
//
//   class ForwardFaultsTest : public test::SharedBrokerTest<ForwardFaultsTest> { ... };
//
// The template parameter gives every suite its own node (static members per Suite). A node
// that fails to start fails each test in SetUp with the reason, instead of crashing the binary.
// Derived fixtures that override SetUp must call SharedBrokerTest::SetUp() first.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/support/broker_fixture.h"

namespace edge::test {

template <class Suite>
class SharedBrokerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto broker = BrokerFixture::Start();
    if (!broker.ok()) {
      start_error_ = new std::string(broker.status().ToString());
      return;
    }
    broker_ = std::move(broker).value().release();
  }
  static void TearDownTestSuite() {
    delete broker_;  // stops the node by pid and removes its directory
    broker_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(broker_, nullptr) << "test broker did not start: "
                                << (start_error_ != nullptr ? *start_error_ : "?");
  }

  static inline BrokerFixture* broker_ = nullptr;
  static inline std::string* start_error_ = nullptr;
};

}  // namespace edge::test
