// Anchor for the ember_kernels_cpu library: most CPU kernels are header templates instantiated by their
// users for float and double; kernels with a non-template part (GEMM, im2col) add .cpp files beside this.
namespace ember::kernels::cpu {
int kernels_cpu_anchor = 0;
}
