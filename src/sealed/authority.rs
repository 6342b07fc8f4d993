//! The authority's side of sealed custody: the gallery it holds and the answer it computes for one
//! face under the kiosk's encryption (DESIGN §3.4 step 2).
//!
//! For one query the authority
//! 1. parses the kiosk's `c0` against the `a`-part of the seed it issued (never one the kiosk chose);
//! 2. rotates the kiosk's ciphertext by 1, 127 times (baby steps on the kiosk's own ciphertext only;
//!    no rotation ever touches a gallery value);
//! 3. assigns the N gallery rows, the dummy rows that pad them to whole blocks of 8 192, and the
//!    decoys to slots by a fresh random permutation;
//! 4. computes, per slot, v = r·x' + r' with x' = 2(⟨q, T⟩ − τ) + 1 (odd, never zero), r log-uniform
//!    in [2^14, 2^30), r' uniform in [0, r) — the masks are folded into the diagonal plaintexts
//!    (2r·T) and a constant, so the answer costs one plaintext product per diagonal; a dummy row is
//!    a zero template (x' = 1 − 2τ < 0); a decoy is a constant positive v drawn like a real
//!    positive's;
//! 5. re-randomises with an encryption of zero under the kiosk's public key and its own randomness,
//!    adds flooding noise uniform in [−Δ/4, Δ/4], and switches down to q₀q₁.
//!
//! It keeps the [`QueryOpening`] (permutation, masks, decoys) for the claim; the claim protocol
//! (commitment, range proof, disclosure) is the next step of issue 20.

use fhe::bfv::{dot_product_scalar, Ciphertext, Encoding, EvaluationKey, Plaintext, PublicKey};
use fhe_math::rq::{traits::TryConvertFrom, Poly, Representation};
use fhe_traits::{FheEncoder, FheEncrypter};
use num_bigint::BigUint;
use rand_chacha09::rand_core::{CryptoRng, RngCore};

use super::params::{self, ANSWER_LEVEL, DEGREE, MASK_MAX, MASK_MIN, PLAINTEXT_MODULUS, ROW_SLOTS};
use super::quantise::{Quantised, SCALE};
use super::wire::{self, Seed};
use super::SealedError;
use crate::template::EMBEDDING_DIM;

/// The gallery rows (quantised templates) of one deployment.
pub struct SealedGallery {
    rows: Vec<Quantised>,
}

/// A kiosk's registered keys, parsed once.
pub struct RegisteredKiosk {
    public_key: PublicKey,
    rotations: EvaluationKey,
}

/// What one slot of an answer holds, kept by the authority until the claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotContent {
    /// Gallery row `row`.
    Row(usize),
    /// A dummy row (zero template): always negative.
    Dummy,
    /// A decoy: always positive.
    Decoy,
}

/// One slot's secrets.
#[derive(Clone, Copy, Debug)]
pub struct SlotOpening {
    pub content: SlotContent,
    pub r: u64,
    pub r_prime: u64,
}

/// The per-query state the claim is checked against: every slot's content and masks, per block.
pub struct QueryOpening {
    pub slots: Vec<Vec<SlotOpening>>,
}

/// Tunables of one answer besides the fixed parameters.
#[derive(Clone, Copy, Debug)]
pub struct AnswerOptions {
    /// Cosine threshold; τ = round(threshold·S²).
    pub threshold: f32,
    /// Probability that an answer carries one decoy.
    pub decoy_probability: f64,
}

