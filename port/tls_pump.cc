#include "port/tls_pump.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "port/tcp_socket.h"
#include "port/tls_session.h"

namespace edge::port {
namespace {

using Clock = std::chrono::steady_clock;

// Each direction buffers at most this much in user space (the socket buffers hold more). Memory
// stays bounded whatever the backlog; a full buffer simply stops reading that side.
constexpr size_t kBufferBytes = size_t{64} * 1024;

std::string DurationText(int ms) {
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

// A fixed buffer of bytes in transit: [begin, end) hold data not yet written onwards.
struct Buffer {
  uint8_t bytes[kBufferBytes];
  size_t begin = 0;
  size_t end = 0;

  size_t size() const { return end - begin; }
  bool empty() const { return begin == end; }
  bool full() const { return begin == 0 && end == kBufferBytes; }
  // Room at the tail, compacting first so a drained prefix is reused.
  size_t Room() {
    if (begin > 0) {
      std::memmove(bytes, bytes + begin, size());
      end -= begin;
      begin = 0;
    }
    return kBufferBytes - end;
  }
  void Consume(size_t n) {
    begin += n;
    if (begin == end) begin = end = 0;
  }
};

// What the loop wants to wait for on each descriptor.
struct Wants {
  bool net_read = false;
  bool net_write = false;
  bool lib_read = false;
  bool lib_write = false;
};

}  // namespace

Result<std::unique_ptr<TlsPump>> TlsPump::Connect(const TransportConfig& config) {
  const std::string endpoint = EndpointName(config.host, config.port);
  if (config.silence_limit_ms < 0 || config.handshake_timeout_ms <= 0) {
    return Status::InvalidArgument("transport to " + endpoint +
                                   ": handshake timeout must be positive and silence limit >= 0");
  }
  auto tcp = ConnectTcp(config.host, config.port, config.connect_timeout_ms);
  if (!tcp.ok()) return tcp.status();

  std::unique_ptr<TlsSession> session;
  if (config.security == TransportSecurity::kTls) {
    auto created = TlsSession::Create(config.tls, config.host, config.port, tcp->get());
    if (!created.ok()) return created.status();
    session = std::move(created).value();
    // The handshake runs here, on the caller's thread: its failure is the answer to Connect().
    EDGE_RETURN_IF_ERROR(session->Handshake(config.handshake_timeout_ms));
  }

  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
    return Status::Internal("transport to " + endpoint +
                            ": socketpair failed: " + std::strerror(errno));
  }
  UniqueFd pump_end(pair[0]);
  UniqueFd library_end(pair[1]);
  UniqueFd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake.valid()) {
    return Status::Internal("transport to " + endpoint +
                            ": eventfd failed: " + std::strerror(errno));
  }
  std::unique_ptr<TlsPump> pump(new TlsPump(config, std::move(tcp).value(), std::move(session),
                                            std::move(pump_end), std::move(library_end),
                                            std::move(wake)));
  pump->thread_ = std::thread(&TlsPump::Run, pump.get());
  return pump;
}

TlsPump::TlsPump(const TransportConfig& config, UniqueFd tcp, std::unique_ptr<TlsSession> session,
                 UniqueFd pump_end, UniqueFd library_end, UniqueFd wake)
    : endpoint_(EndpointName(config.host, config.port)),
      silence_limit_ms_(config.silence_limit_ms),
      session_description_(session ? session->Describe() : "plaintext"),
      tcp_(std::move(tcp)),
      session_(std::move(session)),
      pump_end_(std::move(pump_end)),
      library_end_(std::move(library_end)),
      wake_(std::move(wake)) {}

TlsPump::~TlsPump() { Stop(); }

int TlsPump::ReleaseLibraryFd() { return library_end_.Release(); }

Status TlsPump::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_reason_;
}

void TlsPump::Stop() {
  stop_requested_.store(true, std::memory_order_release);
  uint64_t one = 1;
  // A full eventfd counter (impossible here) would still leave it readable, so the result of this
  // write does not matter.
  (void)!::write(wake_.get(), &one, sizeof(one));
  std::call_once(join_once_, [this] {
    if (thread_.joinable()) thread_.join();
  });
}

