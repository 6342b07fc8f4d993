//! Cross-polytope locality-sensitive hashing (Andoni, Indyk, Laarhoven, Razenshteyn, Schmidt,
//! NeurIPS 2015; the FALCONN library): each table rotates the embedding pseudo-randomly and keeps
//! the signed index of its largest coordinate, a code in `0..2d`. Two unit vectors at angle θ get
//! the same code in a table with probability p(θ), which falls steeply with θ; counting equal
//! codes over L tables estimates their cosine without revealing either vector.
//!
//! Rotation per table: FALCONN's structured pseudo-random rotation `H·D3·H·D2·H·D1`, with `H` the
//! Walsh–Hadamard transform and `Dk` diagonal ±1 matrices drawn from a ChaCha20 stream keyed by
//! the watchlist's public 32-byte rotation seed (stream number = table index), so issuer and device
//! derive identical tables. The embedding is zero-padded to a power of two.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use zeroize::Zeroizing;

/// The hash family of one watchlist: its tables' sign patterns.
pub struct CrossPolytope {
    dim: usize,
    padded: usize,
    /// Per table, three sign vectors of `padded` bits each (true = −1).
    signs: Vec<[Vec<bool>; 3]>,
}

impl CrossPolytope {
    pub fn new(seed: &[u8; 32], dim: usize, tables: usize) -> CrossPolytope {
        let padded = dim.next_power_of_two().max(2);
        let signs = (0..tables)
            .map(|l| {
                let mut rng = ChaCha20Rng::from_seed(*seed);
                rng.set_stream(l as u64);
                let mut draw = || {
                    let mut bytes = vec![0u8; padded.div_ceil(8)];
                    rng.fill_bytes(&mut bytes);
                    (0..padded).map(|j| bytes[j / 8] >> (j % 8) & 1 == 1).collect::<Vec<bool>>()
                };
                [draw(), draw(), draw()]
            })
            .collect();
        CrossPolytope { dim, padded, signs }
    }

    pub fn tables(&self) -> usize {
        self.signs.len()
    }

    /// Codes per table: `2 · padded dimension`.
    pub fn code_space(&self) -> usize {
        2 * self.padded
    }

    /// Codes per table of the family for `dim`-dimensional templates.
    pub fn code_space_for(dim: usize) -> usize {
        2 * dim.next_power_of_two().max(2)
    }

    /// The code of `v` in every table. The working buffers are wiped afterwards.
    pub fn codes(&self, v: &[f32]) -> Zeroizing<Vec<u16>> {
        assert_eq!(v.len(), self.dim, "embedding dimension fixed by the watchlist");
        let mut codes = Zeroizing::new(Vec::with_capacity(self.signs.len()));
        let mut y = Zeroizing::new(vec![0f32; self.padded]);
        for signs in &self.signs {
            y[..self.dim].copy_from_slice(v);
            y[self.dim..].fill(0.0);
            for d in signs {
                for (x, &negative) in y.iter_mut().zip(d) {
                    if negative {
                        *x = -*x;
                    }
                }
                walsh_hadamard(&mut y);
            }
            let (best, value) =
                y.iter()
                    .enumerate()
                    .fold((0, 0f32), |(bi, bv), (i, &x)| if x.abs() > bv.abs() { (i, x) } else { (bi, bv) });
            codes.push((2 * best + usize::from(value > 0.0)) as u16);
        }
        codes
    }
}

/// In-place unnormalised fast Walsh–Hadamard transform (length a power of two).
fn walsh_hadamard(x: &mut [f32]) {
    let mut h = 1;
    while h < x.len() {
        for block in x.chunks_exact_mut(2 * h) {
            let (a, b) = block.split_at_mut(h);
            for (u, v) in a.iter_mut().zip(b.iter_mut()) {
                let (s, d) = (*u + *v, *u - *v);
                *u = s;
                *v = d;
            }
        }
        h *= 2;
    }
}

