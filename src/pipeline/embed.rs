//! Face embedding with SFace (2021dec): an aligned 112×112 crop → a 128-d unit [`Embedding`].
//!
//! Guarantees: the model input is built in place and wiped after the run, its outputs once read;
//! the embedding is normalised (see [`crate::template`]).

use tract_onnx::prelude::*;

use super::align::{AlignedFace, CROP_SIDE};
use super::error::{Error, ModelKind, Result};
use super::models::{run_and_wipe, wipe, Plan, VerifiedModel};
use crate::template::Embedding;

/// The embedding model a watchlist's templates come from: a device running another model must
/// refuse the watchlist (its codes would mean nothing). Passed to the blind scheme by its callers.
pub const MODEL_ID: &str = "sface-2021dec-int8bq";

pub struct Embedder {
    plan: Plan,
}

impl Embedder {
    pub fn from_bytes(bytes: &[u8]) -> Result<Embedder> {
        let model = VerifiedModel::from_bytes(ModelKind::Recognizer, bytes)?;
        Ok(Embedder { plan: model.plan(CROP_SIDE, CROP_SIDE)? })
    }

    pub fn embed(&self, face: &AlignedFace) -> Result<Embedding> {
        let fail = |reason: String| Error::Inference { model: ModelKind::Recognizer, reason };
        let mut outputs = run_and_wipe(&self.plan, input_tensor(face)?).map_err(|e| fail(format!("{e:#}")))?;
        let values: zeroize::Zeroizing<Vec<f32>> = outputs
            .first()
            .ok_or_else(|| fail("no output".into()))?
            .to_plain_array_view::<f32>()
            .map_err(|e| fail(format!("{e:#}")))?
            .iter()
            .copied()
            .collect::<Vec<f32>>()
            .into();
        outputs.iter_mut().for_each(wipe);
        Embedding::from_values(&values).ok_or_else(|| fail("the embedding is zero or not finite".into()))
    }
}

/// The recogniser's input for an aligned crop: SFace takes RGB 0–255 planes and normalises inside
/// the graph. Filled in place, so that no unwiped copy of the crop is left behind.
pub(crate) fn input_tensor(face: &AlignedFace) -> Result<Tensor> {
    let fail = |e: TractError| Error::Inference { model: ModelKind::Recognizer, reason: format!("{e:#}") };
    let n = CROP_SIDE * CROP_SIDE;
    let mut input = Tensor::zero::<f32>(&[1, 3, CROP_SIDE, CROP_SIDE]).map_err(fail)?;
    {
        let mut view = input.try_as_plain_ram_mut().map_err(fail)?;
        let planes = view.as_slice_mut::<f32>().map_err(fail)?;
        for (i, px) in face.rgb().chunks_exact(3).enumerate() {
            for c in 0..3 {
                planes[c * n + i] = px[c] as f32;
            }
        }
    }
    Ok(input)
}
