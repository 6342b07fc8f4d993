//! m-of-L packed Shamir secret sharing (Franklin–Yung) of each entry's 128-bit record key, with
//! shares small enough to store one per (entry, table): 4 bytes.
//!
//! The key is eight GF(2^16) elements, split across two polynomials of degree m − 1, each packing
//! four of them as its values at four fixed "secret points". Each polynomial is pinned down by those
//! four values plus m − 4 uniformly random values at further fixed points; share l is the pair of
//! the two polynomials' values at x = l + 1.
//!
//! Guarantees: any m shares rebuild the key exactly. Fewer than m − 4 shares reveal nothing about
//! it (information-theoretically). Between m − 4 and m − 1 shares, each missing share leaves
//! 32 bits of the key to guess, checkable only by trying to open the AEAD-sealed record: with
//! m − 1 shares about 2^32 trial decryptions, with m − 2 about 2^64. This is the price of 4-byte
//! shares (a plain Shamir share of a 128-bit key is 16 bytes); the README states it.

use std::sync::OnceLock;

use zeroize::{Zeroize, Zeroizing};

/// Secrets packed per polynomial, and polynomials per key.
pub const PACKED: usize = 4;
pub const POLYNOMIALS: usize = 2;
pub const KEY_BYTES: usize = 16;
pub const SHARE_BYTES: usize = 4;
/// The largest number of tables: share points 1..=L must stay clear of the fixed points.
pub const MAX_TABLES: usize = 16_384;
/// The smallest threshold: below PACKED + 1 a single share would reveal part of the key.
pub const MIN_THRESHOLD: usize = PACKED + 4;

/// GF(2^16) with the primitive polynomial x^16 + x^12 + x^3 + x + 1, by log/exp tables.
struct Field {
    exp: Vec<u16>,
    log: Vec<u16>,
}

fn field() -> &'static Field {
    static FIELD: OnceLock<Field> = OnceLock::new();
    FIELD.get_or_init(|| {
        let mut exp = vec![0u16; 2 * 65_535];
        let mut log = vec![0u16; 65_536];
        let mut x: u32 = 1;
        for i in 0..65_535 {
            exp[i] = x as u16;
            exp[i + 65_535] = x as u16;
            log[x as usize] = i as u16;
            x <<= 1;
            if x & 0x1_0000 != 0 {
                x ^= 0x1_100B;
            }
        }
        Field { exp, log }
    })
}

fn mul(a: u16, b: u16) -> u16 {
    if a == 0 || b == 0 {
        return 0;
    }
    let f = field();
    f.exp[f.log[a as usize] as usize + f.log[b as usize] as usize]
}

fn inv(a: u16) -> u16 {
    debug_assert!(a != 0);
    let f = field();
    f.exp[(65_535 - f.log[a as usize] as usize) % 65_535]
}

fn secret_point(j: usize) -> u16 {
    (65_535 - j) as u16
}

fn random_point(j: usize) -> u16 {
    (65_535 - PACKED - j) as u16
}

pub fn share_point(table: usize) -> u16 {
    (table + 1) as u16
}

/// Value at `x` of the polynomial through `(points[i], values[i])`, by Lagrange interpolation.
fn interpolate(points: &[u16], values: &[u16], x: u16) -> u16 {
    let mut acc = 0u16;
    for (i, (&xi, &yi)) in points.iter().zip(values).enumerate() {
        let (mut num, mut den) = (1u16, 1u16);
        for (j, &xj) in points.iter().enumerate() {
            if i != j {
                num = mul(num, x ^ xj);
                den = mul(den, xi ^ xj);
            }
        }
        acc ^= mul(yi, mul(num, inv(den)));
    }
    acc
}

/// Splits keys into shares for one threshold and table count. The Lagrange weights depend only
/// on the points, so they are computed once and reused for every entry.
pub struct Dealer {
    tables: usize,
    threshold: usize,
    /// `weights[l][p]`: weight of defining point p in the value at share point l.
    weights: Vec<Vec<u16>>,
}

impl Dealer {
    pub fn new(tables: usize, threshold: usize) -> Dealer {
        assert!((1..=MAX_TABLES).contains(&tables) && (MIN_THRESHOLD..=tables).contains(&threshold));
        let points: Vec<u16> = (0..PACKED).map(secret_point).chain((0..threshold - PACKED).map(random_point)).collect();
        let denominators: Vec<u16> = points
            .iter()
            .enumerate()
            .map(|(i, &xi)| points.iter().enumerate().filter(|&(j, _)| j != i).fold(1, |d, (_, &xj)| mul(d, xi ^ xj)))
            .collect();
        let weights = (0..tables)
            .map(|l| {
                let x = share_point(l);
                let all = points.iter().fold(1, |n, &xj| mul(n, x ^ xj));
                points.iter().zip(&denominators).map(|(&xp, &den)| mul(all, inv(mul(x ^ xp, den)))).collect()
            })
            .collect();
        Dealer { tables, threshold, weights }
    }

