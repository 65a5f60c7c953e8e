#include "backends/cuda/graph.h"

#include <cuda_runtime_api.h>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/stream.h"
#include "core/check.h"

namespace chatterd::cuda {

Graph::~Graph() {
  if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
  cudaGetLastError();
}

void Graph::reset() {
  if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
  exec_ = nullptr;
  retained_.clear();
  cudaGetLastError();
}

void Graph::begin_capture(const Stream& stream) {
  // Thread-local mode: other threads' CUDA calls (another worker's stream) stay legal.
  detail::check(cudaStreamBeginCapture(stream.handle(), cudaStreamCaptureModeThreadLocal),
                "cudaStreamBeginCapture");
}

void Graph::end_capture(const Stream& stream) {
  cudaGraph_t graph = nullptr;
  detail::check(cudaStreamEndCapture(stream.handle(), &graph), "cudaStreamEndCapture");
  if (exec_ != nullptr) {
    cudaGraphExecDestroy(exec_);
    exec_ = nullptr;
  }
  const cudaError_t status = cudaGraphInstantiate(&exec_, graph, 0);
  cudaGraphDestroy(graph);
  detail::check(status, "cudaGraphInstantiate");
}

void Graph::launch(const Stream& stream) const {
  CHATTERD_CHECK(exec_ != nullptr, Internal, "cuda graph launched before it was captured");
  detail::check(cudaGraphLaunch(exec_, stream.handle()), "cudaGraphLaunch");
}

}  // namespace chatterd::cuda
