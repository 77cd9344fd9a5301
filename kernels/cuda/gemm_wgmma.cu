// gemm_bf16_wgmma (kernels/cuda/gemm.h): bf16 "NT" GEMM for Hopper with warpgroup MMA fed by TMA.
//
//   C[M, N] (f32) = alpha * A[M, K] * B[N, K]^T + beta * C,   A and B bf16 row-major (both K-major), f32 accumulate.
//
// Structure after pranjalssh/fast.cu, examples/matmul/matmul_4.cuh (warp-specialized wgmma + TMA, 128x256 tile, two
// consumers) with the raw-PTX mbarriers of its matmul_7.cuh; PTX strings checked against CUTLASS
// (cute/arch/mma_sm90_gmma.hpp SM90_64x256x16_F32BF16BF16_SS, copy_sm90_tma.hpp SM90_TMA_LOAD_2D,
// cutlass/arch/barrier.h ClusterBarrier) and the PTX ISA.
//
// One CTA of 384 threads per 128x256 tile of C:
//   warpgroup 0    producer: one thread issues two TMA loads per K step (A 128x64, B 256x64, 48 KiB) into a ring
//                  of 4 stages (192 KiB), 128-byte swizzled, each stage guarded by a `full` and an `empty` mbarrier;
//                  it gives most of its registers away (setmaxnreg.dec 24).
//   warpgroups 1-2 consumers: each owns 64 rows x 256 cols of C (128 f32 accumulators per thread, setmaxnreg.inc
//                  240) and runs 4 wgmma m64n256k16 per stage, keeping one stage's MMAs in flight while it hands the
//                  previous stage back to the producer.
// Tiles are visited in groups of 8 tile rows (kGroupM) so that the CTAs running together share A and B in L2.
// Only sm_90a has wgmma and setmaxnreg: kernels/CMakeLists.txt builds this file alone for CUDA_ARCHITECTURES 90a.
#include <cuda.h>          // CUtensorMap and its enums only: the driver entry point is fetched at run time
#include <cudaTypedefs.h>  // PFN_cuTensorMapEncodeTiled

#include "base/error.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/gemm.h"

#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#error "gemm_wgmma.cu needs the architecture-specific target sm_90a (wgmma, setmaxnreg): build it for 90a only"
#endif

namespace ember::kernels::cuda {
namespace {

constexpr int kTileM = 128, kTileN = 256;
constexpr int kTileK = 64;  // 64 bf16 = 128 B: one row of the 128-byte swizzle, the widest a TMA box may be
constexpr int kStages = 4;
constexpr int kConsumers = 2;                     // warpgroups of 128 threads, 64 rows of the tile each
constexpr int kThreads = 128 * (1 + kConsumers);  // + the producer warpgroup
constexpr int kGroupM = 8;
// setmaxnreg's regrouping of the 168 registers per thread that __launch_bounds__(384, 1) grants: the producer
// warpgroup keeps 24, each consumer warpgroup gets 240. It must fit the block's pool exactly or below, or
// setmaxnreg.inc waits forever.
constexpr int kProducerRegisters = 24, kConsumerRegisters = 240;
constexpr int kRegisterPool = 128 * (kProducerRegisters + kConsumers * kConsumerRegisters);
constexpr int kStageBytesA = kTileM * kTileK * 2;  // 16 KiB
constexpr int kStageBytesB = kTileN * kTileK * 2;  // 32 KiB
// The 128-byte swizzle pattern repeats every 1024 B (8 rows of 128 B); the wgmma descriptors below assume every
// tile starts on such a boundary (descriptor base offset 0), so the ring is aligned by hand: + 1 KiB of slack.
constexpr int kSwizzleAtomBytes = 1024;
constexpr int kSmemBytes = kStages * (kStageBytesA + kStageBytesB) + kSwizzleAtomBytes;  // 193 KiB of the 227
static_assert(kStageBytesA % kSwizzleAtomBytes == 0 && kStageBytesB % kSwizzleAtomBytes == 0,
              "every stage must start on a swizzle atom");

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// ---- mbarriers (PTX ISA 9.7.13.15; CUTLASS ClusterBarrier) -----------------------------------------------------
__device__ __forceinline__ void mbarrier_init(uint32_t bar, uint32_t arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(arrivals) : "memory");
}
// Makes the initialised barriers visible to the async proxy (TMA) and to the other threads after the __syncthreads.
__device__ __forceinline__ void fence_barrier_init() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
__device__ __forceinline__ void mbarrier_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// One arrival that also announces `bytes` of TMA traffic: the phase completes once they have all landed.
__device__ __forceinline__ void mbarrier_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
// Returns once the phase of parity `parity` has completed (a fresh barrier is in phase 0).
__device__ __forceinline__ void mbarrier_wait(uint32_t bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n"
        ".reg .pred complete;\n"
        "mbarrier.try_wait.parity.shared::cta.b64 complete, [%1], %2;\n"
        "selp.b32 %0, 1, 0, complete;\n"
        "}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}

// ---- TMA: a box of the tensor map at (c0 = column, c1 = row) into shared memory, completing on `bar` --------------
__device__ __forceinline__ void tma_load_2d(uint32_t dst, const CUtensorMap* map, uint32_t bar, int c0, int c1) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];\n" ::"r"(
          dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(bar), "r"(c0), "r"(c1)
      : "memory");
}

