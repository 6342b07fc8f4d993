//! Face embedding with SFace (2021dec): an aligned 112×112 crop → a 128-d unit vector whose
//! cosine with another face's tells how alike they are.
//!
//! Guarantees: embeddings are L2-normalised, never printed by `Debug`, and zeroised on drop.

use zeroize::{Zeroize, ZeroizeOnDrop};

#[cfg(feature = "pipeline")]
pub use recognizer::Embedder;

pub const EMBEDDING_DIM: usize = 128;

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Embedding([f32; EMBEDDING_DIM]);

impl std::fmt::Debug for Embedding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Embedding(128-d, values withheld)")
    }
}

impl Embedding {
    /// Normalises `values`; `None` if they are not finite or all zero.
    pub fn from_values(values: &[f32]) -> Option<Embedding> {
        if values.len() != EMBEDDING_DIM || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm <= f32::EPSILON {
            return None;
        }
        let mut out = [0f32; EMBEDDING_DIM];
        for (o, v) in out.iter_mut().zip(values) {
            *o = v / norm;
        }
        Some(Embedding(out))
    }

    /// Wraps values as they are (not normalised): running sums for fusion.
    #[cfg(feature = "pipeline")]
    pub(crate) fn from_raw(values: [f32; EMBEDDING_DIM]) -> Embedding {
        Embedding(values)
    }

    pub fn values(&self) -> &[f32; EMBEDDING_DIM] {
        &self.0
    }

    pub fn cosine(&self, other: &Embedding) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }

    /// The normalised mean of several embeddings (enrolment from several images, track fusion).
    pub fn mean<'a>(items: impl IntoIterator<Item = &'a Embedding>) -> Option<Embedding> {
        let mut sum = zeroize::Zeroizing::new([0f32; EMBEDDING_DIM]);
        for e in items {
            for (s, v) in sum.iter_mut().zip(&e.0) {
                *s += v;
            }
        }
        Embedding::from_values(&sum[..])
    }
}

#[cfg(feature = "pipeline")]
mod recognizer {
    use tract_onnx::prelude::*;

    use super::Embedding;
    use crate::align::{AlignedFace, CROP_SIDE};
    use crate::error::{Error, ModelKind, Result};
    use crate::models::{run_and_wipe, wipe, Plan, VerifiedModel};

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
            let n = CROP_SIDE * CROP_SIDE;
            // SFace takes RGB 0–255 planes and normalises inside the graph.
            // Filled in place, so that no unwiped copy of the crop is left behind.
            let mut input = Tensor::zero::<f32>(&[1, 3, CROP_SIDE, CROP_SIDE]).map_err(|e| fail(format!("{e:#}")))?;
            {
                let mut view = input.try_as_plain_ram_mut().map_err(|e| fail(format!("{e:#}")))?;
                let planes = view.as_slice_mut::<f32>().map_err(|e| fail(format!("{e:#}")))?;
                for (i, px) in face.rgb().chunks_exact(3).enumerate() {
                    for c in 0..3 {
                        planes[c * n + i] = px[c] as f32;
                    }
                }
            }
            let mut outputs = run_and_wipe(&self.plan, input).map_err(|e| fail(format!("{e:#}")))?;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_unit_length_and_reject_garbage() {
        let mut v = [0f32; EMBEDDING_DIM];
        v[0] = 3.0;
        v[1] = 4.0;
        let e = Embedding::from_values(&v).unwrap();
        assert!((e.cosine(&e) - 1.0).abs() < 1e-6);
        assert!(Embedding::from_values(&[0.0; EMBEDDING_DIM]).is_none());
        assert!(Embedding::from_values(&[f32::NAN; EMBEDDING_DIM]).is_none());
        assert!(format!("{e:?}").contains("withheld"));
    }
}
