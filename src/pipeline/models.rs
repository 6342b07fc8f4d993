//! Model manifest, integrity check and ONNX loading through tract.
//!
//! Guarantees: a model runs only if its bytes hash to the SHA-256 pinned in [`MANIFEST`] (so tract
//! never parses a corrupt, truncated or foreign file), and the graph tract runs computes the same
//! function as the shipped file. The shipped files are int8 block-quantised; tract refuses blocked
//! `DequantizeLinear`, so before building we rewrite the parsed protobuf:
//!
//! 1. every `DequantizeLinear` with `block_size != 0` whose inputs are all initialisers is folded
//!    into one f32 initialiser (`y = (x − zero_point[block]) · scale[block]`), and initialisers and
//!    declared graph inputs that nothing uses any more are dropped (SFace declares its original
//!    float weights as inputs without using them);
//! 2. every `PRelu` becomes `Relu(x) + slope · Min(x, 0)`: exact, and tract runs it much faster than
//!    its own PRelu lowering (compare/select/multiply), which was half of SFace's time.
//!
//! The browser still downloads the small int8 files; the rewrite happens at load time.

use std::collections::HashSet;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tract_onnx::pb;
use tract_onnx::prelude::*;

use super::error::{Error, ModelKind, Result};
use crate::hex::hex;

/// One pinned model file.
#[derive(Debug, Clone, Copy)]
pub struct ModelSpec {
    pub kind: ModelKind,
    pub file: &'static str,
    pub sha256: &'static str,
    pub licence: &'static str,
}

/// The models Veilwatch runs; `models/README.md` records where they come from.
pub const MANIFEST: [ModelSpec; 2] = [
    ModelSpec {
        kind: ModelKind::Detector,
        file: "face_detection_yunet_2023mar_int8bq.onnx",
        sha256: "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
        licence: "MIT",
    },
    ModelSpec {
        kind: ModelKind::Recognizer,
        file: "face_recognition_sface_2021dec_int8bq.onnx",
        sha256: "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
        licence: "Apache-2.0",
    },
];

pub fn spec(kind: ModelKind) -> &'static ModelSpec {
    MANIFEST.iter().find(|m| m.kind == kind).expect("every ModelKind is in MANIFEST")
}

pub(crate) type Plan = Arc<TypedRunnableModel>;

/// Runs `plan` on one input tensor, then wipes the input (pixels) and tract's per-thread scratch,
/// and hands back outputs as exclusive tensors the caller wipes once read (G2: nothing derived from
/// a face outlives its use).
///
/// What tract holds during a run, and who wipes it: the run's state and every intermediate tensor
/// (activations, padded copies of the input, im2col and packed buffers that are tensors) are freed
/// when the run ends, and the zero-on-free global allocator (`zeroizing-alloc`, installed by the
/// wasm engine and the CLI) zeroes them as they are freed; the buffers tract-linalg keeps per
/// thread from run to run (the matrix-multiplication scratch blob with the last packed panels, and
/// the element-wise and unicast temporaries) are never freed, so they are zeroed here, through the
/// hook our patched tract-linalg adds (`third_party/tract-linalg/VEILWATCH.md`).
pub(crate) fn run_and_wipe(plan: &Plan, input: Tensor) -> TractResult<TVec<Tensor>> {
    let input = Arc::new(input);
    let result = plan.run(tvec!(TValue::from_const(input.clone())));
    if let Ok(mut tensor) = Arc::try_unwrap(input) {
        wipe(&mut tensor);
    }
    wipe_tract_scratch();
    Ok(result?.into_iter().map(|v| v.into_tensor()).collect())
}

/// Zeroes what tract-linalg keeps on this thread between runs (see [`run_and_wipe`]). Skipped only
/// in the negative-control build of the heap test (feature `unwiped-heap-for-tests`).
fn wipe_tract_scratch() {
    #[cfg(not(feature = "unwiped-heap-for-tests"))]
    tract_linalg::wipe_thread_scratch();
}

/// Overwrites an f32 tensor's values with zeros.
pub(crate) fn wipe(tensor: &mut Tensor) {
    if let Ok(mut view) = tensor.try_as_plain_ram_mut() {
        if let Ok(values) = view.as_slice_mut::<f32>() {
            zeroize::Zeroize::zeroize(values);
        }
    }
}

/// A verified, rewritten model graph, ready to be specialised to an input size.
pub(crate) struct VerifiedModel {
    kind: ModelKind,
    proto: pb::ModelProto,
}

impl VerifiedModel {
    /// Checks the bytes against the manifest, parses them and applies the rewrites above.
    pub(crate) fn from_bytes(kind: ModelKind, bytes: &[u8]) -> Result<Self> {
        let spec = spec(kind);
        let actual = hex(&Sha256::digest(bytes));
        if actual != spec.sha256 {
            return Err(Error::ModelHashMismatch {
                model: kind,
                expected: spec.sha256.to_owned(),
                actual,
                len: bytes.len(),
            });
        }
        let invalid = |reason: String| Error::ModelInvalid { model: kind, reason };
        let mut proto =
            tract_onnx::onnx().proto_model_for_read(&mut &bytes[..]).map_err(|e| invalid(format!("{e:#}")))?;
        let graph = proto.graph.as_mut().ok_or_else(|| invalid("the file holds no graph".into()))?;
        fold_blocked_dequantize(graph).map_err(invalid)?;
        rewrite_prelu(graph);
        drop_unused(graph);
        Ok(VerifiedModel { kind, proto })
    }

