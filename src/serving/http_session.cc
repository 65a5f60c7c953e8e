#include "serving/http_session.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "chatterd/core/error.h"
#include "pipeline/voice_store.h"
#include "serving/admin_endpoints.h"
#include "serving/api_request.h"
#include "serving/audio_encoding.h"
#include "serving/status_json.h"
#include "serving/ws_session.h"

namespace chatterd::serving {
namespace {

// A streamed client that falls this far behind is cut off (about 5.5 min of 24 kHz PCM16).
constexpr std::size_t kMaxQueuedStreamBytes = 16u << 20;

using StringResponse = http::response<http::string_body>;

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

std::string error_json(const std::string& message, int status) {
  return nlohmann::json{{"error", {{"message", message}, {"code", status}}}}.dump() + "\n";
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ServerState& state, ConnectionTicket ticket)
      : stream_(std::move(socket)), state_(state), ticket_(std::move(ticket)) {}

  void start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::do_read, shared_from_this()));
  }

 private:
  // ---- reading and routing ----
  void do_read() {
    parser_.emplace();
    // Checked per path once the header is in (on_header); until then the larger bound.
    parser_->body_limit(std::max(state_.config.max_body_bytes, state_.config.max_upload_bytes));
    stream_.expires_after(state_.config.request_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  // The body limit depends on the path: voice uploads carry audio.
  void on_header(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec == http::error::body_limit) return refuse_body(false);
    if (ec) return do_close();
    const auto target = parser_->get().target();
    const bool upload = path_of(std::string_view(target.data(), target.size())) == "/v1/voices";
    const std::size_t limit =
        upload ? state_.config.max_upload_bytes : state_.config.max_body_bytes;
    if (const auto length = parser_->content_length(); length && *length > limit) {
      return refuse_body(upload);
    }
    parser_->body_limit(limit);  // chunked bodies are checked as they arrive
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  // 413 and close: the unread body cannot be skipped cheaply.
  void refuse_body(bool upload) {
    begin_request(false, 11);
    send_error(http::status::payload_too_large,
               fmt::format("request body exceeds {} bytes",
                           upload ? state_.config.max_upload_bytes : state_.config.max_body_bytes),
               false);
  }

  void on_read(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec == http::error::body_limit) {
      const auto target = parser_->get().target();
      return refuse_body(path_of(std::string_view(target.data(), target.size())) == "/v1/voices");
    }
    if (ec) return do_close();  // end of stream, timeout, reset, malformed HTTP
    http::request<http::string_body> req = parser_->release();
    begin_request(req.keep_alive(), req.version());
    try {
      route(req);
    } catch (const std::exception& e) {  // handlers should not throw; one net for strays
      send_error(http::status::internal_server_error, e.what(), keep_alive_);
    }
  }

  void route(http::request<http::string_body>& req) {
    const std::string_view target(req.target().data(), req.target().size());
    const std::string_view path = path_of(target);
    const bool is_get = req.method() == http::verb::get;
    const bool is_post = req.method() == http::verb::post;
    if (state_.config.api_key && path != "/health") {
      const auto auth = req[http::field::authorization];
      if (!bearer_matches(std::string_view(auth.data(), auth.size()), *state_.config.api_key)) {
        return send_error(http::status::unauthorized, "missing or wrong API key", keep_alive_);
      }
    }
    if (path == "/health") {
      if (!is_get) return send_method_not_allowed("GET");
      const nlohmann::json body{{"status", state_.shutting_down.load() ? "shutting_down" : "ok"},
                                {"model", state_.engine_info.name},
                                {"sample_rate", state_.engine_info.sample_rate_hz}};
      return send_text(http::status::ok, "application/json", body.dump() + "\n");
    }
    if (path == "/metrics") {
      if (!is_get) return send_method_not_allowed("GET");
      return send_text(http::status::ok, "text/plain; version=0.0.4",
                       state_.metrics.render(state_.scheduler.engine_memory()));
    }
    if (path == "/v1/stream") {
      if (!is_get || !beast::websocket::is_upgrade(req)) {
        return send_error(http::status::upgrade_required,
                          "/v1/stream is a WebSocket endpoint: GET with Upgrade: websocket",
                          keep_alive_);
      }
      if (state_.shutting_down.load()) {
        return send_error(http::status::service_unavailable, "server is shutting down", false);
      }
      if (!state_.try_open_stream()) {
        return send_error(http::status::too_many_requests,
                          fmt::format("{} streams open; retry later", state_.config.max_streams),
                          false, /*retry_after=*/true);
      }
      end_request(101);
      // This session ends; the WebSocket owns the connection (and its ticket) from here.
      return start_ws_session(std::move(stream_), std::move(req), state_, std::move(ticket_));
    }
    if (path == "/v1/voices") {
      if (is_get) return send_text(http::status::ok, "application/json", voice_list_json(state_));
      if (!is_post) return send_method_not_allowed("GET, POST");
      return upload_voice(target, req.body());
    }
    if (path == "/optimization-status") {
      if (!is_get) return send_method_not_allowed("GET");
      return send_text(http::status::ok, "application/json",
                       optimization_status_json(state_) + "\n");
    }
    if (path == "/configure-streaming") {
      if (!is_post) return send_method_not_allowed("POST");
      const auto answer = configure_streaming(state_, req.body());
      if (const auto* e = std::get_if<ApiError>(&answer)) {
        return send_error(static_cast<http::status>(e->status), e->message, keep_alive_);
      }
      return send_text(http::status::ok, "application/json", std::get<std::string>(answer));
    }
    if (path == "/v1/audio/speech" || path == "/synthesize") {
      if (!is_post) return send_method_not_allowed("POST");
      const RequestLimits limits = state_.limits();
      const EngineInfo engine = state_.engine_snapshot();
      auto call = path == "/synthesize" ? parse_synthesize(req.body(), engine, limits)
                                        : parse_openai_speech(req.body(), engine, limits);
      if (const auto* e = std::get_if<ApiError>(&call)) {
        return send_error(static_cast<http::status>(e->status), e->message, keep_alive_);
      }
      return submit(std::move(std::get<SpeechCall>(call)));
    }
    send_error(http::status::not_found, fmt::format("no such path: {}", path), keep_alive_);
  }

  // ---- voices ----
  // POST /v1/voices?name=NAME, body: the clip's bytes (any format the decoder reads).
  void upload_voice(std::string_view target, std::string& body) {
    if (!state_.voices.can_clone()) {
      return send_error(http::status::bad_request, state_.voices.why_not(), keep_alive_);
    }
    const std::optional<std::string> name = query_param(target, "name");
    if (!name || name->empty()) {
      return send_error(http::status::bad_request,
                        "name the voice: POST /v1/voices?name=NAME with the clip as the body",
                        keep_alive_);
    }
    try {
      check_voice_name(*name);
    } catch (const std::exception& e) {
      return send_error(http::status::bad_request, e.what(), keep_alive_);
    }
    if (body.empty()) {
      return send_error(http::status::bad_request, "the body is empty: send the audio clip",
                        keep_alive_);
    }
    if (state_.shutting_down.load()) {
      return send_error(http::status::service_unavailable, "server is shutting down", false);
    }
    auto clip = std::make_shared<std::string>(std::move(body));
    auto added = std::make_shared<VoiceAdded>();
    SynthesisJob job;
    job.cancelled = std::make_shared<std::atomic<bool>>(false);
    job.task = [&voices = state_.voices, clip, added, n = *name] {
      *added = voices.add(n, std::as_bytes(std::span(clip->data(), clip->size())));
    };
    auto self = shared_from_this();
    job.on_done = [self, added](SynthesisResult, const std::exception_ptr& error) {
      net::post(self->stream_.get_executor(), [self, added, error] {
        if (error) return self->send_exception(error);
        const nlohmann::json j{{"name", added->name},
                               {"family", added->family},
                               {"key", added->key},
                               {"cache_hit", added->cache_hit},
                               {"build_seconds", added->build_seconds}};
        self->send_text(http::status::created, "application/json", j.dump() + "\n");
      });
    };
    admit(std::move(job));
  }

  void send_exception(const std::exception_ptr& error) {
    try {
      std::rethrow_exception(error);
    } catch (const InvalidArgument& e) {
      send_error(http::status::bad_request, e.what(), keep_alive_);
    } catch (const Unsupported& e) {
      send_error(http::status::bad_request, e.what(), keep_alive_);
    } catch (const std::exception& e) {
      send_error(http::status::internal_server_error, e.what(), keep_alive_);
    }
  }

  // Queues `job`, answering 429/503 when the scheduler refuses it.
  void admit(SynthesisJob job) {
    switch (state_.scheduler.submit(std::move(job))) {
      case Admission::Accepted:
        return;
      case Admission::QueueFull:
        return send_error(
            http::status::too_many_requests,
            fmt::format("queue full ({} requests); retry later", state_.config.max_queue),
            keep_alive_, /*retry_after=*/true);
      case Admission::ShuttingDown:
        return send_error(http::status::service_unavailable, "server is shutting down", false);
    }
  }

  // ---- synthesis ----
  void submit(SpeechCall call) {
    if (state_.shutting_down.load()) {
      return send_error(http::status::service_unavailable, "server is shutting down", false);
    }
    format_ = call.format;
    streaming_ = call.stream;
    // A format that cannot carry the engine's rate is the request's fault: refuse it now.
    if (const auto codec = codec_of(format_)) {
      const std::string problem = codec_rate_problem(*codec, state_.engine_info.sample_rate_hz);
      if (!problem.empty()) return send_error(http::status::bad_request, problem, keep_alive_);
    }
    writer_.reset();
    if (streaming_) {
      writer_ = std::make_shared<StreamedAudioWriter>(format_, state_.engine_info.sample_rate_hz);
    }
    if (streaming_) {
      if (!state_.try_open_stream()) {
        return send_error(http::status::too_many_requests,
                          fmt::format("{} streams open; retry later", state_.config.max_streams),
                          keep_alive_, /*retry_after=*/true);
      }
      stream_slot_ = true;
    }
    cancelled_ = std::make_shared<std::atomic<bool>>(false);
    queued_bytes_.store(0);
    SynthesisJob job;
    job.request = std::move(call.request);
    job.priority = call.priority;
    job.cancelled = cancelled_;
    auto self = shared_from_this();
    if (streaming_) {
      job.on_chunk = [self, writer = writer_](const AudioChunk& c) {
        std::string bytes = writer->chunk(c.samples);
        if (bytes.empty()) return true;
        if (self->queued_bytes_.fetch_add(bytes.size()) + bytes.size() > kMaxQueuedStreamBytes) {
          net::post(self->stream_.get_executor(), [self] { self->too_slow(); });
          return false;
        }
        net::post(self->stream_.get_executor(),
                  [self, b = std::move(bytes), at = std::chrono::steady_clock::now()]() mutable {
                    self->enqueue_chunk(std::move(b), at);
                  });
        return true;
      };
    }
    // The body (or a stream's tail) is encoded here, on the worker: a long MP3 or FLAC body would
    // otherwise hold the connection's I/O thread.
    job.on_done = [self, writer = writer_, format = format_, streaming = streaming_](
                      SynthesisResult result, std::exception_ptr error) {
      std::string bytes;
      if (!error && !result.cancelled) {
        try {
          bytes = streaming ? writer->finish()
                            : encode_body(format, result.sample_rate_hz, result.samples);
        } catch (const std::exception&) {
          error = std::current_exception();
        }
      }
      net::post(self->stream_.get_executor(),
                [self, r = std::move(result), error, b = std::move(bytes)]() mutable {
                  self->on_synthesis_done(std::move(r), error, std::move(b));
                });
    };
    switch (state_.scheduler.submit(std::move(job))) {
      case Admission::Accepted:
        watch_client();
        return;
      case Admission::QueueFull:
        return send_error(
            http::status::too_many_requests,
            fmt::format("queue full ({} requests); retry later", state_.config.max_queue),
            keep_alive_, /*retry_after=*/true);
      case Admission::ShuttingDown:
        return send_error(http::status::service_unavailable, "server is shutting down", false);
    }
  }

  // A non-streamed synthesis writes nothing until it ends, and a streamed one notices a failed
  // write only a chunk or two after the client left: a read on the otherwise idle socket notices
  // at once (EOF/reset) and cancels the job. Bytes that do arrive (a pipelined request) are kept
  // in buffer_ for the next read. A streamed response's writes go on beside this read (Beast
  // allows one of each); its write timeouts do not touch the read's (no expiry).
  void watch_client() {
    watching_ = true;
    stream_.expires_never();
    stream_.async_read_some(buffer_.prepare(4096),
                            beast::bind_front_handler(&Session::on_watch, shared_from_this()));
  }

  void on_watch(beast::error_code ec, std::size_t bytes) {
    watching_ = false;
    buffer_.commit(bytes);
    if (read_after_watch_) {  // the response is out (read_next): on to the next request
      read_after_watch_ = false;
      if (ec && ec != net::error::operation_aborted) return do_close();
      return do_read();
    }
    if (streaming_) return on_stream_watch(ec);
    if (ec == net::error::operation_aborted || (!ec && done_)) {
      // Cancelled by on_synthesis_done (or it arrived meanwhile): now answer.
      if (done_) return finish_synthesis();
      return;
    }
    if (ec) {  // the client is gone: stop the job, end the request now
      client_gone_ = true;
      cancelled_->store(true);
      end_request(0);
      do_close();
      return;
    }
    if (done_) return finish_synthesis();
    if (buffer_.size() < 64 * 1024) watch_client();  // keep watching; a flood stops the watch
  }

  // The watch beside a streamed response: it runs until the response is out (read_next ends it).
  void on_stream_watch(beast::error_code ec) {
    if (ec == net::error::operation_aborted) return;  // the connection is being closed
    if (ec) {  // the client left: stop the synthesis now, not at the next failed write
      if (request_open_ && !stream_failed_) fail_stream();
      return;
    }
    if (buffer_.size() < 64 * 1024) watch_client();
  }

  void on_synthesis_done(SynthesisResult result, const std::exception_ptr& error,
                         std::string bytes) {
    done_ = true;
    done_result_ = std::move(result);
    done_error_ = error;
    done_bytes_ = std::move(bytes);
    // Non-streamed: one read at a time, so end the watch first and on_watch continues. A stream
    // keeps its watch (cancelling it would cancel a chunk being written too).
    if (watching_ && !streaming_) {
      beast::error_code ec;
      stream_.socket().cancel(ec);
      return;
    }
    finish_synthesis();
  }

  void finish_synthesis() {
    done_ = false;
    SynthesisResult result = std::move(done_result_);
    const std::exception_ptr error = std::move(done_error_);
    std::string bytes = std::move(done_bytes_);
    writer_.reset();
    if (client_gone_) return;  // on_watch already ended the request
    int status = 200;
    std::string message;
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const InvalidArgument& e) {
        status = 400;
        message = e.what();
      } catch (const std::exception& e) {
        status = 500;
        message = e.what();
      }
    } else if (result.cancelled && !stream_failed_) {
      status = 503;
      message = "synthesis cancelled (server shutting down or client too slow)";
    }
    if (!streaming_) {
      if (status != 200) return send_error(static_cast<http::status>(status), message, keep_alive_);
      return send_text(http::status::ok, content_type(format_), std::move(bytes));
    }
    if (stream_failed_) return;  // the write error already ended the request
    if (!header_sent_) {
      // Nothing was streamed: a plain answer (an error, or empty audio) is still possible.
      if (status != 200) return send_error(static_cast<http::status>(status), message, keep_alive_);
    }
    // The codec's tail, or a WAV header when no audio came.
    if (status == 200 && !bytes.empty()) enqueue_chunk(std::move(bytes));
    // A failure after audio went out cannot change the status: the chunked body just ends early
    // (no terminating chunk), which clients see as a truncated transfer.
    stream_status_ = status;
    stream_done_ = true;
    if (!writing_) write_next();
  }

  // ---- chunked streaming: one write in flight, FIFO ----
  // `produced`: when the engine made the chunk (for chatterd_chunk_delivery_seconds); unset for
  // bytes that are not audio.
  void enqueue_chunk(std::string bytes, std::chrono::steady_clock::time_point produced = {}) {
    if (stream_failed_) return;
    pending_.push_back(Pending{std::move(bytes), produced});
    if (!writing_) write_next();
  }

  void write_next() {
    writing_ = true;
    stream_.expires_after(state_.config.request_timeout);
    auto self = shared_from_this();
    if (!header_sent_) {
      header_sent_ = true;
      stream_res_.emplace(http::status::ok, version_);
      stream_res_->set(http::field::server, "chatterd");
      stream_res_->set(http::field::content_type, content_type(format_));
      stream_res_->keep_alive(keep_alive_);
      stream_res_->chunked(true);
      stream_sr_.emplace(*stream_res_);
      return http::async_write_header(
          stream_, *stream_sr_,
          beast::bind_front_handler(&Session::on_stream_write, self, std::size_t{0}));
    }
    if (!pending_.empty()) {
      const std::string& data = pending_.front().bytes;
      framed_ = fmt::format("{:x}\r\n", data.size());
      framed_ += data;
      framed_ += "\r\n";
      return net::async_write(
          stream_, net::buffer(framed_),
          beast::bind_front_handler(&Session::on_stream_write, self, data.size()));
    }
    if (stream_done_) {
      if (stream_status_ != 200) {  // truncate: see on_synthesis_done
        end_request(stream_status_);
        return do_close();
      }
      framed_ = "0\r\n\r\n";
      return net::async_write(stream_, net::buffer(framed_),
                              beast::bind_front_handler(&Session::on_stream_end, self));
    }
    writing_ = false;
  }

  void on_stream_write(std::size_t payload, beast::error_code ec, std::size_t /*bytes*/) {
    if (stream_failed_) return;  // too_slow() ended the stream while this write was out
    if (payload > 0) {
      if (!ec && pending_.front().produced != std::chrono::steady_clock::time_point{}) {
        state_.metrics.record_chunk_delivery(
            std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                          pending_.front().produced)
                .count());
      }
      pending_.pop_front();
      queued_bytes_.fetch_sub(payload);
    }
    if (ec) return fail_stream();
    write_next();
  }

  void on_stream_end(beast::error_code ec, std::size_t /*bytes*/) {
    writing_ = false;
    end_request(ec ? 0 : 200);
    if (ec || !keep_alive_) return do_close();
    read_next();
  }

  // The client fell kMaxQueuedStreamBytes behind: cut it off now rather than drain what is
  // queued at its pace (each write is also bounded by `timeout`).
  void too_slow() {
    if (!streaming_ || stream_failed_ || !request_open_) return;
    state_.metrics.slow_clients_total.fetch_add(1);
    fail_stream();
  }

  // The client is gone: stop the synthesis, drop what is queued, end the request once.
  void fail_stream() {
    writing_ = false;
    stream_failed_ = true;
    cancelled_->store(true);
    pending_.clear();
    end_request(0);
    do_close();
  }

  // ---- plain responses ----
  void send_method_not_allowed(const char* allow) {
    StringResponse res{http::status::method_not_allowed, version_};
    res.set(http::field::allow, allow);
    set_error_body(res, fmt::format("method not allowed; use {}", allow));
    send(std::move(res));
  }

  void send_error(http::status status, const std::string& message, bool keep_alive,
                  bool retry_after = false) {
    StringResponse res{status, version_};
    if (retry_after) {
      res.set(http::field::retry_after, std::to_string(state_.scheduler.retry_after_seconds()));
    }
    keep_alive_ = keep_alive;
    set_error_body(res, message);
    send(std::move(res));
  }

  void set_error_body(StringResponse& res, const std::string& message) {
    res.set(http::field::content_type, "application/json");
    res.body() = error_json(message, static_cast<int>(res.result_int()));
  }

  void send_text(http::status status, const char* type, std::string body) {
    StringResponse res{status, version_};
    res.set(http::field::content_type, type);
    res.body() = std::move(body);
    send(std::move(res));
  }

  void send(StringResponse res) {
    res.set(http::field::server, "chatterd");
    res.keep_alive(keep_alive_);
    res.prepare_payload();
    response_ = std::make_shared<StringResponse>(std::move(res));
    stream_.expires_after(state_.config.request_timeout);
    http::async_write(stream_, *response_,
                      beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t /*bytes*/) {
    const int status = response_->result_int();
    response_.reset();
    end_request(ec ? 0 : status);
    if (ec || !keep_alive_) return do_close();
    read_next();
  }

  // The next request, once a disconnect watch still out has ended (on_watch then reads). No
  // write is in flight here, so cancelling the socket's operations only ends the watch.
  void read_next() {
    if (!watching_) return do_read();
    read_after_watch_ = true;
    beast::error_code ec;
    stream_.socket().cancel(ec);
  }

  // ---- bookkeeping ----
  void begin_request(bool keep_alive, unsigned version) {
    keep_alive_ = keep_alive;
    version_ = version;
    request_open_ = true;
    header_sent_ = stream_done_ = stream_failed_ = writing_ = streaming_ = false;
    done_ = client_gone_ = false;
    stream_status_ = 200;
    state_.metrics.in_flight.fetch_add(1);
  }

  void end_request(int status) {
    if (!request_open_) return;
    request_open_ = false;
    if (stream_slot_) {
      stream_slot_ = false;
      state_.close_stream();
    }
    state_.metrics.count_response(status);
    state_.metrics.in_flight.fetch_sub(1);
  }

  void do_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.socket().close(ec);
    ticket_.release();  // now, not when a job still holding the session finishes
  }

  beast::tcp_stream stream_;
  ServerState& state_;
  ConnectionTicket ticket_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<StringResponse> response_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
  bool request_open_ = false;
  // The current synthesis (strand-only, except the atomics that on_chunk uses).
  AudioFormat format_ = AudioFormat::Wav;
  bool streaming_ = false;
  std::shared_ptr<StreamedAudioWriter> writer_;  // on_chunk and on_done use it on the worker
  std::shared_ptr<std::atomic<bool>> cancelled_;
  std::atomic<std::size_t> queued_bytes_{0};
  std::optional<http::response<http::empty_body>> stream_res_;
  std::optional<http::response_serializer<http::empty_body>> stream_sr_;
  struct Pending {
    std::string bytes;
    std::chrono::steady_clock::time_point produced;
  };
  std::deque<Pending> pending_;
  std::string framed_;
  bool header_sent_ = false;
  bool writing_ = false;
  bool stream_done_ = false;
  bool stream_failed_ = false;
  int stream_status_ = 200;
  bool stream_slot_ = false;  // holds one of max_streams
  // Non-streamed: the disconnect watch and the result waiting for it to end.
  bool watching_ = false;
  bool read_after_watch_ = false;  // read_next() is waiting for the watch to end
  bool done_ = false;
  bool client_gone_ = false;
  SynthesisResult done_result_;
  std::exception_ptr done_error_;
  std::string done_bytes_;  // the encoded body, or a stream's tail
};

}  // namespace

void start_http_session(tcp::socket socket, ServerState& state, ConnectionTicket ticket) {
  std::make_shared<Session>(std::move(socket), state, std::move(ticket))->start();
}

}  // namespace chatterd::serving
