// 2-D convolution in f32 through oneDNN (built when EMBER_WITH_ONEDNN is defined), with the contract of
// kernels/cpu/conv.h: NCHW contiguous buffers, the same ConvGeometry, outputs overwritten. The im2col
// kernels stay the reference (and serve f64 and bf16); engine/ops_conv.cpp picks this path for f32.
//
// Each pass is planned once per (geometry, bias or not, thread count): oneDNN's primitive descriptor, the
// primitive, and, where the primitive prefers a blocked layout (nChw16c, OIhw16i16o, ...; from 16 input
// channels up), the reorders from and to our NCHW buffers. The plans live in a process-wide cache behind
// one mutex, which also serialises execution: the blocked copies go to staging buffers shared by all plans.
//
// Threads: oneDNN runs on OpenMP (libgomp); each call sets OpenMP's thread count to cpu_threads()
// (EMBER_NUM_THREADS) first and, unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set, ends the threads after,
// so they do not spin while our std::thread kernels run. oneDNN's reductions (the filter and bias gradients
// over the batch) run in an order fixed by the shape and the thread count, so a run repeats bit for bit on
// the same machine (tests/cpu/test_conv_onednn.cpp checks it).
#pragma once
#include <string>

#include "kernels/cpu/conv.h"

namespace ember::kernels::cpu::onednn {

// bf16: the pass reads bf16 copies of its inputs (x, w, dy; made by the reorders into oneDNN's layouts) and
// accumulates and writes f32: the CPU's --precision bf16, on AMX or AVX-512 bf16 where the CPU has them
// (ask bf16_implementation() first).
// y [N, O, out_h, out_w] from x [N, C, H, W], w [O, C, kh, kw], bias [O] or null.
void conv2d_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y,
                    bool bf16 = false);
// dx [N, C, H, W] from dy and w.
void conv2d_backward_data(const ConvGeometry& g, const float* dy, const float* w, float* dx, bool bf16 = false);
// dw [O, C, kh, kw] and dbias [O] (either may be null to skip it) from x and dy.
void conv2d_backward_filter(const ConvGeometry& g, const float* x, const float* dy, float* dw, float* dbias,
                            bool bf16 = false);

// oneDNN's bf16 convolution implementation on this CPU (e.g. "brgconv:avx512_core_amx_bf16"), or "" when it
// has none faster than its reference loops.
std::string bf16_implementation();

// oneDNN's name for the implementation a pass runs ("jit:avx512_core", "gemm:jit", ...), for benchmarks.
enum class Pass { forward, backward_data, backward_filter };
std::string implementation_name(const ConvGeometry& g, Pass pass);

}  // namespace ember::kernels::cpu::onednn
