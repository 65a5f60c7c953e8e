#include "serving/ws_session.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "chatterd/core/error.h"
#include "serving/api_request.h"
#include "serving/audio_encoding.h"
#include "serving/text_segmenter.h"
#include "text/utf8.h"

namespace chatterd::serving {
namespace {

namespace websocket = beast::websocket;
using nlohmann::json;

// A socket whose client falls this far behind (audio not yet written) is cut off.
constexpr std::size_t kMaxQueuedBytes = 8u << 20;
constexpr std::size_t kMaxContextIdBytes = 128;
// On shutdown: how long the client gets to answer our close frame (1001).
constexpr std::chrono::seconds kGoAwayCloseTimeout{1};

struct Item {
  enum class Kind { Segment, Flush, Done } kind = Kind::Segment;
  std::string text;
  std::int64_t flush_id = 0;
};

// When the client's playback of a context would run dry, assuming it starts playing at the
// first chunk: the deadline of the context's next segment (scheduler.h). Written by the worker.
struct PlaybackClock {
  std::atomic<std::int64_t> first_chunk_us{0};  // steady-clock microseconds; 0: no audio yet
  std::atomic<std::int64_t> audio_us{0};        // audio produced so far

  static std::int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  void add(const AudioChunk& c) {
    std::int64_t none = 0;
    first_chunk_us.compare_exchange_strong(none, now_us());
    audio_us.fetch_add(static_cast<std::int64_t>(c.samples.size()) * 1000000 /
                       std::max(1, c.sample_rate_hz));
  }
  // Unset (= at once) until the first audio.
  std::chrono::steady_clock::time_point runs_dry() const {
    const std::int64_t first = first_chunk_us.load();
    if (first == 0) return {};
    return std::chrono::steady_clock::time_point(
        std::chrono::microseconds(first + audio_us.load()));
  }
};

struct Context {
  std::uint64_t gen = 0;  // unique per session: stale posts of an ended context are dropped
  std::shared_ptr<PlaybackClock> playback = std::make_shared<PlaybackClock>();
  SynthesisRequest base;  // voice + options; text per segment
  TextSegmenter segmenter;
  std::deque<Item> items;
  std::size_t pending_bytes = 0;  // text of queued segments
  std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  bool running = false;
  bool ended = false;  // continue: false seen
  std::int64_t segments = 0;
  std::int64_t flushes = 0;
};

std::optional<ApiError> parse_output_format(const json& j, int rate) {
  if (!j.contains("output_format") || j.at("output_format").is_null()) return std::nullopt;
  const json& f = j.at("output_format");
  if (!f.is_object()) return ApiError{400, "output_format must be an object"};
  const auto field = [&](const char* key, const std::string& want) -> std::optional<ApiError> {
    if (!f.contains(key)) return std::nullopt;
    if (!f.at(key).is_string() || f.at(key).get<std::string>() != want) {
      return ApiError{400, fmt::format("output_format.{} must be \"{}\" (got {})", key, want,
                                       f.at(key).dump())};
    }
    return std::nullopt;
  };
  if (auto e = field("container", "raw")) return e;
  if (auto e = field("encoding", "pcm_s16le")) return e;
  if (f.contains("sample_rate") &&
      (!f.at("sample_rate").is_number_integer() || f.at("sample_rate").get<int>() != rate)) {
    return ApiError{400, fmt::format("output_format.sample_rate must be {} (got {})", rate,
                                     f.at("sample_rate").dump())};
  }
  return std::nullopt;
}

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(beast::tcp_stream&& stream, ServerState& state, ConnectionTicket ticket)
      : ws_(std::move(stream)),
        state_(state),
        metrics_(state.metrics),
        registry_(state.ws_sessions),
        ticket_(std::move(ticket)) {}
  // Metrics and the registry outlive the io_context (Server member order); ServerState may not.
  ~WsSession() {
    release_slot();
    if (registry_id_) registry_.remove(*registry_id_);
  }
  WsSession(const WsSession&) = delete;
  WsSession& operator=(const WsSession&) = delete;

