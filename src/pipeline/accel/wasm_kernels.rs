//! Kernels Veilwatch adds to tract in wasm, where tract's own are slow on the machines kiosks run.
//!
//! tract's wasm kernels were tuned on 32-register ARM machines. On x86-64 an engine has 16 SIMD
//! registers, so the default 8×8 GEMM kernel (16 accumulators, plus operands) spills inside its
//! inner loop, and every GEMM kernel stores its output tile one lane at a time. And tract has no
//! wasm kernel for direct convolution, so a dense 3×3 convolution (YuNet's first layer) goes
//! through a lazy im2col whose gathers cost twice the arithmetic.
//!
//! - **4×8 GEMM kernel.** 8 accumulators (4 rows × 8 columns, two `f32x4` per row), so the inner
//!   loop stays in registers on both architectures; whole-vector stores whenever the output is
//!   contiguous along columns (one store per row half) or along rows (a 4×4 transpose, then one
//!   store per column). Convolutions in tract put pixels on the rows, so the second case is the
//!   common one. Chosen for every f32 matrix product with more than one column; matrix-vector
//!   products keep tract's own kernels.
//! - **Four-channel direct convolution along W** (`conv_w4`), which lets tract lower small dense
//!   convolutions to its `DirectSpatialConv` op in wasm as it does natively: for four output
//!   channels at once, eight output points per step, every tap a vector load (strides 1 and 2)
//!   and four multiply-adds.
//!
//! Both reach tract through its public extension points (`DynKernel` and the `MmmRoutine`,
//! `MmmTier` and `Routine` inventories). Where the build has relaxed SIMD, multiply-adds are
//! fused. `make bench` measures the effect; the wasm-versus-native test holds detections and
//! embeddings to the native ones, so a wrong kernel fails it.

use std::arch::wasm32::*;
use std::sync::LazyLock;

use linalg::mmm::{DynKernel, FusedKerSpec, OutputStoreKer, Query, Suitable};
use linalg::pack::Packing;
use linalg::routines::{Func, Routine, RoutineFactory};
use tract_onnx::prelude::DatumType;
use tract_onnx::tract_core::internal::inventory;
use tract_onnx::tract_core::tract_linalg as linalg;

const NAME: &str = "veilwatch_wasm_f32_4x8";
const MR: usize = 4;
const NR: usize = 8;

static KERNEL: LazyLock<DynKernel<MR, NR, f32>> = LazyLock::new(|| {
    let mut kernel = DynKernel::new(NAME, run, f32::packing(MR), f32::packing(NR));
    kernel.arch = Some(linalg::isa::Arch::Wasm32Simd128);
    kernel
});

inventory::submit! {
    linalg::mmm_routines::MmmRoutine { make: || KERNEL.mmm() }
}

fn prefer_4x8(
    _isa: &linalg::isa::IsaSet,
    accumulator: DatumType,
    query: &Query,
    _suitable: &[Suitable],
) -> Option<&'static str> {
    match (accumulator, query.n) {
        (DatumType::F32, n) if n != Some(1) => Some(NAME),
        _ => None,
    }
}

inventory::submit! {
    linalg::mmm_tiers::MmmTier {
        arch: Some(linalg::isa::Arch::Wasm32Simd128),
        precedence: 10,
        name: "veilwatch-wasm-4x8",
        applies: |_| true,
        preferred: prefer_4x8,
    }
}

/// One accumulator row: columns 0–3 and 4–7.
type Row = [v128; 2];

/// Applies `op(accumulator, operand)` to all eight accumulators.
#[inline(always)]
fn each(acc: &mut [Row; MR], mut op: impl FnMut(usize, usize, v128) -> v128) {
    for (r, row) in acc.iter_mut().enumerate() {
        for (h, v) in row.iter_mut().enumerate() {
            *v = op(r, h, *v);
        }
    }
}