impl SealedGallery {
    pub fn new(rows: Vec<Quantised>) -> SealedGallery {
        SealedGallery { rows }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Blocks of 8 192 slots an answer has: the rows plus room for one decoy, rounded up.
    pub fn blocks(&self) -> usize {
        (self.rows.len() + 1).div_ceil(DEGREE)
    }
}

impl RegisteredKiosk {
    /// Parses a kiosk's registration against the key seed the authority issued it.
    pub fn register(key_seed: &Seed, public_key: &[u8], rotation_key: &[u8]) -> Result<RegisteredKiosk, SealedError> {
        Ok(RegisteredKiosk {
            public_key: wire::seeded_public_key(public_key, key_seed)?,
            rotations: wire::parse_rotation_key(rotation_key)?,
        })
    }
}

/// A uniform integer in [0, bound).
fn below<R: RngCore>(rng: &mut R, bound: u64) -> u64 {
    let zone = u64::MAX - u64::MAX % bound;
    loop {
        let x = rng.next_u64();
        if x < zone {
            return x % bound;
        }
    }
}

/// r log-uniform in [MASK_MIN, MASK_MAX).
fn mask_factor<R: RngCore>(rng: &mut R) -> u64 {
    let (lo, hi) = ((MASK_MIN as f64).log2(), (MASK_MAX as f64).log2());
    let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (2f64.powf(lo + unit * (hi - lo)) as u64).clamp(MASK_MIN, MASK_MAX - 1)
}

fn mod_t(x: i128) -> u64 {
    x.rem_euclid(PLAINTEXT_MODULUS as i128) as u64
}

/// A polynomial with coefficients uniform in [−bound, bound], in NTT form at level 0.
fn flooding<R: RngCore>(rng: &mut R, bound: &BigUint) -> Result<Poly, SealedError> {
    let par = params::bfv();
    let ctx = par.context_at_level(0)?;
    let q = ctx.modulus();
    let width = bound * 2u32 + 1u32;
    let bytes = (width.bits() as usize).div_ceil(8) + 16;
    let mut buffer = vec![0u8; bytes];
    let coefficients: Vec<BigUint> = (0..DEGREE)
        .map(|_| {
            rng.fill_bytes(&mut buffer);
            // 128 extra bits make the reduction's bias negligible.
            let offset = BigUint::from_bytes_le(&buffer) % &width;
            (offset + q - bound) % q
        })
        .collect();
    let mut poly = Poly::try_convert_from(coefficients.as_slice(), ctx, false, Representation::PowerBasis)?;
    poly.change_representation(Representation::Ntt);
    Ok(poly)
}

/// The authority's answer to one query: one ciphertext per block of 8 192 slots.
pub fn answer<R: RngCore + CryptoRng>(
    gallery: &SealedGallery,
    kiosk: &RegisteredKiosk,
    query_seed: &Seed,
    query_c0: &[u8],
    options: AnswerOptions,
    rng: &mut R,
) -> Result<(Vec<Vec<u8>>, QueryOpening), SealedError> {
    let par = params::bfv();
    let query = wire::seeded_ciphertext(query_c0, query_seed)?;

    // Baby steps on the kiosk's own ciphertext: rotations[k] holds the probe turned by k.
    let mut rotations: Vec<Ciphertext> = Vec::with_capacity(EMBEDDING_DIM);
    rotations.push(query);
    for k in 1..EMBEDDING_DIM {
        let next = kiosk.rotations.rotates_columns_by(&rotations[k - 1], 1)?;
        rotations.push(next);
    }

    // The fresh permutation: rows, then one decoy (sometimes), then dummies, shuffled.
    let blocks = gallery.blocks();
    let total = blocks * DEGREE;
    let mut contents: Vec<SlotContent> = (0..gallery.len()).map(SlotContent::Row).collect();
    let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    if unit < options.decoy_probability {
        contents.push(SlotContent::Decoy);
    }
    contents.resize(total, SlotContent::Dummy);
    for i in (1..total).rev() {
        contents.swap(i, below(rng, i as u64 + 1) as usize);
    }

    let tau = (options.threshold * SCALE * SCALE).round() as i128;
    let largest_decoy = (2.0 * 0.2 * SCALE * SCALE) as u64;
    let flood = params::flooding_bound();
    let mut answers = Vec::with_capacity(blocks);
    let mut opening = QueryOpening { slots: Vec::with_capacity(blocks) };
    for block in contents.chunks(DEGREE) {
        let slots: Vec<SlotOpening> = block
            .iter()
            .map(|&content| {
                let r = mask_factor(rng);
                SlotOpening { content, r, r_prime: below(rng, r) }
            })
            .collect();
        // diagonals[k][s] = 2r·T[(s + k) mod 128] for the row at slot s; constant[s] = r(1 − 2τ) + r'.
        let mut diagonals = vec![vec![0u64; DEGREE]; EMBEDDING_DIM];
        let mut constant = vec![0u64; DEGREE];
        for (s, slot) in slots.iter().enumerate() {
            let (r, r_prime) = (slot.r as i128, slot.r_prime as i128);
            match slot.content {
                SlotContent::Row(row) => {
                    let template = gallery.rows[row].components();
                    let column = s % ROW_SLOTS;
                    for (k, diagonal) in diagonals.iter_mut().enumerate() {
                        diagonal[s] = mod_t(2 * r * template[(column + k) % EMBEDDING_DIM] as i128);
                    }
                    constant[s] = mod_t(r * (1 - 2 * tau) + r_prime);
                }
                SlotContent::Dummy => constant[s] = mod_t(r * (1 - 2 * tau) + r_prime),
                SlotContent::Decoy => {
                    let x = 2 * below(rng, largest_decoy / 2) as i128 + 1;
                    constant[s] = mod_t(r * x + r_prime);
                }
            }
        }
        let plaintexts: Vec<Plaintext> = diagonals
            .iter()
            .map(|d| Plaintext::try_encode(d.as_slice(), Encoding::simd(), par))
            .collect::<Result<_, _>>()?;
        let mut sum = dot_product_scalar(rotations.iter(), plaintexts.iter())?;
        sum += &Plaintext::try_encode(constant.as_slice(), Encoding::simd(), par)?;

        // Re-randomise with the authority's own randomness, flood, switch down.
        let zero = Plaintext::zero(Encoding::simd(), par)?;
        sum += &kiosk.public_key.try_encrypt(&zero, rng)?;
        sum[0] += &flooding(rng, &flood)?;
        sum.switch_to_level(ANSWER_LEVEL)?;
        answers.push(wire::answer_bytes(&sum));
        opening.slots.push(slots);
    }
    Ok((answers, opening))
}