// ---- Warpgroup register budget (setmaxnreg; counts must be multiples of 8 in [24, 256]) ----------------------------
template <uint32_t kRegs>
__device__ __forceinline__ void warpgroup_release_registers() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}
template <uint32_t kRegs>
__device__ __forceinline__ void warpgroup_claim_registers() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}

// ---- wgmma ------------------------------------------------------------------------------------------------------
// Shared-memory matrix descriptor of a K-major bf16 tile written by TMA with the 128-byte swizzle: rows of 128 B,
// 8-row groups 1024 B apart (stride byte offset), leading byte offset unused by swizzled K-major layouts (1 by
// convention), swizzle mode 1 = 128 B in bits 62-63. Addresses and offsets are stored >> 4.
__device__ __forceinline__ uint64_t smem_descriptor(uint32_t addr) {
  uint64_t desc = (addr & 0x3FFFF) >> 4;
  desc |= uint64_t{16 >> 4} << 16;
  desc |= uint64_t{1024 >> 4} << 32;
  desc |= uint64_t{1} << 62;
  return desc;
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}
// Pins the accumulators in place around the asynchronous MMAs: the compiler may not move their reads or writes
// across this point (CUTLASS warpgroup_fence_operand).
__device__ __forceinline__ void fence_accumulators(float (&d)[128]) {
#pragma unroll
  for (int i = 0; i < 128; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

// d[64 x 256] += A[64 x 16] * B[256 x 16]^T, both from shared memory, both K-major (no transposes), scale-d = 1.
__device__ __forceinline__ void wgmma_m64n256k16(float (&d)[128], uint64_t desc_a, uint64_t desc_b) {
  asm volatile(
      "{\n"
      ".reg .pred scale_d;\n"
      "setp.ne.b32 scale_d, %130, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {"
      "%0, %1, %2, %3, %4, %5, %6, %7,"
      "%8, %9, %10, %11, %12, %13, %14, %15,"
      "%16, %17, %18, %19, %20, %21, %22, %23,"
      "%24, %25, %26, %27, %28, %29, %30, %31,"
      "%32, %33, %34, %35, %36, %37, %38, %39,"
      "%40, %41, %42, %43, %44, %45, %46, %47,"
      "%48, %49, %50, %51, %52, %53, %54, %55,"
      "%56, %57, %58, %59, %60, %61, %62, %63,"
      "%64, %65, %66, %67, %68, %69, %70, %71,"
      "%72, %73, %74, %75, %76, %77, %78, %79,"
      "%80, %81, %82, %83, %84, %85, %86, %87,"
      "%88, %89, %90, %91, %92, %93, %94, %95,"
      "%96, %97, %98, %99, %100, %101, %102, %103,"
      "%104, %105, %106, %107, %108, %109, %110, %111,"
      "%112, %113, %114, %115, %116, %117, %118, %119,"
      "%120, %121, %122, %123, %124, %125, %126, %127},"
      " %128, %129, scale_d, 1, 1, 0, 0;\n"
      "}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]),
        "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]),
        "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
        "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]),
        "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]),
        "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]),
        "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]),
        "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]),
        "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]),
        "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]),
        "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]),
        "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]),
        "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]),
        "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]),
        "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]),
        "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
      : "l"(desc_a), "l"(desc_b), "r"(1));
}

__global__ void __launch_bounds__(kThreads, 1)
    bf16_gemm_wgmma_kernel(const __grid_constant__ CUtensorMap map_a, const __grid_constant__ CUtensorMap map_b, int m,
                           int n, int k, float alpha, float beta, float* __restrict__ c, int64_t ldc) {
  extern __shared__ uint8_t smem[];
  __shared__ __align__(8) uint64_t full[kStages], empty[kStages];
  const uint32_t ring = (smem_addr(smem) + kSwizzleAtomBytes - 1) & ~uint32_t(kSwizzleAtomBytes - 1);
  const uint32_t smem_a = ring, smem_b = ring + kStages * kStageBytesA;

  // Grouped raster: kGroupM tile rows side by side, walked down each column of tiles before the next.
  const int tiles_m = m / kTileM, tiles_n = n / kTileN;
  const int tiles_per_group = kGroupM * tiles_n;
  const int group = blockIdx.x / tiles_per_group, in_group = blockIdx.x % tiles_per_group;
  const int first_tile_m = group * kGroupM;
  const int group_rows = min(tiles_m - first_tile_m, kGroupM);
  const int tile_m = first_tile_m + in_group % group_rows, tile_n = in_group / group_rows;
  const int ktiles = k / kTileK;
  const int warpgroup = threadIdx.x / 128;

  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      mbarrier_init(smem_addr(&full[s]), 1);                // the producer's arrive.expect_tx (+ the TMA bytes)
      mbarrier_init(smem_addr(&empty[s]), kConsumers * 4);  // one arrival per consumer warp
    }
    fence_barrier_init();
  }
  __syncthreads();

  if (warpgroup == 0) {
    warpgroup_release_registers<kProducerRegisters>();
    if (threadIdx.x == 0) {
      for (int kt = 0; kt < ktiles; ++kt) {
        const int stage = kt % kStages;
        mbarrier_wait(smem_addr(&empty[stage]), (kt / kStages) & 1);
        const uint32_t bar = smem_addr(&full[stage]);
        mbarrier_arrive_expect_tx(bar, kStageBytesA + kStageBytesB);
        tma_load_2d(smem_a + stage * kStageBytesA, &map_a, bar, kt * kTileK, tile_m * kTileM);
        tma_load_2d(smem_b + stage * kStageBytesB, &map_b, bar, kt * kTileK, tile_n * kTileN);
      }
    }
    return;
  }

  warpgroup_claim_registers<kConsumerRegisters>();
  const int consumer = warpgroup - 1, warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
  // Every stage starts empty: complete phase 0 of each `empty` barrier so the producer's first pass goes through.
  if (lane == 0)
    for (int s = 0; s < kStages; ++s) mbarrier_arrive(smem_addr(&empty[s]));

  float acc[128];
#pragma unroll
  for (int i = 0; i < 128; ++i) acc[i] = 0.f;
  for (int kt = 0; kt < ktiles; ++kt) {
    const int stage = kt % kStages;
    mbarrier_wait(smem_addr(&full[stage]), (kt / kStages) & 1);
    const uint32_t tile_a = smem_a + stage * kStageBytesA + consumer * 64 * (kTileK * 2);  // this warpgroup's rows
    const uint32_t tile_b = smem_b + stage * kStageBytesB;
    fence_accumulators(acc);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < kTileK / 16; ++kk)  // K steps of 16 bf16 = 32 B along the swizzled 128-byte rows
      wgmma_m64n256k16(acc, smem_descriptor(tile_a + kk * 32), smem_descriptor(tile_b + kk * 32));
    wgmma_commit();
    fence_accumulators(acc);
    // Leave this stage's MMAs running; once the previous stage's are done, its buffers go back to the producer.
    wgmma_wait<1>();
    if (kt > 0 && lane == 0) mbarrier_arrive(smem_addr(&empty[(kt - 1) % kStages]));
  }
  wgmma_wait<0>();
  fence_accumulators(acc);

  // Accumulator layout of wgmma m64nNk16 (f32): thread (warp w, lane l) holds, for each 8-column group j,
  // acc[4j], acc[4j+1] at row 16w + l/4, columns 8j + 2(l%4) + {0, 1}, and acc[4j+2], acc[4j+3] eight rows below.
  const int row = tile_m * kTileM + consumer * 64 + warp * 16 + lane / 4;
  float* out = c + static_cast<int64_t>(row) * ldc + tile_n * kTileN + (lane % 4) * 2;