/// Reads the tile at `tile` into four rows, whatever its strides.
#[inline(always)]
unsafe fn load_tile(tile: &OutputStoreKer) -> [Row; MR] {
    unsafe {
        let (rs, cs) = (tile.row_byte_stride, tile.col_byte_stride);
        let mut rows = [[f32x4_splat(0.0); 2]; MR];
        if cs == 4 {
            for (r, row) in rows.iter_mut().enumerate() {
                let p = tile.ptr.offset(r as isize * rs) as *const v128;
                *row = [v128_load(p), v128_load(p.add(1))];
            }
        } else if rs == 4 {
            let col = |c: usize| v128_load(tile.ptr.offset(c as isize * cs) as *const v128);
            let lo = transpose([col(0), col(1), col(2), col(3)]);
            let hi = transpose([col(4), col(5), col(6), col(7)]);
            for (r, row) in rows.iter_mut().enumerate() {
                *row = [lo[r], hi[r]];
            }
        } else {
            for (r, row) in rows.iter_mut().enumerate() {
                let at = |c: usize| *(tile.ptr.offset(r as isize * rs + c as isize * cs) as *const f32);
                *row = [f32x4(at(0), at(1), at(2), at(3)), f32x4(at(4), at(5), at(6), at(7))];
            }
        }
        rows
    }
}

/// Writes four rows to the tile at `tile`, whatever its strides.
#[inline(always)]
unsafe fn store_tile(tile: &OutputStoreKer, rows: &[Row; MR]) {
    unsafe {
        let (rs, cs) = (tile.row_byte_stride, tile.col_byte_stride);
        if cs == 4 {
            for (r, row) in rows.iter().enumerate() {
                let p = tile.ptr.offset(r as isize * rs) as *mut v128;
                v128_store(p, row[0]);
                v128_store(p.add(1), row[1]);
            }
        } else if rs == 4 {
            for (half, first_column) in [(0, 0), (1, 4)] {
                let columns = transpose(rows.map(|row| row[half]));
                for (c, column) in columns.iter().enumerate() {
                    v128_store(tile.ptr.offset((first_column + c) as isize * cs) as *mut v128, *column);
                }
            }
        } else {
            for (r, row) in rows.iter().enumerate() {
                let mut values = [0f32; NR];
                v128_store(values.as_mut_ptr() as *mut v128, row[0]);
                v128_store(values.as_mut_ptr().add(4) as *mut v128, row[1]);
                for (c, value) in values.iter().enumerate() {
                    *(tile.ptr.offset(r as isize * rs + c as isize * cs) as *mut f32) = *value;
                }
            }
        }
    }
}

/// `acc + a·b`: one fused multiply-add where the build has relaxed SIMD, else a multiply and an add.
#[inline(always)]
fn madd(acc: v128, a: v128, b: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    {
        f32x4_relaxed_madd(a, b, acc)
    }
    #[cfg(not(target_feature = "relaxed-simd"))]
    {
        f32x4_add(acc, f32x4_mul(a, b))
    }
}

/// 4×4 transpose: rows in, columns out.
#[inline(always)]
fn transpose(m: [v128; 4]) -> [v128; 4] {
    let t0 = i32x4_shuffle::<0, 4, 1, 5>(m[0], m[1]);
    let t1 = i32x4_shuffle::<2, 6, 3, 7>(m[0], m[1]);
    let t2 = i32x4_shuffle::<0, 4, 1, 5>(m[2], m[3]);
    let t3 = i32x4_shuffle::<2, 6, 3, 7>(m[2], m[3]);
    [
        i32x4_shuffle::<0, 1, 4, 5>(t0, t2),
        i32x4_shuffle::<2, 3, 6, 7>(t0, t2),
        i32x4_shuffle::<0, 1, 4, 5>(t1, t3),
        i32x4_shuffle::<2, 3, 6, 7>(t1, t3),
    ]
}

