#include "engine/flop_count.h"

namespace ember {

namespace {
thread_local FlopCounter* innermost = nullptr;
}

FlopCounter::FlopCounter() : outer_(innermost) { innermost = this; }
FlopCounter::~FlopCounter() { innermost = outer_; }

void count_flops(int64_t flops) {
  for (FlopCounter* c = innermost; c != nullptr; c = c->outer_) c->flops_ += flops;
}

}  // namespace ember
