#include "serving/server.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>

#include "core/check.h"
#include "core/logging.h"
#include "pipeline/caching_engine.h"

namespace chatterd::serving {
namespace {

// Batched T3 steps (chatterd_batch_size) and vocoder batches (chatterd_vocoder_*): every one into
// the metrics; into the trace only while a traced request runs (the loops keep going long after
// the first trace_requests are done).
class BatchStepObserver final : public EngineObserver {
 public:
  BatchStepObserver(Metrics& metrics, Tracer* tracer, const Scheduler& scheduler)
      : metrics_(metrics), tracer_(tracer), scheduler_(scheduler) {}
  void on_batch_step(std::int64_t rows, std::chrono::steady_clock::time_point start,
                     std::chrono::steady_clock::time_point end) override {
    metrics_.batch_size.observe(static_cast<double>(rows));
    if (tracer_ != nullptr && scheduler_.tracing_now()) {
      tracer_->complete("t3_batch_step", "t3", start, end, {{"rows", static_cast<double>(rows)}});
    }
  }
  void on_vocoder_batch(const VocoderBatchEvent& event) override {
    metrics_.record_vocoder_batch(event);
    if (tracer_ != nullptr && scheduler_.tracing_now()) {
      const std::string name =
          fmt::format("vocoder_batch_{}", vocoder_batch_trigger_name(event.trigger));
      tracer_->complete(name, "vocoder", event.start, event.end,
                        {{"windows", static_cast<double>(event.windows)},
                         {"queue_depth", static_cast<double>(event.queue_depth)},
                         {"voices", static_cast<double>(event.voices)}});
    }
  }

