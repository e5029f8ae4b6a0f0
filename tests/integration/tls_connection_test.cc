// The broker transport against a real RabbitMQ node with real TLS: what only a real broker and
// real certificates can show. Every refusal must come back as a clear Status naming the problem
// (and never as a plaintext login); the watchdog must unblock a stuck call.
//
// One node (BrokerFixture) serves the whole binary: it takes 10-15 s to start.
#include <amqp.h>
#include <amqp_framing.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "agent/amqp/connection.h"
#include "tests/support/broker_fixture.h"
#include "tests/support/shared_broker_test.h"
#include "tests/support/silent_proxy.h"
#include "tests/support/tls_test_server.h"

namespace edge {
namespace {

using amqp::AuthMechanism;
using amqp::CloseKind;
using amqp::Connection;
using amqp::Endpoint;
using std::chrono::steady_clock;
using test::BrokerFixture;
using ::testing::HasSubstr;
using ::testing::Not;

// Generous bound for "returns promptly": far above the limits the tests configure, far below
// "hangs forever". Never a performance threshold.
constexpr auto kPromptly = std::chrono::seconds(60);

class TlsConnectionTest : public test::SharedBrokerTest<TlsConnectionTest> {
 protected:
  // TLS + PLAIN to the node's TLS port. Connects by IP and expects the name "localhost", as a
  // field config connecting by address would (mbedTLS 2.28 matches DNS names only).
  static Endpoint TlsEndpoint() {
    Endpoint e;
    e.host = "127.0.0.1";
    e.port = broker_->amqps_port();
    e.server_name = "localhost";
    e.ca_file = broker_->certs().ca();
    e.user = broker_->user();
    e.password = broker_->password();
    e.heartbeat_s = 10;
    e.connection_name = "edge-agent tls test";
    return e;
  }

  static std::string QueueName(const std::string& what) {
    return "edge-test-" + what + "-" + std::to_string(::getpid());
  }
};

// Shows the operator-facing text in the test log: these messages are part of the behaviour.
void ShowMessage(const Status& status) {
  std::cout << "[ message  ] " << status.ToString() << "\n";
}

Status DeclareQueue(Connection& conn, const std::string& name, bool passive, bool durable) {
  amqp_queue_declare(conn.state(), Connection::kChannel, amqp_cstring_bytes(name.c_str()), passive,
                     durable, /*exclusive=*/0, /*auto_delete=*/!durable, amqp_empty_table);
  return conn.CheckLastRpc("queue.declare '" + name + "'");
}

// basic.get until a message arrives (or ~10 s pass); returns its body.
Result<std::string> GetOne(Connection& conn, const std::string& queue) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    amqp_rpc_reply_t reply = amqp_basic_get(conn.state(), Connection::kChannel,
                                            amqp_cstring_bytes(queue.c_str()), /*no_ack=*/1);
    EDGE_RETURN_IF_ERROR(conn.CheckReply(reply, "basic.get"));
    if (reply.reply.id == AMQP_BASIC_GET_OK_METHOD) {
      amqp_message_t message;
      EDGE_RETURN_IF_ERROR(conn.CheckReply(
          amqp_read_message(conn.state(), Connection::kChannel, &message, 0), "read message"));
      std::string body(static_cast<const char*>(message.body.bytes), message.body.len);
      amqp_destroy_message(&message);
      return body;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::Timeout("no message on " + queue);
}

TEST_F(TlsConnectionTest, ConnectsOverTlsWithPasswordLogin) {
  auto conn = Connection::Connect(TlsEndpoint());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  EXPECT_THAT((*conn)->description(), HasSubstr("amqps://127.0.0.1:"));
  EXPECT_THAT((*conn)->description(), HasSubstr("TLSv1.2"));
  EXPECT_EQ((*conn)->negotiated_heartbeat_s(), 10);

  // The broker saw our capabilities: without connection.blocked it would never tell us that it
  // stopped reading our publishes.
  auto listed = broker_->CtlOutput({"list_connections", "--silent", "user", "client_properties"});
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  for (const char* capability : {"connection.blocked", "publisher_confirms", "basic.nack",
                                 "consumer_cancel_notify", "authentication_failure_close"}) {
    EXPECT_THAT(*listed, HasSubstr(capability));
  }
  EXPECT_THAT(*listed, HasSubstr("edge-agent tls test"));
  EXPECT_THAT(*listed, Not(HasSubstr(broker_->password())));

  // A round trip through a queue proves the pump carries AMQP both ways, content frames too.
  const std::string queue = QueueName("roundtrip");
  ASSERT_TRUE(DeclareQueue(**conn, queue, false, false).ok());
  const std::string body =
      std::string("payload over TLS \x00\x01\xff", 20) + std::string(200000, 'x');
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.message_id = amqp_cstring_bytes("test-agent:1");
  props.delivery_mode = 2;
  amqp_bytes_t body_bytes{body.size(), const_cast<char*>(body.data())};
  Status published = (*conn)->CheckLibraryStatus(
      amqp_basic_publish((*conn)->state(), Connection::kChannel, amqp_empty_bytes,
                         amqp_cstring_bytes(queue.c_str()), /*mandatory=*/1, /*immediate=*/0,
                         &props, body_bytes),
      "basic.publish");
  ASSERT_TRUE(published.ok()) << published.ToString();
  auto got = GetOne(**conn, queue);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, body);