#pragma unroll
  for (int j = 0; j < kTileN / 8; ++j)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float2* p = reinterpret_cast<float2*>(out + h * 8 * ldc + j * 8);
      float2 v = make_float2(alpha * acc[4 * j + 2 * h], alpha * acc[4 * j + 2 * h + 1]);
      if (beta != 0.f) {
        const float2 old = *p;
        v.x += beta * old.x;
        v.y += beta * old.y;
      }
      *p = v;
    }
}

// cuTensorMapEncodeTiled from the driver, found at run time so that nothing links libcuda.
PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 encode = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    const cudaError_t err =
        cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found);
    EMBER_CHECK(err == cudaSuccess && found == cudaDriverEntryPointSuccess && fn,
                "gemm_bf16_wgmma: cannot find cuTensorMapEncodeTiled in the CUDA driver: ", cudaGetErrorString(err));
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  }();
  return encode;
}

// A TMA descriptor of a row-major bf16 matrix [rows, cols] with row stride `ld` (elements) read in boxes of
// box_rows x kTileK, 128-byte swizzled in shared memory (the layout smem_descriptor describes to wgmma).
CUtensorMap tensor_map(const __nv_bfloat16* base, int64_t rows, int64_t cols, int64_t ld, int box_rows) {
  CUtensorMap map;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(cols), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(ld) * sizeof(__nv_bfloat16)};  // bytes, dim 1 only
  const cuuint32_t box[2] = {kTileK, static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t element_strides[2] = {1, 1};
  const CUresult res =
      tensor_map_encoder()(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, const_cast<__nv_bfloat16*>(base), dims, strides,
                           box, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                           CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  EMBER_CHECK(res == CUDA_SUCCESS, "gemm_bf16_wgmma: cuTensorMapEncodeTiled failed (CUresult ", static_cast<int>(res),
              ") for a [", rows, ", ", cols, "] matrix with ld=", ld);
  return map;
}

}  // namespace

