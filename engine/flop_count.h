// Counting a model's arithmetic: while a FlopCounter is alive, the convolutions, matrix products and fused
// attention run on this thread add their floating-point operations to it (2 per multiply-add, the convention of
// PyTorch's FlopCounterMode and of papers' "FLOPs"; elementwise ops, norms and pooling are not counted: they are a
// few percent of a CNN's or a ViT's arithmetic). Run a forward pass under it to get a model's forward FLOPs:
//
//   FlopCounter count;
//   model.forward(x);
//   count.flops();   // per batch; divide by the batch size for FLOPs per image
//
// Counters nest: an inner one counts only what runs while it is alive, and its operations also count for the outer.
#pragma once
#include <cstdint>

namespace ember {

class FlopCounter {
 public:
  FlopCounter();
  ~FlopCounter();
  FlopCounter(const FlopCounter&) = delete;
  FlopCounter& operator=(const FlopCounter&) = delete;
  int64_t flops() const { return flops_; }

 private:
  friend void count_flops(int64_t flops);
  FlopCounter* outer_;
  int64_t flops_ = 0;
};

// Called by the ops: adds to every counter alive on this thread (nothing when none is).
void count_flops(int64_t flops);

}  // namespace ember