 private:
  Metrics& metrics_;
  Tracer* tracer_;
  const Scheduler& scheduler_;
};

// `engine` behind a CachingEngine of `budget_mb` MiB; as it is when the budget is 0 (or there is
// no engine: the constructor reports that). Entries are capped at 8 MiB (~87 s of 24 kHz float
// audio, ~4 MiB as PCM16): a streamed replay queues all of it at once, and the session cuts a
// stream whose queue passes kMaxQueuedStreamBytes (16 MiB) as a slow client.
std::unique_ptr<TtsEngine> with_request_cache(std::unique_ptr<TtsEngine> engine, int budget_mb) {
  if (engine == nullptr || budget_mb <= 0) return engine;
  return std::make_unique<CachingEngine>(
      std::shared_ptr<TtsEngine>(std::move(engine)),
      RequestCacheConfig{.max_bytes = static_cast<std::size_t>(budget_mb) << 20,
                         .max_entry_bytes = std::size_t{8} << 20});
}

}  // namespace

Server::Server(ServerConfig config, std::unique_ptr<TtsEngine> engine)
    : config_(std::move(config)),
      engine_(with_request_cache(std::move(engine), config_.request_cache_mb)),
      request_cache_(dynamic_cast<CachingEngine*>(engine_.get())),
      connections_(config_.max_connections, config_.max_connections_per_ip, metrics_),
      work_(net::make_work_guard(ioc_)),
      acceptor_(net::make_strand(ioc_)),
      accept_pause_(acceptor_.get_executor()) {
  config_.validate();
  CHATTERD_CHECK(engine_ != nullptr, InvalidArgument, "Server needs an engine");
  if (!config_.trace_file.empty()) {
    // Found out now, not after a whole run: the file is only written at shutdown.
    const std::ofstream probe(config_.trace_file, std::ios::binary | std::ios::trunc);
    CHATTERD_CHECK(probe.good(), IoError, "trace: cannot write {}", config_.trace_file);
    tracer_ = std::make_unique<Tracer>();
  }
  // More workers than the engine can use would only queue inside it.
  const auto workers = static_cast<std::size_t>(std::max(1, engine_->max_concurrency()));
  scheduler_ = std::make_unique<Scheduler>(
      *engine_,
      SchedulerConfig{.max_queue = config_.max_queue,
                      .workers = std::min(workers, config_.max_queue),
                      .realtime_budget = config_.realtime_budget,
                      .trace_requests = static_cast<std::size_t>(config_.trace_requests)},
      metrics_, tracer_.get());
  observer_ = std::make_unique<BatchStepObserver>(metrics_, tracer_.get(), *scheduler_);
  engine_->set_observer(observer_.get());
  // Voices go to the engine itself (the cache has no voice table); a new voice empties the cache.
  TtsEngine& voice_engine = request_cache_ != nullptr ? request_cache_->inner() : *engine_;
  voices_ = std::make_unique<VoiceService>(voice_engine, config_.model, config_.voice_store,
                                           config_.n_threads, [this] {
                                             if (request_cache_ != nullptr) request_cache_->clear();
                                           });
  state_ = std::make_unique<ServerState>(config_, engine_->info(), *scheduler_, metrics_, *voices_,
                                         ws_sessions_);
  beast::error_code ec;
  const auto address = net::ip::make_address(config_.host, ec);
  CHATTERD_CHECK(!ec, InvalidArgument, "host '{}' is not an IP address: {}", config_.host,
                 ec.message());
  const tcp::endpoint endpoint{address, config_.port};
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  CHATTERD_CHECK(!ec, IoError, "cannot listen on {}:{}: {}", config_.host, config_.port,
                 ec.message());
  port_ = acceptor_.local_endpoint().port();
}

std::unique_ptr<Server> Server::create(const ServerConfig& config) {
  config.validate();
  const EngineConfig engine_config{.model = config.model,
                                   .n_threads = config.n_threads,
                                   .voice_store = config.voice_store,
                                   .t3_dtype = config.t3_dtype,
                                   .vocoder_dtype = config.vocoder_dtype,
                                   .max_batch = config.max_batch,
                                   .vocoder_batch = config.vocoder_batch,
                                   .vocoder_max_wait_ms = config.vocoder_max_wait_ms,
                                   .vocoder_early_fire_ratio = config.vocoder_early_fire_ratio,
                                   .device = config.device};
  engine_config.validate();
  return std::make_unique<Server>(config, create_engine(engine_config));
}

Server::~Server() {
  shutdown();
}

void Server::start() {
  do_accept();
  threads_.reserve(static_cast<std::size_t>(config_.io_threads));
  for (int i = 0; i < config_.io_threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
}

void Server::do_accept() {
  acceptor_.async_accept(net::make_strand(ioc_),
                         beast::bind_front_handler(&Server::on_accept, this));
}

void Server::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {  // out of descriptors, or the peer reset before we got to it: pause, then go on
    accept_pause_.expires_after(std::chrono::milliseconds(50));
    accept_pause_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && acceptor_.is_open()) do_accept();
    });
    return;
  }
  beast::error_code peer_ec;
  const tcp::endpoint peer = socket.remote_endpoint(peer_ec);
  if (peer_ec) {  // already gone
    do_accept();
    return;
  }
  ConnectionTicket ticket = connections_.admit(peer.address());
  if (ticket.admitted()) {
    start_http_session(std::move(socket), *state_, std::move(ticket));
  } else {
    refuse_connection(std::move(socket), ticket.refusal(),
                      ticket.refusal() == ConnectionRefusal::PerIp ? config_.max_connections_per_ip
                                                                   : config_.max_connections,
                      connections_);
  }
  do_accept();
}

void Server::shutdown() {
  const std::lock_guard lock(shutdown_mutex_);
  if (shut_down_) return;
  shut_down_ = true;
  const auto deadline = std::chrono::steady_clock::now() + config_.shutdown_grace;
  state_->shutting_down.store(true);
  scheduler_->close();
  net::post(acceptor_.get_executor(), [this] {  // the acceptor's strand: no race with do_accept
    beast::error_code ec;
    acceptor_.close(ec);
    accept_pause_.cancel();
  });
  // Admitted work finishes, then its responses drain to the clients.
  scheduler_->drain(deadline);
  while (metrics_.in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline &&
         !threads_.empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  scheduler_->stop();  // cancels what is left; the workers have posted their last chunks
  engine_->set_observer(nullptr);  // nothing runs now; observer_ may go before the engine
  // WebSockets write what they still hold, then close with 1001. Waiting for them is bounded by
  // the deadline, or by kCloseWindow when the work above used up the grace.
  ws_sessions_.go_away_all();
  if (!threads_.empty()) {
    ws_sessions_.wait_empty(std::max(deadline, std::chrono::steady_clock::now() + kCloseWindow));
  }
  work_.reset();
  ioc_.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  if (tracer_) {
    try {
      tracer_->write(config_.trace_file);
      logger().info("trace: {} events written to {}", tracer_->events().size(), config_.trace_file);
    } catch (const std::exception& e) {
      logger().error("{}", e.what());
    }
  }
}

}  // namespace chatterd::serving
