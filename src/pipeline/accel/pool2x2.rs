//! A faster stand-in for tract's `OptMaxPool` on the pools YuNet uses: 2×2 windows, stride 2, no
//! padding, f32, channels first.
//!
//! tract walks a stride-2 pool one output value at a time with bounds checks on every tap; in wasm
//! that made YuNet's four pools a quarter of the detector's time (12.9 of 52.6 ms at 640×480). Here
//! each channel plane is reduced two input rows at a time: the rows' element-wise max is taken eight
//! values at a time, then adjacent pairs are folded. In wasm that is `f32x4` loads, `pmax` and two
//! shuffles per four outputs; elsewhere it is a plain loop the compiler vectorises.
//!
//! [`substitute`] swaps the op into an optimised model after tract has planned it. It is exact: the
//! maximum of four values does not depend on how they are grouped, so the detector's outputs are
//! bit-for-bit those of tract's own pool (the unit test below compares the two).

use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{OptMaxPool, PaddingSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;

/// Max pooling over 2×2 windows with stride 2 on a `[N, C, H, W]` f32 tensor; odd trailing rows
/// and columns are dropped, as ONNX's `ceil_mode = 0` does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MaxPool2x2Stride2;

impl Op for MaxPool2x2Stride2 {
    fn name(&self) -> StaticName {
        "MaxPool2x2Stride2".into()
    }

    op_as_typed_op!();
}

impl EvalOp for MaxPool2x2Stride2 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = input.shape();
        ensure!(shape.len() == 4, "MaxPool2x2Stride2 expects NCHW, got shape {shape:?}");
        let (planes, height, width) = (shape[0] * shape[1], shape[2], shape[3]);
        let mut output = Tensor::zero::<f32>(&[shape[0], shape[1], height / 2, width / 2])?;
        let input_ram = input.try_as_plain_ram()?;
        let input = input_ram.as_slice::<f32>()?;
        let mut output_ram = output.try_as_plain_ram_mut()?;
        let out = output_ram.as_slice_mut::<f32>()?;
        let (plane_in, plane_out) = (height * width, (height / 2) * (width / 2));
        if plane_out > 0 {
            for (src, dst) in input.chunks_exact(plane_in).zip(out.chunks_exact_mut(plane_out)).take(planes) {
                pool_plane(src, dst, width);
            }
        }
        Ok(tvec!(output.into_tvalue()))
    }
}

impl TypedOp for MaxPool2x2Stride2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = &inputs[0].shape;
        ensure!(shape.rank() == 4, "MaxPool2x2Stride2 expects NCHW");
        let half = |d: &TDim| d.clone() / 2;
        Ok(tvec!(f32::fact([shape[0].clone(), shape[1].clone(), half(&shape[2]), half(&shape[3])])))
    }

    as_op!();
}

/// Pools one `H × width` channel plane into `dst` (`H/2 × width/2`).
fn pool_plane(src: &[f32], dst: &mut [f32], width: usize) {
    let out_width = width / 2;
    for (out_row, rows) in dst.chunks_exact_mut(out_width).zip(src.chunks_exact(2 * width)) {
        let (upper, lower) = rows.split_at(width);
        pool_row_pair(upper, lower, out_row);
    }
}

/// `out[x] = max(upper[2x], upper[2x+1], lower[2x], lower[2x+1])`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn pool_row_pair(upper: &[f32], lower: &[f32], out: &mut [f32]) {
    use std::arch::wasm32::*;
    let blocks = out.len() / 4;
    for block in 0..blocks {
        let i = block * 8;
        // SAFETY: i + 8 <= 2 * out.len() <= upper.len() == lower.len(), and block * 4 + 4 <= out.len();
        // v128 loads and stores in wasm need no alignment.
        unsafe {
            let u = upper.as_ptr().add(i);
            let l = lower.as_ptr().add(i);
            let a = f32x4_pmax(v128_load(u as *const v128), v128_load(l as *const v128));
            let b = f32x4_pmax(v128_load(u.add(4) as *const v128), v128_load(l.add(4) as *const v128));
            let even = i32x4_shuffle::<0, 2, 4, 6>(a, b);
            let odd = i32x4_shuffle::<1, 3, 5, 7>(a, b);
            v128_store(out.as_mut_ptr().add(block * 4) as *mut v128, f32x4_pmax(even, odd));
        }
    }
    pool_row_pair_scalar(upper, lower, out, blocks * 4);
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn pool_row_pair(upper: &[f32], lower: &[f32], out: &mut [f32]) {
    pool_row_pair_scalar(upper, lower, out, 0);
}

/// The same reduction for outputs `from..`, one at a time.
fn pool_row_pair_scalar(upper: &[f32], lower: &[f32], out: &mut [f32], from: usize) {
    let max = |a: f32, b: f32| if b > a { b } else { a };
    for (x, value) in out.iter_mut().enumerate().skip(from) {
        let (u, l) = (&upper[2 * x..2 * x + 2], &lower[2 * x..2 * x + 2]);
        *value = max(max(u[0], u[1]), max(l[0], l[1]));
    }
}