/// The kernel: runs tract's fused program `ops` over one 4×8 output tile.
unsafe fn run(ops: &[FusedKerSpec<f32>]) -> isize {
    unsafe {
        let zero = f32x4_splat(0.0);
        let mut acc: [Row; MR] = [[zero; 2]; MR];
        for op in ops {
            match *op {
                FusedKerSpec::Done => break,
                FusedKerSpec::Clear => acc = [[zero; 2]; MR],
                FusedKerSpec::LoadTile(_cols, rows) => {
                    let p = rows as *const v128;
                    each(&mut acc, |r, h, _| v128_load(p.add(2 * r + h)));
                }
                FusedKerSpec::ScalarMin(s) => each(&mut acc, |_, _, v| f32x4_min(f32x4_splat(s), v)),
                FusedKerSpec::ScalarMax(s) => each(&mut acc, |_, _, v| f32x4_max(f32x4_splat(s), v)),
                FusedKerSpec::ScalarAdd(s) => each(&mut acc, |_, _, v| f32x4_add(f32x4_splat(s), v)),
                FusedKerSpec::ScalarMul(s) => each(&mut acc, |_, _, v| f32x4_mul(f32x4_splat(s), v)),
                FusedKerSpec::ScalarSub(s) => each(&mut acc, |_, _, v| f32x4_sub(f32x4_splat(s), v)),
                FusedKerSpec::ScalarSubF(s) => each(&mut acc, |_, _, v| f32x4_sub(v, f32x4_splat(s))),
                FusedKerSpec::LeakyRelu(s) => {
                    each(&mut acc, |_, _, v| v128_bitselect(v, f32x4_mul(f32x4_splat(s), v), f32x4_gt(v, zero)))
                }
                FusedKerSpec::PerRowMin(p) => each(&mut acc, |r, _, v| f32x4_min(f32x4_splat(*p.add(r)), v)),
                FusedKerSpec::PerRowMax(p) => each(&mut acc, |r, _, v| f32x4_max(f32x4_splat(*p.add(r)), v)),
                FusedKerSpec::PerRowAdd(p) => each(&mut acc, |r, _, v| f32x4_add(f32x4_splat(*p.add(r)), v)),
                FusedKerSpec::PerRowMul(p) => each(&mut acc, |r, _, v| f32x4_mul(f32x4_splat(*p.add(r)), v)),
                FusedKerSpec::PerRowSub(p) => each(&mut acc, |r, _, v| f32x4_sub(f32x4_splat(*p.add(r)), v)),
                FusedKerSpec::PerRowSubF(p) => each(&mut acc, |r, _, v| f32x4_sub(v, f32x4_splat(*p.add(r)))),
                FusedKerSpec::PerColMin(p) => {
                    each(&mut acc, |_, h, v| f32x4_min(v128_load((p as *const v128).add(h)), v))
                }
                FusedKerSpec::PerColMax(p) => {
                    each(&mut acc, |_, h, v| f32x4_max(v128_load((p as *const v128).add(h)), v))
                }
                FusedKerSpec::PerColAdd(p) => {
                    each(&mut acc, |_, h, v| f32x4_add(v128_load((p as *const v128).add(h)), v))
                }
                FusedKerSpec::PerColMul(p) => {
                    each(&mut acc, |_, h, v| f32x4_mul(v128_load((p as *const v128).add(h)), v))
                }
                FusedKerSpec::PerColSub(p) => {
                    each(&mut acc, |_, h, v| f32x4_sub(v128_load((p as *const v128).add(h)), v))
                }
                FusedKerSpec::PerColSubF(p) => {
                    each(&mut acc, |_, h, v| f32x4_sub(v, v128_load((p as *const v128).add(h))))
                }
                FusedKerSpec::QScale(shift, policy, mult) => {
                    let scale = f32x4_splat(linalg::Scaler::from_fuse_params(shift, policy, mult).scale);
                    each(&mut acc, |_, _, v| f32x4_mul(scale, v))
                }
                FusedKerSpec::RoundingShiftRight(shift, _) => {
                    let scale = f32x4_splat(2f32.powi(-(shift as i32)));
                    each(&mut acc, |_, _, v| f32x4_mul(scale, v))
                }
                FusedKerSpec::ShiftLeft(shift) => {
                    let scale = f32x4_splat(2f32.powi(shift as i32));
                    each(&mut acc, |_, _, v| f32x4_mul(scale, v))
                }
                FusedKerSpec::AddUnicast(tile) => {
                    let other = load_tile(&tile);
                    each(&mut acc, |r, h, v| f32x4_add(v, other[r][h]));
                }
                FusedKerSpec::AddRowColProducts(rows, cols) => {
                    let c = [v128_load(cols as *const v128), v128_load((cols as *const v128).add(1))];
                    each(&mut acc, |r, h, v| f32x4_add(v, f32x4_mul(f32x4_splat(*rows.add(r)), c[h])));
                }
                FusedKerSpec::Store(tile) => store_tile(&tile, &acc),
                FusedKerSpec::AddMatMul { k, pa, pb, packing: _ } => {
                    // A is packed as k groups of 4 row values, B as k groups of 8 column values. Each
                    // row value is broadcast straight from memory (`load32_splat`, one instruction in
                    // V8 on x86), which measured faster than one load and four lane shuffles.
                    let (a, b) = (pa as *const f32, pb as *const v128);
                    let [[mut a0l, mut a0h], [mut a1l, mut a1h], [mut a2l, mut a2h], [mut a3l, mut a3h]] = acc;
                    for i in 0..k {
                        let rows = a.add(4 * i);
                        let (bl, bh) = (v128_load(b.add(2 * i)), v128_load(b.add(2 * i + 1)));
                        let s = v128_load32_splat(rows as *const u32);
                        a0l = madd(a0l, s, bl);
                        a0h = madd(a0h, s, bh);
                        let s = v128_load32_splat(rows.add(1) as *const u32);
                        a1l = madd(a1l, s, bl);
                        a1h = madd(a1h, s, bh);
                        let s = v128_load32_splat(rows.add(2) as *const u32);
                        a2l = madd(a2l, s, bl);
                        a2h = madd(a2h, s, bh);
                        let s = v128_load32_splat(rows.add(3) as *const u32);
                        a3l = madd(a3l, s, bl);
                        a3h = madd(a3h, s, bh);
                    }
                    acc = [[a0l, a0h], [a1l, a1h], [a2l, a2h], [a3l, a3h]];
                }
            }
        }
        0
    }
}