    /// Builds an optimised plan for a fixed `[1, 3, height, width]` f32 input.
    pub(crate) fn plan(&self, height: usize, width: usize) -> Result<Plan> {
        self.optimised(height, width).and_then(|m| m.into_runnable()).map_err(|e| self.invalid(e))
    }

    fn invalid(&self, e: TractError) -> Error {
        Error::ModelInvalid { model: self.kind, reason: format!("{e:#}") }
    }

    fn optimised(&self, height: usize, width: usize) -> TractResult<TypedModel> {
        // YuNet stores 640-based intermediate shapes; they must not constrain other sizes.
        let framework = tract_onnx::onnx().with_ignore_value_info(true).with_ignore_output_shapes(true);
        framework
            .model_for_proto_model(&self.proto)
            .and_then(|m| m.with_input_fact(0, f32::fact([1, 3, height, width]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(super::accel::pool2x2::substitute)
    }

    /// For the wasm heap test only (`bench-api`): the same optimised graph as [`VerifiedModel::plan`],
    /// run on `input`, with every node's output kept — each activation the production plan computes
    /// for that input, by node name. Constants (weights) are left out: they are not the face's.
    #[cfg(feature = "bench-api")]
    pub(crate) fn every_activation(&self, input: Tensor) -> Result<Vec<(String, Tensor)>> {
        let shape = input.shape().to_vec();
        let (height, width) = (shape[2], shape[3]);
        let mut model = self.optimised(height, width).map_err(|e| self.invalid(e))?;
        let outlets: Vec<OutletId> = model
            .nodes()
            .iter()
            .filter(|node| !node.op_is::<tract_onnx::tract_core::ops::konst::Const>())
            .flat_map(|node| (0..node.outputs.len()).map(move |slot| OutletId::new(node.id, slot)))
            .collect();
        let names: Vec<String> = outlets.iter().map(|o| model.node(o.node).name.clone()).collect();
        model.select_output_outlets(&outlets).map_err(|e| self.invalid(e))?;
        let plan = model.into_runnable().map_err(|e| self.invalid(e))?;
        let outputs = plan.run(tvec!(input.into_tvalue())).map_err(|e| self.invalid(e))?;
        Ok(names.into_iter().zip(outputs.into_iter().map(|v| v.into_tensor())).collect())
    }
}

const FLOAT: i32 = pb::tensor_proto::DataType::Float as i32;
const INT8: i32 = pb::tensor_proto::DataType::Int8 as i32;
const UINT8: i32 = pb::tensor_proto::DataType::Uint8 as i32;

/// Reads an initialiser's values as f32, whatever its storage (raw bytes or typed fields).
fn tensor_values(t: &pb::TensorProto) -> Result<Vec<f32>, String> {
    let values: Vec<f32> = match (t.data_type, t.raw_data.is_empty()) {
        (FLOAT, false) => t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        (FLOAT, true) => t.float_data.clone(),
        (INT8, false) => t.raw_data.iter().map(|&b| b as i8 as f32).collect(),
        (INT8, true) => t.int32_data.iter().map(|&v| v as i8 as f32).collect(),
        (UINT8, false) => t.raw_data.iter().map(|&b| b as f32).collect(),
        (UINT8, true) => t.int32_data.iter().map(|&v| v as u8 as f32).collect(),
        (other, _) => return Err(format!("initialiser `{}` has unsupported type {other}", t.name)),
    };
    let expected: i64 = t.dims.iter().product();
    if values.len() as i64 != expected {
        return Err(format!("initialiser `{}` holds {} values for shape {:?}", t.name, values.len(), t.dims));
    }
    Ok(values)
}

fn int_attribute(node: &pb::NodeProto, name: &str) -> Option<i64> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

fn fold_blocked_dequantize(graph: &mut pb::GraphProto) -> Result<(), String> {
    let mut folded = Vec::new();
    let mut keep = Vec::with_capacity(graph.node.len());
    for node in std::mem::take(&mut graph.node) {
        let block = int_attribute(&node, "block_size").unwrap_or(0);
        if node.op_type != "DequantizeLinear" || block == 0 {
            keep.push(node);
            continue;
        }
        let find = |i: usize| {
            let name = node.input.get(i).ok_or_else(|| format!("`{}` lacks input {i}", node.name))?;
            graph
                .initializer
                .iter()
                .find(|t| &t.name == name)
                .ok_or_else(|| format!("blocked DequantizeLinear `{}` reads a non-constant", node.name))
        };
        let (x, scale) = (find(0)?, find(1)?);
        let zero_point = if node.input.len() > 2 { Some(tensor_values(find(2)?)?) } else { None };
        let axis = int_attribute(&node, "axis").unwrap_or(1);
        let values = dequantize_blocked(
            &x.dims,
            &tensor_values(x)?,
            &scale.dims,
            &tensor_values(scale)?,
            zero_point.as_deref(),
            axis,
            block,
        )?;
        let output = node.output.first().ok_or("DequantizeLinear without output")?.clone();
        folded.push(pb::TensorProto {
            name: output,
            dims: x.dims.clone(),
            data_type: FLOAT,
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
    }
    graph.node = keep;
    graph.initializer.extend(folded);
    Ok(())
}

/// `y[i] = (x[i] − zp[b]) · scale[b]`, where `b` is `i` with its `axis` coordinate divided by
/// `block` (ONNX opset 21 blocked quantisation).
fn dequantize_blocked(
    x_dims: &[i64],
    x: &[f32],
    scale_dims: &[i64],
    scale: &[f32],
    zero_point: Option<&[f32]>,
    axis: i64,
    block: i64,
) -> Result<Vec<f32>, String> {
    let rank = x_dims.len() as i64;
    let axis = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&axis) || scale_dims.len() != x_dims.len() || block <= 0 {
        return Err(format!("blocked DequantizeLinear with shapes {x_dims:?}/{scale_dims:?}"));
    }
    let axis = axis as usize;
    let (block, dim) = (block as usize, x_dims[axis] as usize);
    let inner: usize = x_dims[axis + 1..].iter().product::<i64>() as usize;
    let scale_axis = scale_dims[axis] as usize;
    if scale_axis != dim.div_ceil(block) || zero_point.is_some_and(|z| z.len() != scale.len()) {
        return Err(format!("blocked DequantizeLinear scale shape {scale_dims:?} for {x_dims:?}"));
    }
    let mut y = Vec::with_capacity(x.len());
    for (i, &q) in x.iter().enumerate() {
        let (outer, rest) = (i / (dim * inner), i % (dim * inner));
        let (a, within) = (rest / inner, rest % inner);
        let s = (outer * scale_axis + a / block) * inner + within;
        let zp = zero_point.map_or(0.0, |z| z[s]);
        y.push((q - zp) * scale[s]);
    }
    Ok(y)
}

fn rewrite_prelu(graph: &mut pb::GraphProto) {
    let zero = "veilwatch_prelu_zero".to_owned();
    let mut nodes = Vec::with_capacity(graph.node.len());
    let mut any = false;
    for node in std::mem::take(&mut graph.node) {
        if node.op_type != "PRelu" || node.input.len() != 2 || node.output.len() != 1 {
            nodes.push(node);
            continue;
        }
        any = true;
        let (x, slope, out) = (&node.input[0], &node.input[1], &node.output[0]);
        let tmp = |s: &str| format!("{out}_veilwatch_{s}");
        let op = |op: &str, inputs: Vec<String>, output: String| pb::NodeProto {
            name: output.clone(),
            op_type: op.to_owned(),
            input: inputs,
            output: vec![output],
            ..Default::default()
        };
        nodes.push(op("Relu", vec![x.clone()], tmp("pos")));
        nodes.push(op("Min", vec![x.clone(), zero.clone()], tmp("neg")));
        nodes.push(op("Mul", vec![tmp("neg"), slope.clone()], tmp("scaled")));
        nodes.push(op("Add", vec![tmp("pos"), tmp("scaled")], out.clone()));
    }
    graph.node = nodes;
    if any {
        graph.initializer.push(pb::TensorProto {
            name: zero,
            dims: vec![],
            data_type: FLOAT,
            raw_data: 0f32.to_le_bytes().to_vec(),
            ..Default::default()
        });
    }
}

/// Drops initialisers and declared graph inputs that no node reads any more. SFace declares its
/// original float weights as inputs without using them; tract would otherwise treat them as sources.
fn drop_unused(graph: &mut pb::GraphProto) {
    let used: HashSet<String> = graph.node.iter().flat_map(|n| n.input.iter().cloned()).collect();
    graph.initializer.retain(|t| used.contains(&t.name));
    graph.input.retain(|i| used.contains(&i.name));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_dequantisation_uses_each_blocks_scale_and_zero_point() {
        // 2×5 weights, blocks of 2 along axis 1 → 3 blocks per row.
        let x = [1., 2., 3., 4., 5., -1., -2., -3., -4., -5.];
        let scale = [1., 10., 100., 2., 20., 200.];
        let zp = [0., 1., 2., 0., -1., -2.];
        let y = dequantize_blocked(&[2, 5], &x, &[2, 3], &scale, Some(&zp), 1, 2).unwrap();
        assert_eq!(y, vec![1., 2., 20., 30., 300., -2., -4., -40., -60., -600.]);
    }

    #[test]
    fn inconsistent_block_shapes_are_refused() {
        let err = dequantize_blocked(&[2, 5], &[0.; 10], &[2, 2], &[1.; 4], None, 1, 2);
        assert!(err.is_err());
    }
}