/// Replaces every `OptMaxPool` in an optimised model that is a 2×2, stride-2, unpadded, NCHW f32
/// pool without index output by [`MaxPool2x2Stride2`]. Other pools are left to tract.
pub(crate) fn substitute(mut model: TypedModel) -> TractResult<TypedModel> {
    let candidates: Vec<usize> = model
        .nodes()
        .iter()
        .filter(|node| {
            node.op_as::<OptMaxPool>().is_some_and(|pool| {
                let spec = &pool.pool_spec;
                let ones = |v: &Option<TVec<usize>>| v.as_ref().is_none_or(|v| v.iter().all(|&d| d == 1));
                let twos = |v: &Option<TVec<usize>>| v.as_ref().is_some_and(|v| v[..] == [2, 2]);
                let unpadded = match &spec.padding {
                    PaddingSpec::Valid => true,
                    PaddingSpec::Explicit(before, after) | PaddingSpec::ExplicitOnnxPool(before, after, false) => {
                        before.iter().chain(after).all(|&p| p == 0)
                    }
                    _ => false,
                };
                pool.with_index_outputs.is_none()
                    && spec.data_format == DataFormat::NCHW
                    && spec.kernel_shape[..] == [2, 2]
                    && twos(&spec.strides)
                    && ones(&spec.dilations)
                    && unpadded
                    && node.outputs[0].fact.datum_type == f32::datum_type()
            })
        })
        .map(|node| node.id)
        .collect();
    for id in candidates {
        let node = &model.nodes()[id];
        let patch = TypedModelPatch::replace_single_op(&model, node, &node.inputs, MaxPool2x2Stride2)?;
        patch.apply(&mut model)?;
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::cnn::{MaxPool, PoolSpec};

    /// tract's own pool, planned and run, on the same input.
    fn tract_pool(input: &Tensor) -> Tensor {
        let mut model = TypedModel::default();
        let source = model.add_source("input", f32::fact(input.shape())).unwrap();
        let spec = PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec!(2, 2),
            padding: PaddingSpec::Valid,
            dilations: None,
            strides: Some(tvec!(2, 2)),
            input_channels: input.shape()[1],
            output_channels: input.shape()[1],
        };
        let pooled = model.wire_node("pool", MaxPool { pool_spec: spec, with_index_outputs: None }, &[source]).unwrap();
        model.select_output_outlets(&pooled).unwrap();
        let plan = model.into_optimized().unwrap().into_runnable().unwrap();
        plan.run(tvec!(input.clone().into_tvalue())).unwrap().remove(0).into_tensor()
    }

    fn random_input(shape: &[usize], seed: u32) -> Tensor {
        let mut state = seed;
        let len: usize = shape.iter().product();
        let values: Vec<f32> = (0..len)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1 << 24) as f32 * 8.0 - 4.0
            })
            .collect();
        tensor1(&values).into_shape(shape).unwrap()
    }

    // Also run in wasm (`make unit`), where the pool takes its SIMD path.
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn matches_tracts_pool_on_even_and_odd_sizes() {
        for (seed, shape) in [[1, 3, 8, 16], [1, 2, 7, 9], [2, 1, 6, 10], [1, 4, 12, 17]].iter().enumerate() {
            let input = random_input(shape, seed as u32 + 1);
            let ours = MaxPool2x2Stride2.eval(&EvalContext::out_of_plan(), tvec!(input.clone().into_tvalue())).unwrap();
            assert_eq!(ours[0].clone().into_tensor(), tract_pool(&input), "shape {shape:?}");
        }
    }

    #[test]
    fn a_single_row_pools_to_nothing() {
        // (tract's own pool panics on this shape: "chunk size must be non-zero".)
        let input = random_input(&[1, 1, 1, 5], 9);
        let ours = MaxPool2x2Stride2.eval(&EvalContext::out_of_plan(), tvec!(input.into_tvalue())).unwrap();
        assert_eq!(ours[0].shape(), &[1, 1, 0, 2]);
    }

    #[test]
    fn substitute_swaps_only_matching_pools() {
        let mut model = TypedModel::default();
        let source = model.add_source("input", f32::fact([1, 2, 8, 8])).unwrap();
        let spec = |strides: usize| PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec!(2, 2),
            padding: PaddingSpec::Valid,
            dilations: None,
            strides: Some(tvec!(strides, strides)),
            input_channels: 2,
            output_channels: 2,
        };
        let a = model.wire_node("s2", MaxPool { pool_spec: spec(2), with_index_outputs: None }, &[source]).unwrap();
        let b = model.wire_node("s1", MaxPool { pool_spec: spec(1), with_index_outputs: None }, &a).unwrap();
        model.select_output_outlets(&b).unwrap();
        let model = substitute(model.into_optimized().unwrap()).unwrap();
        let names: Vec<_> = model.nodes().iter().map(|n| n.op().name().to_string()).collect();
        assert_eq!(names.iter().filter(|n| *n == "MaxPool2x2Stride2").count(), 1, "{names:?}");
        assert_eq!(names.iter().filter(|n| *n == "OptMaxPool").count(), 1, "{names:?}");
    }
}
