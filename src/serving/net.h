#pragma once
// The one place that includes Asio/Beast. Boost 1.74's awaitable.hpp uses std::exchange without
// including <utility>, so it must come first (style.md 1.5).

#include <utility>
// clang-format off
// GCC 12 at -O3 flags inlined Asio internals with -Wnull-dereference (a false positive in
// scheduler.ipp); the suppression is scoped to these headers' lines.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#pragma GCC diagnostic pop
// clang-format on

namespace chatterd::serving {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
}  // namespace chatterd::serving
