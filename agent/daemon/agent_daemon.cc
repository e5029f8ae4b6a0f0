#include "agent/daemon/agent_daemon.h"

#include <set>

#include "agent/envelope/envelope.h"
#include "agent/ops/log.h"
#include "agent/ops/metrics_textfile.h"
#include "port/allocator.h"
#include "port/cert_info.h"

namespace edge::daemon {
namespace {

constexpr const char* kVersion = "0.1.0";

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

intake::IntakeOptions IntakeOptionsFrom(const config::AgentConfig& c) {
  intake::IntakeOptions o;
  o.socket_path = c.intake.socket_path;
  o.socket_mode = c.intake.socket_mode;
  o.max_frame_bytes = c.intake.max_frame_bytes;
  o.max_connections = c.intake.max_connections;
  o.idle_timeout_s = c.intake.idle_timeout_s;
  o.confirm_timeout_ms = c.intake.confirm_timeout_ms;
  return o;
}

}  // namespace

Result<std::unique_ptr<AgentDaemon>> AgentDaemon::Start(const config::AgentConfig& config,
                                                        port::FileSystem* fs) {
  auto rabbit = std::make_unique<publish::RabbitConnector>(config::EndpointsFrom(config),
                                                           config::TopologyFrom(config));
  publish::RabbitConnector* raw = rabbit.get();
  auto d = Start(config, fs, std::move(rabbit));
  if (d.ok()) (*d)->rabbit_ = raw;
  return d;
}

Result<std::unique_ptr<AgentDaemon>> AgentDaemon::Start(
    const config::AgentConfig& config, port::FileSystem* fs,
    std::unique_ptr<publish::BrokerConnector> connector) {
  std::unique_ptr<AgentDaemon> d(new AgentDaemon());
  d->config_ = config;
  d->fs_ = fs;
  d->started_ = std::chrono::steady_clock::now();

  for (const std::string& w : config.warnings) ops::LogWarning(w);

  auto ring = ring::Ring::Open(fs, config.ring.path, config::RingOptionsFrom(config));
  if (!ring.ok()) return ring.status();
  d->ring_ = std::move(ring).value();
  const ring::RecoveryReport& rep = d->ring_->store().recovery();
  if (rep.damage.empty()) {
    ops::LogInfo("ring " + config.ring.path + ": " + rep.Summary());
  } else {
    ops::LogError("ring " + config.ring.path + ": " + rep.Summary());
  }

  if (!config.ring.gap_report_route.empty()) {
    d->gap_reporter_ =
        std::make_unique<GapReporter>(config.agent_id, config.ring.gap_report_route);
  }
  // Drops of earlier boots are in the persisted total; log only the new ones, once each.
  d->dropped_logged_ = d->ring_->store().stats().dropped_total;
  auto dlf = publish::DeadLetterFile::Open(fs, config.dead_letter_path);
  if (!dlf.ok()) return dlf.status();
  d->dead_letters_ = std::move(dlf).value();

  d->connector_ = std::move(connector);
  d->publisher_ = std::make_unique<publish::Publisher>(
      d->ring_.get(), d->connector_.get(), d->dead_letters_.get(),
      config::PublisherOptionsFrom(config));

  std::set<std::string> routes;
  for (const auto& [name, route] : config.routes) routes.insert(name);
  auto intake = intake::IntakeServer::Start(d->ring_.get(), routes, IntakeOptionsFrom(config));
  if (!intake.ok()) return intake.status();
  d->intake_ = std::move(intake).value();
  intake::IntakeServer* in = d->intake_.get();
  d->publisher_->SetOutcomeObserver(
      [in](uint64_t seq, bool delivered, const std::string& detail) {
        in->OnSettled(seq, delivered, detail);
      });
  d->publisher_->Start();

  if (config.worker.enabled) {
    d->worker_ = std::make_unique<worker::Worker>(config::WorkerOptionsFrom(config));
    worker::Worker* w = d->worker_.get();
    d->worker_thread_ = std::thread([w] {
      Status s = w->Run();
      if (!s.ok()) ops::LogError("worker stopped: " + s.message());
    });
  }
  if (!config.control.socket_path.empty()) {
    AgentDaemon* self = d.get();
    ControlHandlers handlers;
    handlers.snapshot = [self] { return self->Snapshot(); };
    handlers.move_dead_letters_aside = [self] {
      return self->dead_letters_->MoveAside(NowMs());
    };
    auto control = ControlServer::Start(config.control.socket_path, std::move(handlers));
    if (!control.ok()) return control.status();
    d->control_ = std::move(control).value();
  }
  if (!config.metrics.listen.empty()) {
    AgentDaemon* self = d.get();
    auto http = MetricsHttpServer::Start(config.metrics.listen,
                                         [self] { return ops::RenderPrometheus(self->Snapshot()); });
    if (!http.ok()) return http.status();
    d->metrics_http_ = std::move(http).value();
  }
  ops::LogInfo("edge-agent " + std::string(kVersion) + " running as '" + config.agent_id +
               "': intake " + config.intake.socket_path + ", " +
               std::to_string(config.routes.size()) + " route(s), " +
               std::to_string(config.broker.endpoints.size()) + " broker endpoint(s)");
  return d;
}

AgentDaemon::~AgentDaemon() { (void)Stop(0); }

Status AgentDaemon::Stop(int drain_ms) {
  std::lock_guard<std::mutex> l(stop_mu_);
  if (stopped_) return Status::Ok();
  stopped_ = true;
  control_.reset();
  metrics_http_.reset();
  if (worker_) {
    worker_->Stop();  // finishes and settles the task in hand
    if (worker_thread_.joinable()) worker_thread_.join();
  }
  if (intake_) intake_->Stop();  // no new payloads; answers go out for those accepted
  Status result;
  if (publisher_) {
    uint64_t waiting = ring_->store().next_seq() - publisher_->stats().confirmed_through;
    if (waiting > 0 && drain_ms > 0) {
      ops::LogInfo("stopping: waiting up to " + std::to_string(drain_ms) + " ms for " +
                   std::to_string(waiting) + " record(s) to be confirmed");
      (void)publisher_->WaitIdle(drain_ms);
    }
    publisher_->Stop();
  }
  if (ring_) {
    uint64_t left = ring_->store().next_seq() - ring_->store().head().seq;
    result = ring_->Close();
    ops::LogInfo("stopped; " + std::to_string(left) +
                 " unconfirmed record(s) stay in the ring for the next start");
  }
  return result;
}

void AgentDaemon::Reload(const config::AgentConfig& fresh) {
  if (rabbit_ != nullptr) rabbit_->SetEndpoints(config::EndpointsFrom(fresh));
  publisher_->ReconnectNow();  // do not wait out a refused-login back-off
  std::string restart_needed;
  if (fresh.ring.path != config_.ring.path || fresh.ring.size_bytes != config_.ring.size_bytes ||
      fresh.ring.full_policy != config_.ring.full_policy) {
    restart_needed += " ring";
  }
  if (fresh.intake.socket_path != config_.intake.socket_path) restart_needed += " intake";
  bool routes_changed = fresh.routes.size() != config_.routes.size();
  for (const auto& [name, route] : fresh.routes) {
    auto old_route = config_.routes.find(name);
    routes_changed |= old_route == config_.routes.end() ||
                      old_route->second.exchange != route.exchange ||
                      old_route->second.routing_key != route.routing_key;
  }
  if (routes_changed) restart_needed += " routes";
  ops::LogInfo("reloaded: broker endpoints and credentials apply from the next connection" +
               (restart_needed.empty() ? std::string()
                                       : "; changes to" + restart_needed + " need a restart"));
  std::lock_guard<std::mutex> l(config_mu_);
  config_.broker = fresh.broker;
  config_.metrics = fresh.metrics;
}

void AgentDaemon::ReportGaps(uint64_t dropped_total) {
  GapReporter::Input in;
  in.settled_below = publisher_->stats().confirmed_through;  // before the gaps: gap_reporter.h
  in.pending = ring_->store().PendingGaps();
  in.approximate = ring_->store().PendingGapsApproximate();
  in.dropped_total = dropped_total;
  GapReporter::Action a = gap_reporter_->Tick(in, NowMs());
  if (!a.log.empty()) {
    if (a.warning) {
      ops::LogWarning(a.log);
    } else {
      ops::LogInfo(a.log);
    }
  }
  if (a.mark_through > 0) ring_->store().MarkGapsReportedThrough(a.mark_through);
  if (!a.append.empty()) {
    ring_->AppendAsync(std::move(a.append),
                       [r = gap_reporter_.get()](Result<uint64_t> seq) { r->Appended(seq); });
  }
}

void AgentDaemon::Tick() {
  // drop_oldest loses data on purpose; say so once per drop, with the seq ranges.
  ring::RingStats rs = ring_->store().stats();
  if (rs.dropped_total > dropped_logged_) {
    std::string ranges;
    for (const ring::Gap& g : ring_->store().PendingGaps()) {
      ranges += " " + std::to_string(g.first_seq) + ".." + std::to_string(g.last_seq);
    }
    ops::LogWarning("ring full under drop_oldest: " +
                    std::to_string(rs.dropped_total - dropped_logged_) +
                    " record(s) dropped before the broker took them; dropped seq ranges:" +
                    ranges + " (also in `edge-agent ring stats`)");
    dropped_logged_ = rs.dropped_total;
  }
  if (gap_reporter_) ReportGaps(rs.dropped_total);
  // After a burst the freed payload buffers stay resident until reused (port/allocator.h).
  if (quiet_.Update(rs.next_seq, publisher_->stats().confirmed_through)) {
    (void)port::ReleaseFreeMemory();
  }
  std::string textfile;
  int64_t interval_s;
  {
    std::lock_guard<std::mutex> l(config_mu_);
    textfile = config_.metrics.textfile_path;
    interval_s = config_.metrics.interval_s;
  }
  if (textfile.empty()) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_metrics_ < std::chrono::seconds(std::max<int64_t>(1, interval_s))) return;
  last_metrics_ = now;
  Status s = ops::WriteMetricsTextfile(fs_, textfile, ops::RenderPrometheus(Snapshot()));
  if (!s.ok()) ops::LogWarning(s.message());
}