void TlsPump::RecordStop(Status why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_reason_.ok()) stop_reason_ = std::move(why);
}

void TlsPump::Run() {
  Status why = PumpLoop();
  const bool our_side_closed = why.code() == Code::kShuttingDown;
  // Order matters: record the reason first, then close the library's peer. A rabbitmq-c call
  // that fails because of the close can then always read why.
  RecordStop(std::move(why));
  stopped_.store(true, std::memory_order_release);
  pump_end_.Reset();
  if (session_ && our_side_closed) session_->SendCloseNotify();
  tcp_.Reset();
}

Status TlsPump::PumpLoop() {
  auto to_broker = std::make_unique<Buffer>();   // library -> broker
  auto to_library = std::make_unique<Buffer>();  // broker -> library
  // mbedtls_ssl_write after WANT_WRITE must be repeated with the same length: remember it.
  size_t tls_write_pending = 0;
  bool library_closed = false;
  auto last_rx = Clock::now();

  // When the broker side ends, hand rabbitmq-c what already arrived (typically a connection.close
  // frame explaining why) before closing: data queued in a Unix socket stays readable after the
  // peer closes. Never blocks; if the socketpair is full the rest is lost with the connection.
  auto FlushThenFail = [&](Status why) {
    while (!to_library->empty()) {
      ssize_t n = ::send(pump_end_.get(), to_library->bytes + to_library->begin, to_library->size(),
                         MSG_NOSIGNAL);
      if (n > 0) {
        to_library->Consume(static_cast<size_t>(n));
      } else if (!(n < 0 && errno == EINTR)) {
        break;
      }
    }
    return why;
  };

  for (;;) {
    if (stop_requested_.load(std::memory_order_acquire)) {
      return Status::ShuttingDown("transport to " + endpoint_ + " closed by the agent");
    }
    bool progress = false;
    Wants wants;

    // 1. Broker -> to_library. Keep reading while TLS holds decrypted bytes: poll() cannot see
    //    those (mbedtls_ssl_get_bytes_avail).
    while (to_library->Room() > 0) {
      uint8_t* dst = to_library->bytes + to_library->end;
      size_t room = to_library->Room();
      IoResult io;
      if (session_) {
        auto r = session_->Read(dst, room);
        if (!r.ok()) return FlushThenFail(r.status());
        io = *r;
      } else {
        ssize_t n = ::recv(tcp_.get(), dst, room, 0);
        if (n > 0) {
          io = {IoOutcome::kDone, static_cast<size_t>(n)};
        } else if (n == 0) {
          io = {IoOutcome::kClosed, 0};
        } else if (errno == EINTR) {
          continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
          io = {IoOutcome::kWantRead, 0};
        } else {
          return FlushThenFail(
              Status::Unavailable("connection to broker " + endpoint_ + " failed: " +
                                  (errno == ECONNRESET ? std::string("connection reset by peer")
                                                       : std::string(std::strerror(errno)))));
        }
      }
      if (io.outcome == IoOutcome::kClosed) {
        return FlushThenFail(Status::Unavailable("broker " + endpoint_ + " closed the connection"));
      }
      if (io.outcome == IoOutcome::kWantRead) {
        wants.net_read = true;
        break;
      }
      if (io.outcome == IoOutcome::kWantWrite) {
        wants.net_write = true;
        break;
      }
      to_library->end += io.bytes;
      last_rx = Clock::now();
      progress = true;
    }

    // 2. to_library -> rabbitmq-c.
    while (!to_library->empty()) {
      ssize_t n = ::send(pump_end_.get(), to_library->bytes + to_library->begin, to_library->size(),
                         MSG_NOSIGNAL);
      if (n > 0) {
        to_library->Consume(static_cast<size_t>(n));
        progress = true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        wants.lib_write = true;
        break;
      }
      // EPIPE/ECONNRESET: rabbitmq-c closed its end (amqp_destroy_connection).
      return Status::ShuttingDown("transport to " + endpoint_ + " closed by the agent");
    }

    // 3. rabbitmq-c -> to_broker.
    while (!library_closed && to_broker->Room() > 0) {
      ssize_t n = ::recv(pump_end_.get(), to_broker->bytes + to_broker->end, to_broker->Room(), 0);
      if (n > 0) {
        to_broker->end += static_cast<size_t>(n);
        progress = true;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        wants.lib_read = true;
        break;
      }
      library_closed = true;  // EOF or error: the library is done with the connection
    }

    // 4. to_broker -> broker.
    while (!to_broker->empty()) {
      const uint8_t* src = to_broker->bytes + to_broker->begin;
      size_t len = tls_write_pending != 0 ? tls_write_pending : to_broker->size();
      IoResult io;
      if (session_) {
        auto r = session_->Write(src, len);
        if (!r.ok()) return FlushThenFail(r.status());
        io = *r;
      } else {
        ssize_t n = ::send(tcp_.get(), src, len, MSG_NOSIGNAL);
        if (n >= 0) {
          io = {IoOutcome::kDone, static_cast<size_t>(n)};
        } else if (errno == EINTR) {
          continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
          io = {IoOutcome::kWantWrite, 0};
        } else {
          return FlushThenFail(Status::Unavailable(
              "connection to broker " + endpoint_ + " failed: " +
              (errno == ECONNRESET || errno == EPIPE ? std::string("connection reset by peer")
                                                     : std::string(std::strerror(errno)))));
        }
      }
      if (io.outcome == IoOutcome::kWantWrite || io.outcome == IoOutcome::kWantRead) {
        tls_write_pending = len;
        (io.outcome == IoOutcome::kWantWrite ? wants.net_write : wants.net_read) = true;
        break;
      }
      tls_write_pending = 0;
      to_broker->Consume(io.bytes);
      progress = true;
    }

    if (library_closed && to_broker->empty()) {
      return Status::ShuttingDown("transport to " + endpoint_ + " closed by the agent");
    }
    if (progress) continue;  // something moved: try every direction again before sleeping
    if (session_ && session_->BytesAvailable() > 0 && !to_library->full()) continue;

    // Watchdog. While to_library is full the broker's silence is ours (we stopped reading), so
    // it does not count.
    const auto now = Clock::now();
    if (to_library->full()) last_rx = now;
    int timeout_ms = -1;
    if (silence_limit_ms_ > 0) {
      auto quiet = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_rx).count();
      if (quiet >= silence_limit_ms_) {
        return Status::Unavailable("broker " + endpoint_ + " silent for " +
                                   DurationText(silence_limit_ms_) +
                                   " (no bytes received); closed the connection");
      }
      timeout_ms = static_cast<int>(silence_limit_ms_ - quiet);
    }

    // Always listen for the broker while there is room, so a reset or EOF is seen promptly.
    pollfd fds[3];
    fds[0] = {wake_.get(), POLLIN, 0};
    short net_events = 0;
    if (wants.net_read || !to_library->full()) net_events |= POLLIN;
    if (wants.net_write) net_events |= POLLOUT;
    fds[1] = {net_events != 0 ? tcp_.get() : -1, net_events, 0};
    short lib_events = 0;
    if (wants.lib_read) lib_events |= POLLIN;
    if (wants.lib_write) lib_events |= POLLOUT;
    fds[2] = {lib_events != 0 ? pump_end_.get() : -1, lib_events, 0};
    int n = ::poll(fds, 3, timeout_ms);
    if (n < 0 && errno != EINTR) {
      return Status::Internal("transport to " + endpoint_ +
                              ": poll failed: " + std::strerror(errno));
    }
    if (n > 0 && (fds[0].revents & POLLIN)) {
      uint64_t count;
      (void)!::read(wake_.get(), &count, sizeof(count));
    }
  }
}

}  // namespace edge::port