  void run(http::request<http::string_body> req) {
    beast::get_lowest_layer(ws_).expires_never();  // websocket timeouts take over
    websocket::stream_base::timeout t{};
    t.handshake_timeout = state_.config.request_timeout;
    t.idle_timeout = state_.config.stream_idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "chatterd"); }));
    ws_.read_message_max(state_.config.max_body_bytes);
    // Shutdown reaches the session through its strand; a weak pointer, so the registry never
    // keeps a closed session alive.
    registry_id_ = registry_.add([weak = weak_from_this(), strand = ws_.get_executor()] {
      if (auto self = weak.lock()) net::post(strand, [self] { self->go_away(); });
    });
    ws_.async_accept(req, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
  }

 private:
  // ---- reading ----
  void on_accept(beast::error_code ec) {
    if (ec) return on_closed();
    accepted_ = true;
    if (!registry_id_) going_away_ = true;  // shutdown began between the upgrade check and now
    if (going_away_) go_away();
    do_read();
  }

  void do_read() {
    in_.clear();
    ws_.async_read(in_, beast::bind_front_handler(&WsSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return on_closed();  // closed by the peer, timeout, protocol error, message too big
    if (!ws_.got_text()) {
      send_error("", 400, "binary frames are not accepted; send JSON text messages");
    } else {
      const std::string text = beast::buffers_to_string(in_.data());
      handle_text(text);
    }
    do_read();
  }

  void handle_text(const std::string& text) {
    json j;
    try {
      j = json::parse(text);
    } catch (const json::parse_error& e) {
      return send_error("", 400, fmt::format("malformed JSON: {}", e.what()));
    }
    if (!j.is_object()) {
      return send_error("", 400,
                        fmt::format("message must be a JSON object, got {}", j.type_name()));
    }
    if (!j.contains("context_id") || !j.at("context_id").is_string()) {
      return send_error("", 400, "message needs a string context_id");
    }
    const std::string id = j.at("context_id").get<std::string>();
    if (id.empty() || id.size() > kMaxContextIdBytes) {
      return send_error("", 400, fmt::format("context_id must be 1..{} bytes", kMaxContextIdBytes));
    }
    const auto flag = [&](const char* key, bool dflt) -> std::optional<bool> {
      if (!j.contains(key) || j.at(key).is_null()) return dflt;
      if (!j.at(key).is_boolean()) return std::nullopt;
      return j.at(key).get<bool>();
    };
    const std::optional<bool> cancel = flag("cancel", false);
    const std::optional<bool> flush = flag("flush", false);
    const bool has_transcript = j.contains("transcript") && !j.at("transcript").is_null();
    // Cartesia: a transcript without "continue" is the whole input; flush-only messages continue.
    const std::optional<bool> cont = flag("continue", !has_transcript);
    if (!cancel || !flush || !cont) {
      return send_error(id, 400, "cancel, flush and continue must be booleans");
    }
    if (*cancel) return cancel_context(id);
    if (!has_transcript && !j.contains("flush") && !j.contains("continue")) {
      // Not a Cartesia message we know (a "type" of another protocol, or options alone): say so
      // rather than open an idle context that takes one of max_contexts.
      return send_error(id, 400,
                        "message does nothing: send transcript, flush, continue or cancel");
    }
    if (has_transcript && !j.at("transcript").is_string()) {
      return send_error(
          id, 400,
          fmt::format("transcript must be a string, got {}", j.at("transcript").type_name()));
    }
    if (state_.shutting_down.load()) return send_error(id, 503, "server is shutting down");

    auto it = contexts_.find(id);
    if (it == contexts_.end()) {
      if (contexts_.size() >= state_.config.max_contexts) {
        return send_error(id, 429,
                          fmt::format("too many open contexts on this socket (max {})",
                                      state_.config.max_contexts));
      }
      Context ctx;
      if (auto e = configure(j, ctx)) return send_error(id, e->status, e->message);
      ctx.gen = ++next_gen_;
      it = contexts_.emplace(id, std::move(ctx)).first;
      metrics_.ws_contexts_total.fetch_add(1);
    } else if (it->second.ended) {
      return send_error(id, 400,
                        "context already ended (continue: false); wait for done or use a new id");
    }
    Context& ctx = it->second;
    if (has_transcript) {
      const std::string piece = j.at("transcript").get<std::string>();
      const std::size_t limit = state_.config.max_text_chars * 4;  // bytes: 4 per code point max
      if (ctx.pending_bytes + ctx.segmenter.buffered_bytes() + piece.size() > limit) {
        return send_error(id, 413,
                          fmt::format("context text backlog over {} bytes; wait for audio", limit));
      }
      for (std::string& s : ctx.segmenter.push(piece)) push_segment(ctx, std::move(s));
    }
    if (*flush || !*cont) push_segment(ctx, ctx.segmenter.flush());
    if (*flush) ctx.items.push_back(Item{.kind = Item::Kind::Flush, .flush_id = ++ctx.flushes});
    if (!*cont) {
      ctx.ended = true;
      ctx.items.push_back(Item{.kind = Item::Kind::Done});
    }
    pump(id);
  }

  std::optional<ApiError> configure(const json& j, Context& ctx) {
    const EngineInfo engine = state_.engine_snapshot();
    if (auto e = parse_output_format(j, engine.sample_rate_hz)) return e;
    if (j.contains("voice") && !j.at("voice").is_null()) {
      // Cartesia sends {"mode": "id", "id": "..."}; a plain string is accepted too.
      const json& v = j.at("voice");
      std::string name;
      if (v.is_string()) {
        name = v.get<std::string>();
      } else if (v.is_object() && v.contains("id") && v.at("id").is_string()) {
        name = v.at("id").get<std::string>();
      } else {
        return ApiError{400, "voice must be a string or {\"id\": \"name\"}"};
      }
      if (state_.voices.known(name)) ctx.base.voice = name;  // else the default, as over HTTP
    }
    return parse_common_options(j, state_.limits(), ctx.base.options);
  }

  void push_segment(Context& ctx, std::string text) {
    if (is_blank(text)) return;
    if (text::find_invalid_utf8(text) != std::string::npos) return;  // cannot happen: text frame
    ctx.pending_bytes += text.size();
    ctx.items.push_back(Item{.kind = Item::Kind::Segment, .text = std::move(text)});
  }

  // Runs the context's queue up to its next synthesis (one at a time keeps the order).
  void pump(const std::string& id) {
    auto it = contexts_.find(id);
    if (it == contexts_.end()) return;
    Context& ctx = it->second;
    while (!ctx.running && !ctx.items.empty()) {
      Item item = std::move(ctx.items.front());
      ctx.items.pop_front();
      if (item.kind == Item::Kind::Flush) {
        send_event(json{{"type", "flush_done"}, {"context_id", id}, {"flush_id", item.flush_id}});
      } else if (item.kind == Item::Kind::Done) {
        send_event(json{{"type", "done"}, {"context_id", id}, {"segments", ctx.segments}});
        contexts_.erase(it);
        return;
      } else {
        ctx.pending_bytes -= item.text.size();
        if (!submit(id, ctx, std::move(item.text))) return;  // the context failed and is gone
      }
    }
  }

  // False when the scheduler refused the job (the context is then failed and erased).
  bool submit(const std::string& id, Context& ctx, std::string text) {
    SynthesisJob job;
    job.request = ctx.base;
    job.request.text = std::move(text);
    job.cancelled = ctx.cancel;
    job.start_by = ctx.playback->runs_dry();
    auto self = shared_from_this();
    const std::uint64_t gen = ctx.gen;
    const std::int64_t segment = ctx.segments++;
    job.on_chunk = [self, id, gen, segment, playback = ctx.playback](const AudioChunk& c) {
      playback->add(c);
      std::string frame = ws_audio_frame(id, c.samples);
      const std::size_t n = frame.size();
      if (self->queued_bytes_.fetch_add(n) + n > kMaxQueuedBytes) {
        self->queued_bytes_.fetch_sub(n);
        net::post(self->ws_.get_executor(), [self] { self->too_slow(); });
        return false;
      }
      json event{{"type", "chunk"},
                 {"context_id", id},
                 {"segment", segment},
                 {"index", c.index},
                 {"samples", c.samples.size()},
                 {"sample_rate", c.sample_rate_hz},
                 {"last", c.is_last}};
      net::post(self->ws_.get_executor(), [self, gen, n, e = event.dump(), f = std::move(frame),
                                           at = std::chrono::steady_clock::now()]() mutable {
        self->deliver(gen, n, std::move(e), std::move(f), at);
      });
      return true;
    };
    job.on_done = [self, id, gen](SynthesisResult result, const std::exception_ptr& error) {
      net::post(self->ws_.get_executor(), [self, id, gen, cancelled = result.cancelled, error] {
        self->segment_done(id, gen, cancelled, error);
      });
    };
    ctx.running = true;
    switch (state_.scheduler.submit(std::move(job))) {
      case Admission::Accepted:
        return true;
      case Admission::QueueFull:
        fail_context(id, 429,
                     fmt::format("server queue full ({} requests); retry the context later",
                                 state_.config.max_queue));
        return false;
      case Admission::ShuttingDown:
        fail_context(id, 503, "server is shutting down");
        return false;
    }
    return false;
  }

  void deliver(std::uint64_t gen, std::size_t n, std::string event, std::string frame,
               std::chrono::steady_clock::time_point produced) {
    if (closed_ || !live(gen)) {
      queued_bytes_.fetch_sub(n);
      return;
    }
    enqueue(false, std::move(event), 0);
    enqueue(true, std::move(frame), n, produced);
  }

  bool live(std::uint64_t gen) const {
    for (const auto& [id, ctx] : contexts_) {
      if (ctx.gen == gen) return true;
    }
    return false;
  }

  void segment_done(const std::string& id, std::uint64_t gen, bool cancelled,
                    const std::exception_ptr& error) {
    auto it = contexts_.find(id);
    if (it == contexts_.end() || it->second.gen != gen) return;  // cancelled: already gone
    it->second.running = false;
    if (error) {
      int status = 500;
      std::string message;
      try {
        std::rethrow_exception(error);
      } catch (const InvalidArgument& e) {
        status = 400;
        message = e.what();
      } catch (const std::exception& e) {
        message = e.what();
      }
      return fail_context(id, status, message);
    }
    if (cancelled) return fail_context(id, 503, "synthesis cancelled (shutdown or slow client)");
    pump(id);
  }

  // ---- cancellation and errors ----
  void cancel_context(const std::string& id) {
    auto it = contexts_.find(id);
    if (it == contexts_.end()) {
      return send_event(json{{"type", "done"}, {"context_id", id}, {"cancelled", true}});
    }
    it->second.cancel->store(true);  // the running synthesis stops at its next chunk
    contexts_.erase(it);             // pending segments dropped; late chunks fail live()
    metrics_.ws_cancels_total.fetch_add(1);
    send_event(json{{"type", "done"}, {"context_id", id}, {"cancelled", true}});
  }

  void fail_context(const std::string& id, int status, const std::string& message) {
    auto it = contexts_.find(id);
    if (it != contexts_.end()) {
      it->second.cancel->store(true);
      contexts_.erase(it);
    }
    send_error(id, status, message);
  }

  void too_slow() {
    if (closed_) return;
    metrics_.slow_clients_total.fetch_add(1);
    send_error("", 503, "client reads too slowly; closing");
    on_closed();
  }

  // Shutdown: contexts still open end with error 503 (their running synthesis was finished or
  // cancelled by the scheduler before this runs), queued audio and events are written, then the
  // close frame 1001 goes out (write_next).
  void go_away() {
    going_away_ = true;
    if (!accepted_ || closed_ || close_started_) return;  // on_accept calls again
    for (auto& [id, ctx] : contexts_) {
      ctx.cancel->store(true);
      send_error(id, 503, "server is shutting down");
    }
    contexts_.clear();
    if (!writing_) write_next();
  }

  void start_close() {
    close_started_ = true;
    writing_ = true;  // the close frame is a write: nothing may follow it
    websocket::stream_base::timeout t{};
    t.handshake_timeout = kGoAwayCloseTimeout;  // bounds the wait for the client's close frame
    t.idle_timeout = state_.config.stream_idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.async_close(websocket::close_code::going_away,
                    beast::bind_front_handler(&WsSession::on_close_sent, shared_from_this()));
  }

  void on_close_sent(beast::error_code /*ec*/) {
    writing_ = false;
    on_closed();
  }

  void send_error(const std::string& id, int status, const std::string& message) {
    metrics_.ws_errors_total.fetch_add(1);
    json e{{"type", "error"}, {"status", status}, {"message", message}};
    if (!id.empty()) e["context_id"] = id;
    send_event(e);
  }

  void send_event(const json& event) { enqueue(false, event.dump(), 0); }

  // ---- writing: one write in flight, FIFO ----
  struct Out {
    bool binary = false;
    std::string data;
    std::size_t accounted = 0;  // bytes counted in queued_bytes_
    // When the engine made this audio (chatterd_chunk_delivery_seconds); unset: not audio.
    std::chrono::steady_clock::time_point produced{};
  };

  void enqueue(bool binary, std::string data, std::size_t accounted,
               std::chrono::steady_clock::time_point produced = {}) {
    if (closed_ || close_started_) {
      queued_bytes_.fetch_sub(accounted);
      return;
    }
    out_.push_back(Out{binary, std::move(data), accounted, produced});
    if (!writing_) write_next();
  }

  void write_next() {
    if (closed_) {
      for (const Out& o : out_) queued_bytes_.fetch_sub(o.accounted);
      out_.clear();
    }
    if (out_.empty()) {
      writing_ = false;
      if (going_away_ && !closed_ && !close_started_) start_close();
      return;
    }
    writing_ = true;
    ws_.binary(out_.front().binary);
    ws_.async_write(net::buffer(out_.front().data),
                    beast::bind_front_handler(&WsSession::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t /*bytes*/) {
    queued_bytes_.fetch_sub(out_.front().accounted);
    if (!ec && out_.front().produced != std::chrono::steady_clock::time_point{}) {
      metrics_.record_chunk_delivery(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - out_.front().produced)
              .count());
    }
    out_.pop_front();
    if (ec) {
      writing_ = false;
      return on_closed();
    }
    write_next();
  }

  // The socket is gone (or being cut off): stop every context's synthesis, drop the queue.
  void on_closed() {
    if (closed_) return;
    closed_ = true;
    release_slot();  // now, not when the last posted chunk lets go of the session
    ticket_.release();
    if (registry_id_) registry_.remove(*std::exchange(registry_id_, std::nullopt));
    for (auto& [id, ctx] : contexts_) ctx.cancel->store(true);
    contexts_.clear();
    if (!writing_) {
      for (const Out& o : out_) queued_bytes_.fetch_sub(o.accounted);
      out_.clear();
    }
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  void release_slot() {
    if (!slot_released_.exchange(true)) metrics_.active_streams.fetch_sub(1);
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::atomic<bool> slot_released_{false};
  ServerState& state_;
  Metrics& metrics_;
  SessionRegistry& registry_;
  ConnectionTicket ticket_;  // strand-only (and the destructor)
  std::optional<SessionRegistry::Id> registry_id_;
  beast::flat_buffer in_;
  std::map<std::string, Context> contexts_;
  std::uint64_t next_gen_ = 0;
  std::deque<Out> out_;
  bool writing_ = false;
  bool closed_ = false;
  bool accepted_ = false;       // the handshake is done: frames may be written
  bool going_away_ = false;     // shutdown: close once out_ is written
  bool close_started_ = false;  // the close frame is on its way; nothing more may be written
  std::atomic<std::size_t> queued_bytes_{0};
};

}  // namespace

std::string ws_audio_frame(const std::string& context_id, std::span<const float> samples) {
  std::string frame;
  frame.reserve(1 + context_id.size() + samples.size() * 2);
  frame += static_cast<char>(static_cast<unsigned char>(context_id.size()));
  frame += context_id;
  append_pcm16(frame, samples);
  return frame;
}

void start_ws_session(beast::tcp_stream&& stream, http::request<http::string_body> req,
                      ServerState& state, ConnectionTicket ticket) {
  std::make_shared<WsSession>(std::move(stream), state, std::move(ticket))->run(std::move(req));
}

}  // namespace chatterd::serving