/// A random unit vector in `dim` dimensions (Box–Muller normals from `rng`).
fn random_unit(rng: &mut ChaCha20Rng, dim: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim)
        .map(|_| {
            let u1 = (rng.next_u32() as f64 + 1.0) / (u32::MAX as f64 + 2.0);
            let u2 = rng.next_u32() as f64 / u32::MAX as f64;
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// Monte-Carlo estimate of one table's collision probability for unit vectors at `cosine`.
pub fn simulate_collision_probability(cosine: f32, dim: usize, pairs: usize, tables: usize, seed: u64) -> f32 {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut collisions = 0usize;
    for _ in 0..pairs {
        let mut family_seed = [0u8; 32];
        rng.fill_bytes(&mut family_seed);
        let family = CrossPolytope::new(&family_seed, dim, tables);
        let u = random_unit(&mut rng, dim);
        let w = random_unit(&mut rng, dim);
        let along = u.iter().zip(&w).map(|(a, b)| a * b).sum::<f32>();
        let mut ortho: Vec<f32> = w.iter().zip(&u).map(|(b, a)| b - along * a).collect();
        let n = ortho.iter().map(|x| x * x).sum::<f32>().sqrt();
        ortho.iter_mut().for_each(|x| *x /= n);
        let s = (1.0 - cosine * cosine).max(0.0).sqrt();
        let v: Vec<f32> = u.iter().zip(&ortho).map(|(a, b)| cosine * a + s * b).collect();
        collisions += family.codes(&u).iter().zip(family.codes(&v).iter()).filter(|(a, b)| a == b).count();
    }
    collisions as f32 / (pairs * tables) as f32
}

/// One table's collision probability p(cos) for the 128-d family, at cos = 0, 0.05, …, 1,
/// estimated once by [`simulate_collision_probability`] (400 pairs × 1024 tables per point).
pub const COLLISION_TABLE: [f32; 21] = [
    0.00301, 0.00485, 0.00710, 0.01006, 0.01380, 0.01891, 0.02559, 0.03407, 0.04427, 0.05665, 0.07241, 0.09103,
    0.11304, 0.14155, 0.17510, 0.21844, 0.27007, 0.33727, 0.42879, 0.56920, 1.00000,
];

/// The cosine whose collision probability is `rate` (inverse of [`COLLISION_TABLE`], linear
/// between points); rates below p(0) map to 0.
pub fn implied_cosine(rate: f32) -> f32 {
    let t = &COLLISION_TABLE;
    if rate <= t[0] {
        return 0.0;
    }
    for i in 1..t.len() {
        if rate <= t[i] {
            let f = (rate - t[i - 1]) / (t[i] - t[i - 1]).max(f32::EPSILON);
            return (i as f32 - 1.0 + f) * 0.05;
        }
    }
    1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let v: Vec<f32> = (0..dim).map(|_| (rng.next_u32() as f32 / u32::MAX as f32) - 0.5).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    }

    #[test]
    fn the_collision_table_matches_a_fresh_simulation() {
        for (i, cosine) in [(8, 0.4f32), (12, 0.6), (16, 0.8)] {
            let p = simulate_collision_probability(cosine, 128, 40, 256, 99);
            assert!(
                (p - COLLISION_TABLE[i]).abs() < 0.1 * COLLISION_TABLE[i] + 0.005,
                "cos {cosine}: {p} vs {}",
                COLLISION_TABLE[i]
            );
        }
        assert!(COLLISION_TABLE.windows(2).all(|w| w[0] < w[1]), "p(cos) increases");
        assert!((implied_cosine(COLLISION_TABLE[10]) - 0.5).abs() < 1e-4);
    }

    #[test]
    fn hadamard_is_its_own_inverse_up_to_scale() {
        let mut x = vec![1.0, -2.0, 3.0, 0.5];
        walsh_hadamard(&mut x);
        walsh_hadamard(&mut x);
        assert_eq!(x, vec![4.0, -8.0, 12.0, 2.0]);
    }

    #[test]
    fn same_seed_same_codes_and_codes_in_range() {
        let a = CrossPolytope::new(&[7; 32], 128, 64);
        let b = CrossPolytope::new(&[7; 32], 128, 64);
        let v = unit(1, 128);
        assert_eq!(*a.codes(&v), *b.codes(&v));
        assert!(a.codes(&v).iter().all(|&c| (c as usize) < a.code_space()));
        let other_seed = CrossPolytope::new(&[8; 32], 128, 64);
        assert_ne!(*a.codes(&v), *other_seed.codes(&v));
    }

    #[test]
    fn near_vectors_collide_more_than_far_ones() {
        let family = CrossPolytope::new(&[3; 32], 128, 512);
        let a = unit(1, 128);
        let far = unit(2, 128);
        let near: Vec<f32> = a.iter().zip(&far).map(|(x, y)| x + 0.3 * y).collect();
        let (ca, cn, cf) = (family.codes(&a), family.codes(&near), family.codes(&far));
        let same = |x: &[u16], y: &[u16]| x.iter().zip(y).filter(|(p, q)| p == q).count();
        assert!(same(&ca, &cn) > 5 * same(&ca, &cf).max(1), "{} vs {}", same(&ca, &cn), same(&ca, &cf));
        assert_eq!(same(&ca, &ca), 512);
    }
}
