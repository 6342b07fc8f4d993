//! What Veilwatch adds to tract for speed, through tract's public extension points: a 2×2/2
//! max-pool op swapped in for tract's scalar `OptMaxPool`, and (in wasm with SIMD128) a 4×8 GEMM
//! kernel and a four-channel direct convolution. Results equal tract's own up to summation order.

pub(crate) mod pool2x2;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm_kernels;