ops::StatusSnapshot AgentDaemon::Snapshot() const {
  ops::StatusSnapshot s;
  s.agent_id = config_.agent_id;
  s.version = kVersion;
  s.uptime_s = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                       started_)
          .count());
  ring::RingStats rs = ring_->store().stats();
  s.ring_path = config_.ring.path;
  s.full_policy = config_.ring.full_policy == ring::FullPolicy::kReject ? "reject" : "drop_oldest";
  s.ring_bytes = rs.geometry.file_bytes;
  s.ring_used_bytes = rs.used_bytes;
  s.head_seq = rs.head.seq;
  s.next_seq = rs.next_seq;
  s.dropped_total = rs.dropped_total;
  s.damaged_total = rs.damaged_total;
  s.rejected_full = rs.rejected_full;
  s.epoch = rs.epoch;
  if (rs.head.seq < rs.next_seq) {
    ring::Record rec;
    envelope::Envelope env;
    if (ring_->store().Read(rs.head, &rec).ok() && envelope::Decode(rec.payload, &env).ok()) {
      uint64_t now = NowMs();
      s.oldest_unconfirmed_age_ms = now > env.accepted_at_ms ? now - env.accepted_at_ms : 0;
    }
  }
  publish::PublisherStats ps = publisher_->stats();
  s.connected = ps.connected;
  s.endpoint = ps.endpoint;
  s.last_error = ps.last_error;
  s.blocked = ps.blocked;
  s.published = ps.published;
  s.confirmed = ps.confirmed;
  s.returned = ps.returned;
  s.nacked = ps.nacked;
  s.dead_lettered = ps.dead_lettered;
  s.reconnects = ps.reconnects;
  s.connect_failures = ps.connect_failures;
  s.in_flight = ps.in_flight;
  s.confirm_lag = rs.next_seq > ps.confirmed_through ? rs.next_seq - ps.confirmed_through : 0;
  std::string client_cert;
  {
    std::lock_guard<std::mutex> l(config_mu_);
    client_cert = config_.broker.tls.client_cert_file;
  }
  if (!client_cert.empty()) {
    auto days = port::CertificateDaysLeft(client_cert);
    if (days.ok()) s.tls_cert_expiry_days = *days;
  }
  if (intake_) {
    intake::IntakeStats is = intake_->stats();
    s.intake_connections = is.connections_open;
    s.intake_connections_refused = is.connections_rejected;
    s.intake_connections_bad_frame = is.connections_closed_bad_frame;
    for (int c = 0; c < intake::kAnswerCodeCount; c++) {
      if (is.answers[c] == 0 && c != 0) continue;
      s.intake_answers[intake::AnswerCodeName(static_cast<intake::AnswerCode>(c))] =
          is.answers[c];
    }
  }
  return s;
}

}  // namespace edge::daemon
