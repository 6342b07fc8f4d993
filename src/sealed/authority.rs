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
//!    in [2^14, 2^28), r' uniform in [0, r) — the masks are folded into the diagonal plaintexts
//!    (2r·T) and a constant, so the answer costs one plaintext product per diagonal; a dummy row is
//!    a zero template (x' = 1 − 2τ < 0); a decoy is a constant positive v drawn like a real
//!    positive's;
//! 5. re-randomises with an encryption of zero under the kiosk's public key and its own randomness,
//!    adds flooding noise uniform in [−Δ/4, Δ/4], and switches down to q₀q₁.
//!
//! It returns the [`QueryOpening`] (permutation, masks, decoys); the service keeps it as a
//! [`SlotMap`] for the claim (`authority::service::sealed`, `sealed::claim`).

use fhe::bfv::{dot_product_scalar, Ciphertext, Encoding, EvaluationKey, Plaintext, PublicKey};
use fhe_math::rq::{traits::TryConvertFrom, Poly, Representation};
use fhe_traits::{FheEncoder, FheEncrypter};
use num_bigint::BigUint;
use rand_chacha09::rand_core::{CryptoRng, RngCore, SeedableRng};
use rand_chacha09::ChaCha20Rng;
use rayon::prelude::*;

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

/// Which slot of an answer holds what, and its masks: the [`QueryOpening`] as the authority keeps
/// it until the claim (`sealed::claim` opens the masks of the claimed slots).
///
/// Bytes: blocks (u16 LE), then every slot of every block as a u32 LE (the row index, or
/// `u32::MAX` for a dummy, `u32::MAX − 1` for a decoy), r (u64 LE) and r' (u64 LE).
#[derive(Debug, Clone)]
pub struct SlotMap {
    blocks: Vec<Vec<SlotOpening>>,
}

const SLOT_BYTES: usize = 4 + 8 + 8;

const DUMMY_CODE: u32 = u32::MAX;
const DECOY_CODE: u32 = u32::MAX - 1;

impl QueryOpening {
    pub fn slot_map(&self) -> SlotMap {
        SlotMap { blocks: self.slots.clone() }
    }
}

impl SlotMap {
    /// What `(block, slot)` holds and its masks, if the answer has that slot.
    pub fn get(&self, block: usize, slot: usize) -> Option<SlotOpening> {
        self.blocks.get(block)?.get(slot).copied()
    }

    /// The decoys' slots, as (block, slot).
    pub fn decoys(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (b, block) in self.blocks.iter().enumerate() {
            out.extend(block.iter().enumerate().filter(|(_, o)| o.content == SlotContent::Decoy).map(|(s, _)| (b, s)));
        }
        out
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + SLOT_BYTES * DEGREE * self.blocks.len());
        out.extend_from_slice(&(self.blocks.len() as u16).to_le_bytes());
        for opening in self.blocks.iter().flatten() {
            let code = match opening.content {
                SlotContent::Row(row) => row as u32,
                SlotContent::Dummy => DUMMY_CODE,
                SlotContent::Decoy => DECOY_CODE,
            };
            out.extend_from_slice(&code.to_le_bytes());
            out.extend_from_slice(&opening.r.to_le_bytes());
            out.extend_from_slice(&opening.r_prime.to_le_bytes());
        }
        out
    }

    /// Parses a stored slot map of a gallery of `rows` rows.
    pub fn parse(bytes: &[u8], rows: usize) -> Result<SlotMap, SealedError> {
        let malformed = SealedError::Malformed("a stored slot map does not parse");
        if bytes.len() < 2 {
            return Err(malformed);
        }
        let count = u16::from_le_bytes([bytes[0], bytes[1]]) as usize;
        if bytes.len() != 2 + SLOT_BYTES * DEGREE * count {
            return Err(malformed);
        }
        let word = |c: &[u8]| u64::from_le_bytes(c.try_into().expect("8 bytes"));
        let openings: Vec<SlotOpening> = bytes[2..]
            .chunks_exact(SLOT_BYTES)
            .map(|c| {
                let content = match u32::from_le_bytes(c[..4].try_into().expect("4 bytes")) {
                    DUMMY_CODE => SlotContent::Dummy,
                    DECOY_CODE => SlotContent::Decoy,
                    row if (row as usize) < rows => SlotContent::Row(row as usize),
                    _ => return Err(SealedError::Malformed("a stored slot map names a row the gallery does not have")),
                };
                Ok(SlotOpening { content, r: word(&c[4..12]), r_prime: word(&c[12..]) })
            })
            .collect::<Result<_, _>>()?;
        Ok(SlotMap { blocks: openings.chunks(DEGREE).map(<[SlotOpening]>::to_vec).collect() })
    }
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

/// One answer block as drawn, before any ciphertext work: its slots' secrets, the constant
/// plaintext's values, and the seed of the block's own generator for re-randomisation and flooding.
struct BlockPlan {
    slots: Vec<SlotOpening>,
    constant: Vec<u64>,
    seed: [u8; 32],
}

