#include "tools/perf_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "base/error.h"
#include "dist/data_parallel.h"

namespace ember::tools {

double all_reduce_ms(int64_t bytes, const Layout& layout, const LinkParams& links) {
  const int n = layout.gpus();
  if (n == 1) return 0.0;
  const double busbw =
      (layout.nodes > 1 ? std::min(links.intra_node_GBps, links.inter_node_GBps) : links.intra_node_GBps) * 1e9;
  const double latency = links.latency_us * 1e-6;
  double seconds = 2.0 * (n - 1) * latency + 2.0 * (n - 1) / n * bytes / busbw;
  if (layout.nodes > 1) {
    const double tree_steps = std::ceil(std::log2(layout.nodes)) + layout.gpus_per_node - 1;
    seconds = std::min(seconds, 2.0 * tree_steps * latency + 2.0 * bytes / busbw);
  }
  return seconds * 1e3;
}

StepPrediction predict_step(const std::vector<LayerGroup>& groups, const Layout& layout, const LinkParams& links,
                            double bucket_mb, double optimizer_ms, int64_t batch_per_gpu) {
  EMBER_CHECK(!groups.empty(), "predict_step: no layer groups");
  EMBER_CHECK(layout.nodes > 0 && layout.gpus_per_node > 0, "predict_step: layout ", layout.nodes, " nodes x ",
              layout.gpus_per_node, " GPUs");
  StepPrediction p;
  p.layout = layout;
  p.optimizer_ms = optimizer_ms;
  // Backward visits the groups last first; done_ms[g] = when group g's gradients are final.
  std::vector<double> done_ms(groups.size());
  for (size_t k = groups.size(); k-- > 0;) {
    p.forward_ms += groups[k].forward_ms;
    p.backward_ms += groups[k].backward_ms;
    done_ms[k] = p.backward_ms;
  }
  double single_gpu_ms = p.forward_ms + p.backward_ms + optimizer_ms;
  double comm_end = 0.0;
  if (layout.gpus() > 1) {
    std::vector<int64_t> bytes;
    for (const LayerGroup& g : groups) bytes.push_back(g.grad_bytes);
    // Same packing as DataParallel, with a group as the unit (its gradients are final together).
    for (const dist::Bucket& b : dist::plan_buckets(bytes, 1, static_cast<int64_t>(bucket_mb * 1024 * 1024))) {
      BucketTiming t;
      t.bytes = b.numel;
      t.ready_ms = done_ms[b.params.back()];  // the last group packed is the last backward reaches
      t.start_ms = std::max(t.ready_ms, comm_end);
      t.end_ms = t.start_ms + all_reduce_ms(t.bytes, layout, links);
      comm_end = t.end_ms;
      p.comm_ms += t.end_ms - t.start_ms;
      if (p.first_exposed_bucket < 0 && t.end_ms > p.backward_ms) {
        p.first_exposed_bucket = static_cast<int>(p.buckets.size());
        p.first_exposed_group = groups[b.params.back()].name;
      }
      p.buckets.push_back(t);
    }
  }
  p.exposed_ms = std::max(0.0, comm_end - p.backward_ms);
  p.step_ms = p.forward_ms + p.backward_ms + p.exposed_ms + optimizer_ms;
  p.it_per_s = 1e3 / p.step_ms;
  p.samples_per_s = p.it_per_s * batch_per_gpu * layout.gpus();
  p.efficiency = single_gpu_ms / p.step_ms;
  return p;
}

std::string format_predictions(const std::vector<StepPrediction>& predictions) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof(line), "%5s %5s %9s %9s %9s %9s %8s %10s %6s  %s\n", "nodes", "gpus", "step_ms", "comm_ms",
                "exposed", "compute", "it/s", "samples/s", "eff", "communication");
  out += line;
  for (const StepPrediction& p : predictions) {
    std::string where = p.layout.gpus() == 1 ? "none (one GPU)"
                        : p.first_exposed_bucket < 0
                            ? "hidden behind backward"
                            : "exposed from bucket " + std::to_string(p.first_exposed_bucket) + " of " +
                                  std::to_string(p.buckets.size()) + " (ready after " + p.first_exposed_group + ")";
    std::snprintf(line, sizeof(line), "%5d %5d %9.3f %9.3f %9.3f %9.3f %8.1f %10.0f %5.1f%%  %s\n", p.layout.nodes,
                  p.layout.gpus(), p.step_ms, p.comm_ms, p.exposed_ms, p.forward_ms + p.backward_ms + p.optimizer_ms,
                  p.it_per_s, p.samples_per_s, 100 * p.efficiency, where.c_str());
    out += line;
  }
  return out;
}

}  // namespace ember::tools
