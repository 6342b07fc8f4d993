//! Templates as small integers, which is what BFV computes on: each component of the unit vector is
//! scaled by S = 128, rounded and clamped to [−63, 63], so the inner product of two quantised
//! templates divided by S² approximates their cosine (the accuracy cost is `veilwatch eval`'s sealed
//! column, checked on the whole dev split by `tests/accuracy.rs`: S = 64 cost 0.21 pp of TAR at
//! FMR 1e-5, over the 0.2 pp allowed). The probe the kiosk encrypts and the gallery rows at the authority
//! are quantised the same way.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::template::{Embedding, EMBEDDING_DIM};

/// The scale S.
pub const SCALE: f32 = 128.0;
/// The largest |component| after quantisation.
pub const MAX_COMPONENT: i64 = 63;

/// A quantised template. Zeroised on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Quantised(pub(crate) [i64; EMBEDDING_DIM]);

impl std::fmt::Debug for Quantised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Quantised(128-d, values withheld)")
    }
}

impl Quantised {
    pub fn of(embedding: &Embedding) -> Quantised {
        let mut out = [0i64; EMBEDDING_DIM];
        for (o, v) in out.iter_mut().zip(embedding.values()) {
            *o = ((v * SCALE).round() as i64).clamp(-MAX_COMPONENT, MAX_COMPONENT);
        }
        Quantised(out)
    }

    /// Components as they are; `None` unless 128 of them, each within [−63, 63].
    pub fn from_components(components: &[i64]) -> Option<Quantised> {
        let array: [i64; EMBEDDING_DIM] = components.try_into().ok()?;
        array.iter().all(|c| c.abs() <= MAX_COMPONENT).then_some(Quantised(array))
    }

    pub fn components(&self) -> &[i64; EMBEDDING_DIM] {
        &self.0
    }

    pub fn dot(&self, other: &Quantised) -> i64 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }

    /// The inner product as a cosine estimate (÷ S²).
    pub fn similarity(&self, other: &Quantised) -> f32 {
        self.dot(other) as f32 / (SCALE * SCALE)
    }
}

/// The integer threshold τ the authority compares ⟨q, T⟩ against for a cosine threshold.
pub fn threshold(cosine: f32) -> i64 {
    (cosine * SCALE * SCALE).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_vector_quantises_within_range_and_keeps_its_cosine_with_itself_near_one() {
        let values: Vec<f32> = (0..EMBEDDING_DIM).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
        let e = Embedding::from_values(&values).unwrap();
        let q = Quantised::of(&e);
        assert!(q.components().iter().all(|c| c.abs() <= MAX_COMPONENT));
        assert!((q.similarity(&q) - 1.0).abs() < 0.05, "{}", q.similarity(&q));
        assert!(Quantised::from_components(&[MAX_COMPONENT + 1; EMBEDDING_DIM]).is_none());
        assert!(Quantised::from_components(&[1; 127]).is_none());
    }
}
