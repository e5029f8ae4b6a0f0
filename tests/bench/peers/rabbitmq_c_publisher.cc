// The broker's own ceiling for forward_bench: the least a client can do to publish persistent,
// mandatory messages with confirms, pipelined, over plaintext TCP with rabbitmq-c. No ring, no
// TLS, no envelope decoding, no pump thread: whatever edge-agent adds shows up as the gap.
//
// The messages have the same shape on the wire as edge-agent's (content type, delivery mode 2,
// message_id, timestamp, the four x-edge-* headers), so the comparison is about the clients,
// not about message sizes.
//
//   rabbitmq_c_publisher --port P --queue Q --size BYTES --messages N --seconds S --window W
//   (credentials from EDGE_BENCH_USER / EDGE_BENCH_PASSWORD; host 127.0.0.1)
// Publishes until N messages or S seconds, then waits for the outstanding confirms and prints
//   RESULT messages=<confirmed> seconds=<first publish to last confirm> nacked=<n>
// Exit status 0 on success; a message on stderr otherwise.
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int port = 5672;
  std::string queue;
  size_t size = 200;
  uint64_t messages = 100000;
  double seconds = 10;
  uint64_t window = 512;
};

bool ParseArgs(int argc, char** argv, Args* a) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--port") {
      a->port = std::atoi(v);
    } else if (k == "--queue") {
      a->queue = v;
    } else if (k == "--size") {
      a->size = std::strtoull(v, nullptr, 10);
    } else if (k == "--messages") {
      a->messages = std::strtoull(v, nullptr, 10);
    } else if (k == "--seconds") {
      a->seconds = std::atof(v);
    } else if (k == "--window") {
      a->window = std::strtoull(v, nullptr, 10);
    } else {
      return false;
    }
  }
  return !a->queue.empty() && a->window > 0;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "rabbitmq_c_publisher: %s\n", what.c_str());
  return 1;
}

bool RpcOk(amqp_connection_state_t c) {
  return amqp_get_rpc_reply(c).reply_type == AMQP_RESPONSE_NORMAL;
}

amqp_table_entry_t StringEntry(const char* key, const std::string& value) {
  amqp_table_entry_t e;
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes.len = value.size();
  e.value.value.bytes.bytes = const_cast<char*>(value.data());
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!ParseArgs(argc, argv, &a)) {
    return Fail("usage: --port P --queue Q --size B --messages N --seconds S --window W");
  }
  const char* user = std::getenv("EDGE_BENCH_USER");
  const char* password = std::getenv("EDGE_BENCH_PASSWORD");
  if (user == nullptr || password == nullptr) return Fail("EDGE_BENCH_USER/PASSWORD not set");

  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  if (socket == nullptr || amqp_socket_open(socket, "127.0.0.1", a.port) != AMQP_STATUS_OK) {
    return Fail("cannot connect to 127.0.0.1:" + std::to_string(a.port));
  }
  if (amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, user, password).reply_type !=
      AMQP_RESPONSE_NORMAL) {
    return Fail("login refused");
  }
  amqp_channel_open(conn, 1);
  if (!RpcOk(conn)) return Fail("channel.open failed");
  amqp_confirm_select(conn, 1);
  if (!RpcOk(conn)) return Fail("confirm.select failed");

  const std::string body(a.size, 'b');
  const amqp_bytes_t queue = amqp_cstring_bytes(a.queue.c_str());
  const std::string agent = "bench";
  const std::string route = "bench";
  const std::string attempt = "1";

  // Confirm bookkeeping: flags for tags [low, low + pending.size()); an ack may be `multiple`.
  std::deque<bool> pending;
  uint64_t low = 1;
  uint64_t sent = 0;
  uint64_t settled = 0;
  uint64_t nacked = 0;
  auto settle = [&](uint64_t tag, bool multiple) {
    if (tag < low) return;
    const uint64_t first = multiple ? low : tag;
    for (uint64_t t = first; t <= tag && t - low < pending.size(); t++) {
      if (!pending[t - low]) {
        pending[t - low] = true;
        settled++;
      }
    }
    while (!pending.empty() && pending.front()) {
      pending.pop_front();
      low++;
    }
  };

  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.seconds));
  auto last_confirm = start;
  bool publishing = true;
  while (publishing || settled < sent) {
    while (publishing && sent - settled < a.window) {
      if (sent >= a.messages || Clock::now() >= deadline) {
        publishing = false;
        break;
      }
      const uint64_t n = ++sent;
      const std::string id = "bench:" + std::to_string(n);
      const std::string seq = std::to_string(n);
      amqp_table_entry_t headers[4] = {
          StringEntry("x-edge-agent", agent), StringEntry("x-edge-route", route),
          StringEntry("x-edge-seq", seq), StringEntry("x-edge-attempt", attempt)};
      amqp_basic_properties_t props;
      props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                     AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
                     AMQP_BASIC_HEADERS_FLAG;
      props.content_type = amqp_cstring_bytes("application/octet-stream");
      props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
      props.message_id = amqp_cstring_bytes(id.c_str());
      props.timestamp = static_cast<uint64_t>(std::time(nullptr));
      props.headers.num_entries = 4;
      props.headers.entries = headers;
      amqp_bytes_t b{body.size(), const_cast<char*>(body.data())};
      if (amqp_basic_publish(conn, 1, amqp_empty_bytes, queue, /*mandatory=*/1, 0, &props, b) !=
          AMQP_STATUS_OK) {
        return Fail("basic.publish failed");
      }
      pending.push_back(false);
    }
    // Drain what has arrived; block only when the window is full or publishing is over.
    const bool must_wait = !publishing || sent - settled >= a.window;
    timeval tv{must_wait ? 1 : 0, 0};
    if (amqp_frames_enqueued(conn) || amqp_data_in_buffer(conn)) tv = {0, 0};
    amqp_frame_t frame;
    int rc = amqp_simple_wait_frame_noblock(conn, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) continue;
    if (rc != AMQP_STATUS_OK)
      return Fail(std::string("waiting for confirms: ") + amqp_error_string2(rc));
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
        settle(ack->delivery_tag, ack->multiple != 0);
        last_confirm = Clock::now();
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        auto* nack = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
        const uint64_t before = settled;
        settle(nack->delivery_tag, nack->multiple != 0);
        nacked += settled - before;
        last_confirm = Clock::now();
        break;
      }
      case AMQP_BASIC_RETURN_METHOD: {
        amqp_message_t m;
        amqp_read_message(conn, frame.channel, &m, 0);
        amqp_destroy_message(&m);
        return Fail("a message was returned: is the queue declared?");
      }
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        return Fail("the broker closed the channel");
      default:
        break;
    }
  }
  const double elapsed = std::chrono::duration<double>(last_confirm - start).count();
  std::printf("RESULT messages=%llu seconds=%.6f nacked=%llu\n",
              static_cast<unsigned long long>(settled - nacked), elapsed,
              static_cast<unsigned long long>(nacked));
  amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
  return 0;
}