inventory::submit! {
    Routine {
        func: Func::ConvW4,
        arch: Some(linalg::isa::Arch::Wasm32Simd128),
        isa: linalg::isa::IsaReq::ANY,
        boost: 0,
        round_trip: false,
        factory: RoutineFactory::ConvW4F32 { name: "veilwatch_wasm_conv_w4_f32", run: conv_w4 },
    }
}

/// Four consecutive output points' inputs, `stride` elements apart (1 or 2). At stride 2 this
/// reads eight elements, one past the last it keeps.
#[inline(always)]
unsafe fn load4(p: *const f32, stride: isize) -> v128 {
    unsafe {
        if stride == 1 {
            v128_load(p as *const v128)
        } else {
            let (a, b) = (v128_load(p as *const v128), v128_load(p.add(4) as *const v128));
            i32x4_shuffle::<0, 2, 4, 6>(a, b)
        }
    }
}

/// Four output channels of a convolution along W, as tract's `ConvW4F32` describes:
/// `output[o·oc_stride + i] = bias[o] + Σ_t taps[o·n + t] · input[offsets[t] + i·in_stride]` for
/// `o < 4`, `i < len`, `n = offsets.len()`. Strides 1 and 2 are vectorised, eight then four points
/// at a time; other strides and the last points of a run go one point at a time. No read reaches
/// past `offsets[t] + (len − 1)·in_stride`.
///
/// # Safety
/// Every `input.offset(offsets[t] + i·in_stride)` must be readable and every
/// `output.offset(o·oc_stride + i)` writable, for `i < len`; `taps` holds `4·offsets.len()` values.
#[allow(clippy::too_many_arguments)]
unsafe fn conv_w4(
    input: *const f32,
    output: *mut f32,
    taps: &[f32],
    offsets: &[isize],
    bias: &[f32; 4],
    len: usize,
    in_stride: isize,
    oc_stride: isize,
) {
    unsafe {
        let n = offsets.len();
        let (k0, k1, k2, k3) = (&taps[..n], &taps[n..2 * n], &taps[2 * n..3 * n], &taps[3 * n..4 * n]);
        let mut i = 0usize;
        if in_stride == 1 || in_stride == 2 {
            // At stride 2 a block's last load reads one element of the next output point, so that
            // point must be in the run too.
            let extra = (in_stride == 2) as usize;
            let b = bias.map(|v| f32x4_splat(v));
            while i + 8 + extra <= len {
                let [mut a0, mut a1, mut a2, mut a3] = b;
                let [mut c0, mut c1, mut c2, mut c3] = b;
                for (t, offset) in offsets.iter().enumerate() {
                    let p = input.offset(offset + i as isize * in_stride);
                    let (x, y) = (load4(p, in_stride), load4(p.offset(4 * in_stride), in_stride));
                    let w = v128_load32_splat(k0.as_ptr().add(t) as *const u32);
                    a0 = madd(a0, x, w);
                    c0 = madd(c0, y, w);
                    let w = v128_load32_splat(k1.as_ptr().add(t) as *const u32);
                    a1 = madd(a1, x, w);
                    c1 = madd(c1, y, w);
                    let w = v128_load32_splat(k2.as_ptr().add(t) as *const u32);
                    a2 = madd(a2, x, w);
                    c2 = madd(c2, y, w);
                    let w = v128_load32_splat(k3.as_ptr().add(t) as *const u32);
                    a3 = madd(a3, x, w);
                    c3 = madd(c3, y, w);
                }
                for (o, (lo, hi)) in [(a0, c0), (a1, c1), (a2, c2), (a3, c3)].into_iter().enumerate() {
                    let q = output.offset(o as isize * oc_stride).add(i);
                    v128_store(q as *mut v128, lo);
                    v128_store(q.add(4) as *mut v128, hi);
                }
                i += 8;
            }
            while i + 4 + extra <= len {
                let [mut a0, mut a1, mut a2, mut a3] = b;
                for (t, offset) in offsets.iter().enumerate() {
                    let x = load4(input.offset(offset + i as isize * in_stride), in_stride);
                    a0 = madd(a0, x, v128_load32_splat(k0.as_ptr().add(t) as *const u32));
                    a1 = madd(a1, x, v128_load32_splat(k1.as_ptr().add(t) as *const u32));
                    a2 = madd(a2, x, v128_load32_splat(k2.as_ptr().add(t) as *const u32));
                    a3 = madd(a3, x, v128_load32_splat(k3.as_ptr().add(t) as *const u32));
                }
                for (o, v) in [a0, a1, a2, a3].into_iter().enumerate() {
                    v128_store(output.offset(o as isize * oc_stride).add(i) as *mut v128, v);
                }
                i += 4;
            }
        }
        for i in i..len {
            for (o, k) in [k0, k1, k2, k3].into_iter().enumerate() {
                let mut sum = bias[o];
                for t in 0..n {
                    sum += k[t] * *input.offset(offsets[t] + i as isize * in_stride);
                }
                *output.offset(o as isize * oc_stride).add(i) = sum;
            }
        }
    }
}