    /// One 4-byte share per table. `randomness` supplies the polynomials' free values.
    pub fn split(&self, key: &[u8; KEY_BYTES], randomness: &mut impl rand_core::RngCore) -> Vec<[u8; SHARE_BYTES]> {
        let mut shares = vec![[0u8; SHARE_BYTES]; self.tables];
        for poly in 0..POLYNOMIALS {
            let mut values = Zeroizing::new(vec![0u16; self.threshold]);
            for (j, v) in values.iter_mut().enumerate() {
                *v = if j < PACKED {
                    let at = (poly * PACKED + j) * 2;
                    u16::from_be_bytes([key[at], key[at + 1]])
                } else {
                    randomness.next_u32() as u16
                };
            }
            for (share, weights) in shares.iter_mut().zip(&self.weights) {
                let y = weights.iter().zip(values.iter()).fold(0u16, |acc, (&w, &v)| acc ^ mul(w, v));
                share[poly * 2..poly * 2 + 2].copy_from_slice(&y.to_be_bytes());
            }
        }
        shares
    }
}

/// Rebuilds a key from at least `threshold` shares `(table, share)`; uses the first `threshold`.
/// `None` if there are too few or two shares claim the same table.
pub fn combine(shares: &[(u16, [u8; SHARE_BYTES])], threshold: usize) -> Option<Zeroizing<[u8; KEY_BYTES]>> {
    if shares.len() < threshold || threshold < MIN_THRESHOLD {
        return None;
    }
    let used = &shares[..threshold];
    let points: Vec<u16> = used.iter().map(|(l, _)| share_point(*l as usize)).collect();
    let mut sorted = points.clone();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return None;
    }
    let mut key = Zeroizing::new([0u8; KEY_BYTES]);
    for poly in 0..POLYNOMIALS {
        let mut values: Vec<u16> =
            used.iter().map(|(_, s)| u16::from_be_bytes([s[poly * 2], s[poly * 2 + 1]])).collect();
        for j in 0..PACKED {
            let v = interpolate(&points, &values, secret_point(j));
            let at = (poly * PACKED + j) * 2;
            key[at..at + 2].copy_from_slice(&v.to_be_bytes());
        }
        values.zeroize();
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn field_inverse_and_multiplication_agree() {
        for a in [1u16, 2, 3, 0x1234, 0xFFFF, 0x8000] {
            assert_eq!(mul(a, inv(a)), 1);
            assert_eq!(mul(a, 1), a);
        }
        // Distributivity over XOR (field addition).
        assert_eq!(mul(0x1234, 0x00FF ^ 0x0F0F), mul(0x1234, 0x00FF) ^ mul(0x1234, 0x0F0F));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn any_threshold_shares_rebuild_the_key(key in any::<[u8; 16]>(), seed in any::<u64>(), threshold in 8usize..40) {
            let tables = 64;
            let dealer = Dealer::new(tables, threshold);
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let shares = dealer.split(&key, &mut rng);
            // A pseudo-random subset of exactly `threshold` tables, in any order.
            let mut order: Vec<usize> = (0..tables).collect();
            for i in (1..tables).rev() {
                order.swap(i, (rand_chacha::rand_core::RngCore::next_u32(&mut rng) as usize) % (i + 1));
            }
            let subset: Vec<(u16, [u8; 4])> = order[..threshold].iter().map(|&l| (l as u16, shares[l])).collect();
            prop_assert_eq!(*combine(&subset, threshold).unwrap(), key);
            // One share fewer is refused, and a wrong share gives a different key.
            prop_assert!(combine(&subset[..threshold - 1], threshold).is_none());
            let mut tampered = subset.clone();
            tampered[0].1[0] ^= 1;
            prop_assert_ne!(*combine(&tampered, threshold).unwrap(), key);
        }
    }

    #[test]
    fn fewer_than_threshold_shares_cannot_rebuild_the_key() {
        // With m − 1 shares the polynomial is not determined: interpolating through them at the
        // threshold gives a different key (the one consistent with a made-up m-th share).
        let (tables, threshold) = (32, 12);
        let key = [0xA5u8; 16];
        let shares = Dealer::new(tables, threshold).split(&key, &mut ChaCha20Rng::seed_from_u64(1));
        let mut subset: Vec<(u16, [u8; 4])> = (0..threshold - 1).map(|l| (l as u16, shares[l])).collect();
        subset.push((31, [0, 0, 0, 0]));
        assert_ne!(*combine(&subset, threshold).unwrap(), key);
        assert!(combine(&subset[..threshold - 1], threshold).is_none());
    }

    #[test]
    fn duplicate_tables_are_refused() {
        let shares = vec![(3u16, [1, 2, 3, 4]); 8];
        assert!(combine(&shares, 8).is_none());
    }
}