  EXPECT_TRUE((*conn)->Close().ok());
  EXPECT_FALSE((*conn)->usable());
}

TEST_F(TlsConnectionTest, ConnectsWithClientCertificateExternalLogin) {
  Endpoint e = TlsEndpoint();
  e.auth = AuthMechanism::kExternal;
  e.user.clear();
  e.password.clear();
  e.client_cert_file = broker_->certs().client_cert();
  e.client_key_file = broker_->certs().client_key();
  auto conn = Connection::Connect(e);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  // The broker mapped the certificate's CN to a user with permissions on "/": a declare works.
  EXPECT_TRUE(DeclareQueue(**conn, QueueName("external"), false, false).ok());
  auto listed = broker_->CtlOutput({"list_connections", "--silent", "user", "auth_mechanism"});
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_THAT(*listed, HasSubstr(broker_->external_user()));
  EXPECT_THAT(*listed, HasSubstr("EXTERNAL"));
}

TEST_F(TlsConnectionTest, RefusesServerSignedByUnknownCa) {
  auto server = test::TlsTestServer::Start(broker_->certs().rogue_server_cert(),
                                           broker_->certs().rogue_server_key(), broker_->dir());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  Endpoint e = TlsEndpoint();
  e.port = (*server)->port();
  auto conn = Connection::Connect(e);
  ASSERT_FALSE(conn.ok());
  ShowMessage(conn.status());
  EXPECT_EQ(conn.status().code(), Code::kUnavailable);
  EXPECT_THAT(conn.status().message(), HasSubstr("unknown CA"));
  EXPECT_THAT(conn.status().message(),
              HasSubstr("TLS handshake with 127.0.0.1:" + std::to_string((*server)->port())));
}

TEST_F(TlsConnectionTest, RefusesExpiredServerCertificate) {
  auto server = test::TlsTestServer::Start(broker_->certs().expired_cert(),
                                           broker_->certs().expired_key(), broker_->dir());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  Endpoint e = TlsEndpoint();
  e.port = (*server)->port();
  auto conn = Connection::Connect(e);
  ASSERT_FALSE(conn.ok());
  ShowMessage(conn.status());
  EXPECT_EQ(conn.status().code(), Code::kUnavailable);
  EXPECT_THAT(conn.status().message(), HasSubstr("expired"));
  EXPECT_THAT(conn.status().message(), Not(HasSubstr("unknown CA")));  // only the date is wrong
}

TEST_F(TlsConnectionTest, RefusesHostNameMismatch) {
  Endpoint e = TlsEndpoint();
  e.server_name = "broker.wrong-name.example";  // the certificate names localhost only
  auto conn = Connection::Connect(e);
  ASSERT_FALSE(conn.ok());
  ShowMessage(conn.status());
  EXPECT_EQ(conn.status().code(), Code::kUnavailable);
  EXPECT_THAT(conn.status().message(), HasSubstr("host name mismatch"));
  EXPECT_THAT(conn.status().message(), HasSubstr("broker.wrong-name.example"));
}

TEST_F(TlsConnectionTest, SkipsServerVerificationOnlyWhenExplicitlyTurnedOff) {
  Endpoint e = TlsEndpoint();
  e.server_name = "broker.wrong-name.example";
  ASSERT_FALSE(Connection::Connect(e).ok());  // verification is on unless the config says off

  e.verify_peer = false;  // an explicit, visible opt-out (still TLS, only unauthenticated)
  e.ca_file.clear();
  auto conn = Connection::Connect(e);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  EXPECT_THAT((*conn)->description(), HasSubstr("TLSv1.2"));
}

TEST_F(TlsConnectionTest, RefusesPlaintextPortWhenTlsConfigured) {
  Endpoint e = TlsEndpoint();
  e.port = broker_->amqp_port();  // the node's plaintext AMQP listener
  amqp::AmqpFailure failure;
  auto conn = Connection::Connect(e, &failure);
  ASSERT_FALSE(conn.ok());
  ShowMessage(conn.status());
  EXPECT_THAT(conn.status().message(), HasSubstr("TLS handshake"));
  EXPECT_THAT(conn.status().message(), HasSubstr("plaintext"));
  // It failed before AMQP: no broker reply code, so no login happened.
  EXPECT_EQ(failure.reply_code, 0);
}

TEST_F(TlsConnectionTest, ReportsBrokerRejectingClientCertificate) {
  Endpoint e = TlsEndpoint();
  e.client_cert_file = broker_->certs().rogue_client_cert();
  e.client_key_file = broker_->certs().rogue_client_key();
  auto conn = Connection::Connect(e);
  ASSERT_FALSE(conn.ok());
  ShowMessage(conn.status());
  EXPECT_EQ(conn.status().code(), Code::kUnavailable);
  EXPECT_THAT(conn.status().message(), HasSubstr("TLS alert"));
  EXPECT_THAT(conn.status().message(), HasSubstr("rejected our client certificate"));
}

TEST_F(TlsConnectionTest, ReportsRefusedCredentials) {
  Endpoint e = TlsEndpoint();
  e.password = "not-the-password-7f3a";
  amqp::AmqpFailure failure;
  auto conn = Connection::Connect(e, &failure);
  ASSERT_FALSE(conn.ok());
  ShowMessage(conn.status());
  EXPECT_EQ(conn.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(failure.kind, CloseKind::kAuthRefused);
  EXPECT_EQ(failure.reply_code, AMQP_ACCESS_REFUSED);
  EXPECT_THAT(conn.status().message(), HasSubstr("ACCESS_REFUSED"));
  EXPECT_THAT(conn.status().message(), HasSubstr("login as '" + broker_->user() + "'"));
  EXPECT_THAT(conn.status().message(), Not(HasSubstr(e.password)));  // secrets never in text
}

TEST_F(TlsConnectionTest, PlaintextOnlyWhenExplicitlyAllowed) {
  EXPECT_EQ(Endpoint{}.security, port::TransportSecurity::kTls);  // the default is TLS

  Endpoint e = TlsEndpoint();
  e.port = broker_->amqp_port();
  ASSERT_FALSE(Connection::Connect(e).ok());  // TLS config + plaintext port: refused, no fallback

  e.security = port::TransportSecurity::kPlaintext;
  auto conn = Connection::Connect(e);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  EXPECT_THAT((*conn)->description(), HasSubstr("amqp://"));
  EXPECT_THAT((*conn)->description(), HasSubstr("plaintext"));
  EXPECT_TRUE(DeclareQueue(**conn, QueueName("plaintext"), false, false).ok());
}

TEST_F(TlsConnectionTest, WatchdogUnblocksWhenBrokerGoesSilent) {
  auto proxy = test::SilentProxy::Start(broker_->amqps_port());
  ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
  Endpoint e = TlsEndpoint();
  e.port = (*proxy)->port();
  e.heartbeat_s = 60;    // rabbitmq-c's own heartbeat check would take minutes
  e.rpc_timeout_ms = 0;  // no RPC timeout: only the watchdog can end the wait
  e.silence_limit_ms = 2000;
  auto conn = Connection::Connect(e);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();

  (*proxy)->GoSilent();
  const auto start = steady_clock::now();
  // Blocks waiting for queue.declare-ok, which never comes.
  Status declared = DeclareQueue(**conn, QueueName("silent"), false, false);
  const auto waited = steady_clock::now() - start;

  ASSERT_FALSE(declared.ok());
  ShowMessage(declared);
  EXPECT_LT(waited, kPromptly);
  EXPECT_EQ(declared.code(), Code::kUnavailable);
  EXPECT_THAT(declared.message(), HasSubstr("silent for 2 s"));
  EXPECT_EQ((*conn)->last_failure().kind, CloseKind::kRetryable);
  EXPECT_THAT((*conn)->transport_status().message(), HasSubstr("silent"));
  EXPECT_FALSE((*conn)->usable());
}

TEST_F(TlsConnectionTest, ChannelCloseIsClassified) {
  auto conn = Connection::Connect(TlsEndpoint());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();

  // 404: a passive declare of a queue that does not exist closes the channel.
  Status missing = DeclareQueue(**conn, QueueName("missing"), /*passive=*/true, false);
  ASSERT_FALSE(missing.ok());
  ShowMessage(missing);
  EXPECT_EQ(missing.code(), Code::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("404 NOT_FOUND"));
  EXPECT_THAT(missing.message(), HasSubstr("channel closed"));
  EXPECT_EQ((*conn)->last_failure().scope, amqp::CloseScope::kChannel);
  EXPECT_EQ((*conn)->last_failure().kind, CloseKind::kFatalForRoute);
  EXPECT_FALSE((*conn)->channel_open());
  EXPECT_TRUE((*conn)->usable());  // the connection survives a channel error

  // 406: redeclaring a queue with other properties is fatal for the route as well.
  ASSERT_TRUE((*conn)->ReopenChannel().ok());
  const std::string queue = QueueName("durable");
  ASSERT_TRUE(DeclareQueue(**conn, queue, false, /*durable=*/true).ok());
  Status mismatch = DeclareQueue(**conn, queue, false, /*durable=*/false);
  ASSERT_FALSE(mismatch.ok());
  ShowMessage(mismatch);
  EXPECT_EQ(mismatch.code(), Code::kFailedPrecondition);
  EXPECT_THAT(mismatch.message(), HasSubstr("PRECONDITION_FAILED"));
  EXPECT_EQ((*conn)->last_failure().kind, CloseKind::kFatalForRoute);

  ASSERT_TRUE((*conn)->ReopenChannel().ok());
  amqp_queue_delete((*conn)->state(), Connection::kChannel, amqp_cstring_bytes(queue.c_str()), 0,
                    0);
  EXPECT_TRUE((*conn)->CheckLastRpc("queue.delete").ok());
}

// Last: it restarts the node.
TEST_F(TlsConnectionTest, BrokerCrashIsRetryableAndReconnectWorksAfterRestart) {
  auto conn = Connection::Connect(TlsEndpoint());
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  broker_->KillHard();
  const auto start = steady_clock::now();
  Status declared = DeclareQueue(**conn, QueueName("crash"), false, false);
  EXPECT_LT(steady_clock::now() - start, kPromptly);
  ASSERT_FALSE(declared.ok());
  ShowMessage(declared);
  EXPECT_EQ(declared.code(), Code::kUnavailable);
  EXPECT_EQ((*conn)->last_failure().kind, CloseKind::kRetryable);
  EXPECT_THAT(declared.message(), HasSubstr("connection lost"));
  conn = Status::Unavailable("dropped");  // destroy the dead connection

  Status restarted = broker_->Restart();
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  auto again = Connection::Connect(TlsEndpoint());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
}

// The decision table itself, without a broker.
TEST(CloseReasonTest, ClassifiesReplyCodesByScopeAndPhase) {
  using amqp::ClassifyReplyCode;
  using amqp::CloseScope;
  using amqp::Phase;
  EXPECT_EQ(ClassifyReplyCode(AMQP_CONNECTION_FORCED, CloseScope::kConnection, Phase::kOpen),
            CloseKind::kRetryable);
  EXPECT_EQ(ClassifyReplyCode(0, CloseScope::kTransport, Phase::kOpen), CloseKind::kRetryable);
  EXPECT_EQ(ClassifyReplyCode(AMQP_NOT_FOUND, CloseScope::kChannel, Phase::kOpen),
            CloseKind::kFatalForRoute);
  EXPECT_EQ(ClassifyReplyCode(AMQP_PRECONDITION_FAILED, CloseScope::kChannel, Phase::kOpen),
            CloseKind::kFatalForRoute);
  EXPECT_EQ(ClassifyReplyCode(AMQP_ACCESS_REFUSED, CloseScope::kChannel, Phase::kOpen),
            CloseKind::kFatalForRoute);
  EXPECT_EQ(ClassifyReplyCode(AMQP_ACCESS_REFUSED, CloseScope::kConnection, Phase::kLogin),
            CloseKind::kAuthRefused);
  EXPECT_EQ(ClassifyReplyCode(AMQP_NOT_ALLOWED, CloseScope::kConnection, Phase::kLogin),
            CloseKind::kAuthRefused);
  EXPECT_EQ(ClassifyReplyCode(AMQP_RESOURCE_ERROR, CloseScope::kConnection, Phase::kOpen),
            CloseKind::kRetryable);
}

}  // namespace
}  // namespace edge