/// The authority's answer to one query: one ciphertext per block of 8 192 slots.
///
/// Everything random is drawn from `rng` first, in one sequence (permutation, masks, decoys, and a
/// seed per block for a ChaCha20 generator of its own); the ciphertext work then runs on rayon's
/// pool: the 127 rotations (a chain: each turns the previous one) alongside the first block's 128
/// diagonal plaintexts, then the blocks side by side. On a pool of one thread this is the
/// sequential computation; the answer's distribution does not depend on the pool.
pub fn answer<R: RngCore + CryptoRng>(
    gallery: &SealedGallery,
    kiosk: &RegisteredKiosk,
    query_seed: &Seed,
    query_c0: &[u8],
    options: AnswerOptions,
    rng: &mut R,
) -> Result<(Vec<Vec<u8>>, QueryOpening), SealedError> {
    let query = wire::seeded_ciphertext(query_c0, query_seed)?;
    let plans = draw_blocks(gallery, options, rng);

    // Baby steps on the kiosk's own ciphertext (rotations[k] holds the probe turned by k), while
    // the first block's diagonals are encoded.
    let (rotations, first) = rayon::join(
        || -> Result<Vec<Ciphertext>, SealedError> {
            let mut rotations: Vec<Ciphertext> = Vec::with_capacity(EMBEDDING_DIM);
            rotations.push(query);
            for k in 1..EMBEDDING_DIM {
                let next = kiosk.rotations.rotates_columns_by(&rotations[k - 1], 1)?;
                rotations.push(next);
            }
            Ok(rotations)
        },
        || diagonal_plaintexts(gallery, &plans[0]),
    );
    let rotations = rotations?;
    let first = finish_block(kiosk, &rotations, &plans[0], first?)?;
    let rest: Vec<Vec<u8>> = plans[1..]
        .par_iter()
        .map(|plan| finish_block(kiosk, &rotations, plan, diagonal_plaintexts(gallery, plan)?))
        .collect::<Result<_, _>>()?;
    let mut answers = Vec::with_capacity(plans.len());
    answers.push(first);
    answers.extend(rest);
    let opening = QueryOpening { slots: plans.into_iter().map(|plan| plan.slots).collect() };
    Ok((answers, opening))
}

/// The fresh permutation (rows, then one decoy sometimes, then dummies, shuffled), every slot's
/// masks, the constant plaintext's values and each block's generator seed.
fn draw_blocks<R: RngCore + CryptoRng>(gallery: &SealedGallery, options: AnswerOptions, rng: &mut R) -> Vec<BlockPlan> {
    let total = gallery.blocks() * DEGREE;
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
    contents
        .chunks(DEGREE)
        .map(|block| {
            let slots: Vec<SlotOpening> = block
                .iter()
                .map(|&content| {
                    let r = mask_factor(rng);
                    SlotOpening { content, r, r_prime: below(rng, r) }
                })
                .collect();
            // constant[s] = r(1 − 2τ) + r' for a row or a dummy; r·x + r' for a decoy.
            let constant = slots
                .iter()
                .map(|slot| {
                    let (r, r_prime) = (slot.r as i128, slot.r_prime as i128);
                    match slot.content {
                        SlotContent::Row(_) | SlotContent::Dummy => mod_t(r * (1 - 2 * tau) + r_prime),
                        SlotContent::Decoy => {
                            let x = 2 * below(rng, largest_decoy / 2) as i128 + 1;
                            mod_t(r * x + r_prime)
                        }
                    }
                })
                .collect();
            let mut seed = [0u8; 32];
            rng.fill_bytes(&mut seed);
            BlockPlan { slots, constant, seed }
        })
        .collect()
}

/// The block's 128 diagonal plaintexts, encoded in parallel: diagonals[k][s] = 2r·T[(s + k) mod
/// 128] for the row at slot s (the mask folded in), zero for dummies and decoys.
fn diagonal_plaintexts(gallery: &SealedGallery, plan: &BlockPlan) -> Result<Vec<Plaintext>, SealedError> {
    let par = params::bfv();
    (0..EMBEDDING_DIM)
        .into_par_iter()
        .map(|k| {
            let diagonal: Vec<u64> = plan
                .slots
                .iter()
                .enumerate()
                .map(|(s, slot)| match slot.content {
                    SlotContent::Row(row) => {
                        // |2r·c| < 2^29·63 < t: one conditional addition reduces it (no division).
                        let component = gallery.rows[row].components()[(s % ROW_SLOTS + k) % EMBEDDING_DIM];
                        let product = 2 * slot.r as i64 * component;
                        if product < 0 {
                            (product + PLAINTEXT_MODULUS as i64) as u64
                        } else {
                            product as u64
                        }
                    }
                    SlotContent::Dummy | SlotContent::Decoy => 0,
                })
                .collect();
            Ok(Plaintext::try_encode(diagonal.as_slice(), Encoding::simd(), par)?)
        })
        .collect()
}

/// One block's answer: the diagonal products summed, the constant added, re-randomised with an
/// encryption of zero under the kiosk's public key and the authority's own randomness, flooded,
/// switched down, serialised.
fn finish_block(
    kiosk: &RegisteredKiosk,
    rotations: &[Ciphertext],
    plan: &BlockPlan,
    diagonals: Vec<Plaintext>,
) -> Result<Vec<u8>, SealedError> {
    let par = params::bfv();
    let mut rng = ChaCha20Rng::from_seed(plan.seed);
    let mut sum = dot_product_scalar(rotations.iter(), diagonals.iter())?;
    sum += &Plaintext::try_encode(plan.constant.as_slice(), Encoding::simd(), par)?;
    let zero = Plaintext::zero(Encoding::simd(), par)?;
    sum += &kiosk.public_key.try_encrypt(&zero, &mut rng)?;
    sum[0] += &flooding(&mut rng, &params::flooding_bound())?;
    sum.switch_to_level(ANSWER_LEVEL)?;
    Ok(wire::answer_bytes(&sum))
}