/// Run in node by `make unit` (`cargo test --target wasm32-unknown-unknown`, through
/// wasm-bindgen-test-runner): convolutions planned by tract onto these kernels, against a direct
/// computation.
#[cfg(test)]
mod tests {
    use tract_onnx::tract_core::internal::*;
    use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, PoolSpec};
    use tract_onnx::tract_core::ops::math::max;
    use tract_onnx::tract_core::ops::nn::DataFormat;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn random(len: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1 << 24) as f32 * 2.0 - 1.0
            })
            .collect()
    }

    struct Case {
        channels: usize,
        outputs: usize,
        height: usize,
        width: usize,
        kernel: usize,
        stride: usize,
        channels_last: bool,
    }

    /// ReLU(conv(x) + bias), with zero padding kernel/2, computed point by point; NCHW.
    fn direct(c: &Case, x: &[f32], w: &[f32], b: &[f32]) -> (Vec<f32>, usize, usize) {
        let pad = c.kernel / 2;
        let (oh, ow) = ((c.height + 2 * pad - c.kernel) / c.stride + 1, (c.width + 2 * pad - c.kernel) / c.stride + 1);
        let mut out = vec![0f32; c.outputs * oh * ow];
        for o in 0..c.outputs {
            for y in 0..oh {
                for xo in 0..ow {
                    let mut sum = b[o];
                    for ch in 0..c.channels {
                        for ky in 0..c.kernel {
                            for kx in 0..c.kernel {
                                let (iy, ix) = (
                                    (y * c.stride + ky) as isize - pad as isize,
                                    (xo * c.stride + kx) as isize - pad as isize,
                                );
                                if iy < 0 || ix < 0 || iy >= c.height as isize || ix >= c.width as isize {
                                    continue;
                                }
                                let weight = w[((o * c.channels + ch) * c.kernel + ky) * c.kernel + kx];
                                sum += weight * x[(ch * c.height + iy as usize) * c.width + ix as usize];
                            }
                        }
                    }
                    out[(o * oh + y) * ow + xo] = sum.max(0.0);
                }
            }
        }
        (out, oh, ow)
    }

    /// Plans the same convolution (plus ReLU) with tract, runs it, and returns its NCHW output and
    /// the names and details of the ops tract chose.
    fn through_tract(c: &Case, x: &[f32], w: &[f32], b: &[f32]) -> (Vec<f32>, String) {
        let mut model = TypedModel::default();
        let nchw = tensor1(x).into_shape(&[1, c.channels, c.height, c.width]).unwrap();
        let input = if c.channels_last { nchw.permute_axes(&[0, 2, 3, 1]).unwrap() } else { nchw };
        let source = model.add_source("input", f32::fact(input.shape())).unwrap();
        let kernel = model
            .add_const("kernel", tensor1(w).into_shape(&[c.outputs, c.channels, c.kernel, c.kernel]).unwrap())
            .unwrap();
        let bias = model.add_const("bias", tensor1(b)).unwrap();
        let pad = c.kernel / 2;
        let conv = Conv {
            pool_spec: PoolSpec {
                data_format: if c.channels_last { DataFormat::NHWC } else { DataFormat::NCHW },
                kernel_shape: tvec!(c.kernel, c.kernel),
                padding: PaddingSpec::Explicit(tvec!(pad, pad), tvec!(pad, pad)),
                dilations: None,
                strides: Some(tvec!(c.stride, c.stride)),
                input_channels: c.channels,
                output_channels: c.outputs,
            },
            kernel_fmt: KernelFormat::OIHW,
            group: 1,
            q_params: None,
        };
        let wire = model.wire_node("conv", conv, &[source, kernel, bias]).unwrap();
        let zero = model.add_const("zero", tensor0(0f32).broadcast_into_rank(4).unwrap()).unwrap();
        let relu = model.wire_node("relu", max(), &[wire[0], zero]).unwrap();
        model.select_output_outlets(&relu).unwrap();
        let model = model.into_optimized().unwrap();
        let ops = model
            .nodes()
            .iter()
            .map(|n| format!("{} {:?}", n.op().name(), n.op().info().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n");
        let output = model.into_runnable().unwrap().run(tvec!(input.into_tvalue())).unwrap().remove(0).into_tensor();
        let output = if c.channels_last { output.permute_axes(&[0, 3, 1, 2]).unwrap() } else { output };
        let values = output.into_plain_array::<f32>().unwrap().iter().copied().collect();
        (values, ops)
    }

    fn check(c: Case, expect_op: &str) {
        let x = random(c.channels * c.height * c.width, 1);
        let w = random(c.outputs * c.channels * c.kernel * c.kernel, 2);
        let b = random(c.outputs, 3);
        let (expected, oh, ow) = direct(&c, &x, &w, &b);
        let (actual, ops) = through_tract(&c, &x, &w, &b);
        assert!(ops.contains(expect_op), "expected tract to use {expect_op}, it planned:\n{ops}");
        assert_eq!(actual.len(), expected.len());
        for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
            let (o, y, x) = (i / (oh * ow), i / ow % oh, i % ow);
            assert!((a - e).abs() <= 1e-4 * (1.0 + e.abs()), "output {o} at ({y}, {x}): {a} vs {e}; ops:\n{ops}");
        }
    }

    #[wasm_bindgen_test]
    fn gemm_kernel_computes_pointwise_convolutions() {
        for (channels, outputs, height, width) in
            [(16, 16, 12, 20), (3, 10, 7, 9), (64, 64, 5, 61), (32, 6, 1, 300), (70, 13, 9, 9)]
        {
            for channels_last in [false, true] {
                let case = Case { channels, outputs, height, width, kernel: 1, stride: 1, channels_last };
                check(case, super::NAME);
            }
        }
    }

    #[wasm_bindgen_test]
    fn direct_convolution_kernel_computes_3x3_convolutions() {
        // tract lowers to DirectSpatialConv only for output rows of at least 128 points.
        for (outputs, width, stride) in [(16, 141, 1), (8, 262, 2), (12, 301, 2), (5, 150, 1), (8, 403, 3)] {
            let case = Case { channels: 3, outputs, height: 7, width, kernel: 3, stride, channels_last: false };
            check(case, "DirectSpatialConv");
        }
    }
}
