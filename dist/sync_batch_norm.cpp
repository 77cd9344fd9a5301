#include "dist/sync_batch_norm.h"

#include "engine/nn/batchnorm.h"

namespace ember::dist {
namespace {

int set_reduce(nn::Module& module, const BatchNormReduce& reduce) {  // depth first, the module itself first
  int count = 0;
  if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(&module)) {
    bn->reduce = reduce;
    ++count;
  }
  for (const auto& [name, child] : module.children()) count += set_reduce(*child, reduce);
  return count;
}

}  // namespace

int sync_batch_norm(nn::Module& model, Communicator& comm) {
  return set_reduce(model, [&comm](Tensor& t) { comm.all_reduce(t, ReduceOp::sum); });
}

}  // namespace ember::dist
