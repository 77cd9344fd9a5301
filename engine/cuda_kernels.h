// What the ops' CUDA branches (EMBER_CUDA, engine/dispatch.h) call: the CUDA kernels, cuBLAS/cuDNN through
// engine/cuda/blas.h, the compute stream and typed device pointers. The one #ifdef EMBER_WITH_CUDA of the ops'
// includes; empty in a CPU-only build.
#pragma once
#ifdef EMBER_WITH_CUDA
#include "engine/cuda/blas.h"
#include "engine/cuda/context.h"
#include "engine/cuda/dispatch.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/batchnorm.h"
#include "kernels/cuda/bias_act.h"
#include "kernels/cuda/cross_entropy.h"
#include "kernels/cuda/dropout.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/indexing.h"
#include "kernels/cuda/layernorm.h"
#include "kernels/cuda/optim.h"
#include "kernels/cuda/pool.h"
#include "kernels/cuda/reduce.h"
#include "kernels/cuda/softmax.h"
#endif
