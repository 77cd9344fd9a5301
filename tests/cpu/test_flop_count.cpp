// FlopCounter (engine/flop_count.h): 2 FLOPs per multiply-add of the convolutions, matrix products and fused
// attention run while it is alive, on its thread; nested counters.
#include "engine/flop_count.h"
#include "engine/ops.h"
#include "tests/testing.h"

using namespace ember;

TEST_CASE("FlopCounter counts convolutions, matrix products, linear layers and attention", "[flops]") {
  const Tensor x = testing::random_tensor({2, 3, 8, 6}, 1, DType::f32);
  const Tensor w = testing::random_tensor({4, 3, 3, 3}, 2, DType::f32);
  FlopCounter count;
  Conv2dParams strided;
  strided.stride_h = strided.stride_w = 2, strided.pad_h = strided.pad_w = 1;
  conv2d(x, w, Tensor(), strided);  // out 2 x 4 x 4 x 3, 27 multiply-adds each
  CHECK(count.flops() == 2 * (2 * 4 * 4 * 3) * 27);

  FlopCounter inner;
  matmul(testing::random_tensor({5, 2, 3}, 3, DType::f32), testing::random_tensor({3, 7}, 4, DType::f32));
  CHECK(inner.flops() == 2 * 5 * 2 * 3 * 7);  // broadcast over the batch of 5
  linear(testing::random_tensor({2, 3, 6}, 5, DType::f32), testing::random_tensor({9, 6}, 6, DType::f32));
  CHECK(inner.flops() == 2 * 5 * 2 * 3 * 7 + 2 * 6 * 6 * 9);
  CHECK(count.flops() == 2 * (2 * 4 * 4 * 3) * 27 + inner.flops());  // the outer counter sees the inner's ops

  FlopCounter attention;
  const Tensor q = testing::random_tensor({2, 3, 5, 4}, 7, DType::f32);
  scaled_dot_product_attention(q, q, q, 0.5);
  CHECK(attention.flops() == 2 * (2 * 3) * (5 * 5 * 4 + 5 * 5 * 4));  // Q K^T and P V per head
  add(q, q);                                                          // elementwise ops are not counted
  CHECK(attention.flops() == 2 * (2 * 3) * (5 * 5 * 4 + 5 * 5 * 4));
}

TEST_CASE("FlopCounter counts only while it is alive", "[flops]") {
  const Tensor a = testing::random_tensor({4, 4}, 8, DType::f32);
  matmul(a, a);
  int64_t seen = 0;
  {
    FlopCounter count;
    matmul(a, a);
    seen = count.flops();
  }
  CHECK(seen == 2 * 4 * 4 * 4);
  FlopCounter later;
  CHECK(later.flops() == 0);
}
