#include "engine/nn/transformer.h"

#include <cmath>

#include "engine/nn/dropout.h"
#include "engine/ops.h"

namespace ember::nn {

namespace {

std::shared_ptr<Sequential> projection_with_dropout(int64_t inner, int64_t dim, double p, RandomStreams& streams) {
  auto seq = std::make_shared<Sequential>();
  seq->add(std::make_shared<Linear>(inner, dim, true, streams.init()));
  seq->add(std::make_shared<Dropout>(p, streams.next_dropout()));
  return seq;
}

}  // namespace

Attention::Attention(int64_t dim, int64_t heads_, int64_t dim_head, double dropout, RandomStreams& streams)
    : heads(heads_), scale(1.0 / std::sqrt(static_cast<double>(dim_head))) {
  const int64_t inner = heads * dim_head;
  to_qkv = register_module("to_qkv", std::make_shared<Linear>(dim, 3 * inner, false, streams.init()));
  to_out = register_module("to_out", projection_with_dropout(inner, dim, dropout, streams));
}

Tensor Attention::forward(const Tensor& x) {
  return to_out->forward(packed_self_attention(to_qkv->forward(x), heads, scale));
}

LocalitySelfAttention::LocalitySelfAttention(int64_t dim, int64_t heads_, int64_t dim_head, double dropout,
                                             RandomStreams& streams)
    : heads(heads_) {
  const int64_t inner = heads * dim_head;
  temperature =
      register_parameter("temperature", Tensor::scalar(std::log(1.0 / std::sqrt(static_cast<double>(dim_head)))));
  to_qkv = register_module("to_qkv", std::make_shared<Linear>(dim, 3 * inner, false, streams.init()));
  to_out = register_module("to_out", projection_with_dropout(inner, dim, dropout, streams));
}

Tensor LocalitySelfAttention::forward(const Tensor& x) {
  return to_out->forward(packed_self_attention(to_qkv->forward(x), heads, 0.0, temperature, true));
}

SimpleAttention::SimpleAttention(int64_t dim, int64_t heads_, int64_t dim_head, Generator& init)
    : heads(heads_), scale(1.0 / std::sqrt(static_cast<double>(dim_head))) {
  const int64_t inner = heads * dim_head;
  norm = register_module("norm", std::make_shared<LayerNorm>(dim));
  to_qkv = register_module("to_qkv", std::make_shared<Linear>(dim, 3 * inner, false, init));
  to_out = register_module("to_out", std::make_shared<Linear>(inner, dim, false, init));
}

Tensor SimpleAttention::forward(const Tensor& x) {
  return to_out->forward(packed_self_attention(to_qkv->forward(norm->forward(x)), heads, scale));
}

PreNorm::PreNorm(int64_t dim, std::shared_ptr<Module> fn_) {
  norm = register_module("norm", std::make_shared<LayerNorm>(dim));
  fn = register_module("fn", std::move(fn_));
}

Tensor PreNorm::forward(const Tensor& x) { return fn->forward(norm->forward(x)); }

Transformer::Transformer() { layers = register_module("layers", std::make_shared<ModuleList>()); }

void Transformer::add_block(std::shared_ptr<Module> attention, std::shared_ptr<Module> feed_forward) {
  auto block = std::make_shared<ModuleList>();
  block->add(std::move(attention));
  block->add(std::move(feed_forward));
  layers->add(block);
}

Tensor Transformer::forward(const Tensor& x_in) {
  Tensor x = x_in;
  for (const auto& entry : layers->children()) {
    const auto& block = static_cast<const ModuleList&>(*entry.second);
    x = add(block[0].forward(x), x);
    x = add(block[1].forward(x), x);
  }
  return x;
}

FeedForward::FeedForward(std::shared_ptr<Sequential> net_) { net = register_module("net", std::move(net_)); }

}  // namespace ember::nn
