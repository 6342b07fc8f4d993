//! The face template: a 128-d unit vector whose cosine with another tells how alike two faces are.
//! It is the one type the face pipeline produces (SFace's output, a track's fused mean, an
//! enrolment's mean) and the blind scheme consumes (LSH codes are computed from it), so that neither
//! of the two has to know the other.
//!
//! Guarantees: templates are L2-normalised, never printed by `Debug`, and zeroised on drop.

use zeroize::{Zeroize, ZeroizeOnDrop};

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

    /// `values` exactly as they are, when they already have unit length (within 1e-3, as a stored
    /// template has): a file read back holds the very embedding written. `None` otherwise.
    pub fn from_unit_values(values: &[f32]) -> Option<Embedding> {
        let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
        if values.len() != EMBEDDING_DIM || !norm.is_finite() || (norm - 1.0).abs() >= 1e-3 {
            return None;
        }
        let mut out = [0f32; EMBEDDING_DIM];
        out.copy_from_slice(values);
        Some(Embedding(out))
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