bool gemm_bf16_wgmma_runs_here() {
  int device = 0, major = 0, minor = 0;
  return cudaGetDevice(&device) == cudaSuccess &&
         cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
         cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) == cudaSuccess && major == 9 &&
         minor == 0;
}

bool gemm_bf16_wgmma_supported(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb) {
  return m > 0 && n > 0 && k > 0 && m % kTileM == 0 && n % kTileN == 0 && k % kTileK == 0 && lda % 8 == 0 &&
         ldb % 8 == 0 && lda >= k && ldb >= k && m < INT32_MAX && n < INT32_MAX && k < INT32_MAX &&
         (m / kTileM) * (n / kTileN) < INT32_MAX;
}

void gemm_bf16_wgmma(int64_t m, int64_t n, int64_t k, float alpha, const __nv_bfloat16* a, int64_t lda,
                     const __nv_bfloat16* b, int64_t ldb, float beta, float* c, int64_t ldc, cudaStream_t stream) {
  EMBER_CHECK(gemm_bf16_wgmma_supported(m, n, k, lda, ldb) && ldc >= n && ldc % 2 == 0, "gemm_bf16_wgmma: needs M % ",
              kTileM, " == 0, N % ", kTileN, " == 0, K % ", kTileK,
              " == 0, lda/ldb >= K and multiples of 8, even ldc >= N; got M=", m, " N=", n, " K=", k, " lda=", lda,
              " ldb=", ldb, " ldc=", ldc);
  EMBER_CHECK(aligned16(a) && aligned16(b) && reinterpret_cast<uintptr_t>(c) % 8 == 0,
              "gemm_bf16_wgmma: A and B must be 16-byte aligned, C 8-byte aligned; got A=", static_cast<const void*>(a),
              " B=", static_cast<const void*>(b), " C=", static_cast<const void*>(c));
  EMBER_CHECK(gemm_bf16_wgmma_runs_here(),
              "gemm_bf16_wgmma: built for sm_90a (Hopper) only; the current GPU is not "
              "compute capability 9.0");
  static const bool configured = [] {
    const cudaError_t err =
        cudaFuncSetAttribute(bf16_gemm_wgmma_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
    EMBER_CHECK(err == cudaSuccess, "gemm_bf16_wgmma: cannot get ", kSmemBytes,
                " B of shared memory: ", cudaGetErrorString(err));
    // setmaxnreg.inc waits until the block's register pool can give the consumers theirs: a build that
    // allocated fewer registers per thread than the regrouping assumes would hang, not fail.
    cudaFuncAttributes attributes{};
    EMBER_CHECK(cudaFuncGetAttributes(&attributes, bf16_gemm_wgmma_kernel) == cudaSuccess &&
                    attributes.numRegs * kThreads >= kRegisterPool,
                "gemm_bf16_wgmma: built with ", attributes.numRegs, " registers per thread; setmaxnreg's ",
                kProducerRegisters, "/", kConsumerRegisters, " split needs ", kRegisterPool / kThreads);
    return true;
  }();
  (void)configured;
  const CUtensorMap map_a = tensor_map(a, m, k, lda, kTileM), map_b = tensor_map(b, n, k, ldb, kTileN);
  const unsigned tiles = static_cast<unsigned>((m / kTileM) * (n / kTileN));
  bf16_gemm_wgmma_kernel<<<tiles, kThreads, kSmemBytes, stream>>>(
      map_a, map_b, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, beta, c, ldc);
  EMBER_CHECK_LAUNCH("gemm_bf16_wgmma");
}

}  // namespace ember::kernels::cuda
