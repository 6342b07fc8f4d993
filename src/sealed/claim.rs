//! The claim of one positive slot (DESIGN §3.4 step 3), without revealing the slot's value.
//!
//! 1. The kiosk commits to the slot's decrypted value v: C = v·B + γ·B̃ (Pedersen on ristretto255,
//!    the `bulletproofs` crate's generators), before it knows the slot's masks.
//! 2. The authority opens the masks (r, r') of the claimed slots.
//! 3. The kiosk proves, with a Bulletproofs range proof of [`RANGE_BITS`] bits, that
//!    y = x' − 1 = (v − r' − r)/r lies in [0, 2^32), against the commitment the authority derives
//!    itself from C and its own masks: C' = (C − (r + r')·B)·r⁻¹ = y·B + (γ·r⁻¹)·B̃. So x' ≥ 1: the
//!    slot is positive, and v is never revealed (the decryption-oracle rule of §3.4).
//!
//! Why it binds: for a slot that is not positive (x' ≤ −1), or a value the kiosk did not decrypt,
//! the kiosk would have to have committed, before seeing r and r', to a v with (v − r' − r)·r⁻¹ a
//! scalar below 2^32, i.e. to guess r' and a multiple of r (r ≥ 2^14, r' < r uniform): one chance
//! in more than 2^28. The transcript binds each proof to (query id, block, slot).
//!
//! **What the opening costs** (a finding against §3.4, measured by nothing yet): the opened r, r'
//! and the kiosk's own v give the kiosk x' = (v − r')/r exactly — the exact score
//! 2(⟨q, T⟩ − τ) + 1 of every slot it claims, not one bit. An honest kiosk claims positive slots
//! only (real matches and decoys), but a kiosk running its own code can claim a negative real row,
//! read its exact score from the opening, and then fail the proof: a counted refusal, two of which
//! suspend it.

use bulletproofs::{BulletproofGens, PedersenGens, RangeProof};
use curve25519_dalek::ristretto::CompressedRistretto;
use curve25519_dalek::scalar::Scalar;
use merlin::Transcript;
use rand_core::OsRng;
use zeroize::Zeroize;

use super::params::{MASK_MAX, MASK_MIN};
use super::SealedError;

/// Bytes of a query id (the protocol's, which builds its claim bodies on this module's sizes).
pub const QUERY_ID_BYTES: usize = 16;
/// Bits of the range proof: y = x' − 1 ∈ [0, 2^32) (honest x' < 2^19, see `params`).
pub const RANGE_BITS: usize = 32;
/// Bytes of one commitment.
pub const COMMITMENT_BYTES: usize = 32;
/// The most bytes one proof may have (a 32-bit single proof is 608).
pub const MAX_PROOF_BYTES: usize = 1024;

fn generators() -> (PedersenGens, BulletproofGens) {
    (PedersenGens::default(), BulletproofGens::new(RANGE_BITS, 1))
}

fn transcript(query: &[u8; QUERY_ID_BYTES], block: usize, slot: usize) -> Transcript {
    let mut transcript = Transcript::new(b"veilwatch/sealed-claim/v1");
    transcript.append_message(b"query", query);
    transcript.append_u64(b"block", block as u64);
    transcript.append_u64(b"slot", slot as u64);
    transcript
}

/// The kiosk's secret side of one commitment: the value and its blinding. Wiped on drop.
pub struct CommitmentSecret {
    value: i64,
    blinding: Scalar,
}

impl Drop for CommitmentSecret {
    fn drop(&mut self) {
        self.value.zeroize();
        self.blinding.zeroize();
    }
}

impl std::fmt::Debug for CommitmentSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommitmentSecret(withheld)")
    }
}

fn signed_scalar(value: i64) -> Scalar {
    if value >= 0 {
        Scalar::from(value as u64)
    } else {
        -Scalar::from(value.unsigned_abs())
    }
}

/// Step 1: the commitment to a slot's decrypted value.
pub fn commit(value: i64) -> ([u8; COMMITMENT_BYTES], CommitmentSecret) {
    let blinding = Scalar::random(&mut OsRng);
    let commitment = PedersenGens::default().commit(signed_scalar(value), blinding).compress().to_bytes();
    (commitment, CommitmentSecret { value, blinding })
}

/// Masks an honest authority can have drawn.
fn masks_in_range(r: u64, r_prime: u64) -> bool {
    (MASK_MIN..MASK_MAX).contains(&r) && r_prime < r
}

/// Step 3: the range proof for the opened masks. Refused ([`SealedError::OutOfRange`]) when the
/// masks are not an honest authority's or do not open the committed value to a positive x' (the
/// kiosk then pauses and re-keys instead of proving anything).
pub fn prove(
    secret: &CommitmentSecret,
    r: u64,
    r_prime: u64,
    query: &[u8; QUERY_ID_BYTES],
    block: usize,
    slot: usize,
) -> Result<Vec<u8>, SealedError> {
    if !masks_in_range(r, r_prime) {
        return Err(SealedError::OutOfRange("the opened masks are outside the honest range"));
    }
    let shifted = i128::from(secret.value) - i128::from(r_prime) - i128::from(r);
    if shifted < 0 || shifted % i128::from(r) != 0 || shifted / i128::from(r) >= 1 << RANGE_BITS {
        return Err(SealedError::OutOfRange("the opened masks do not make this slot's value a positive score"));
    }
    let y = (shifted / i128::from(r)) as u64;
    let blinding = secret.blinding * Scalar::from(r).invert();
    let (pedersen, bulletproof) = generators();
    let (proof, _) = RangeProof::prove_single(
        &bulletproof,
        &pedersen,
        &mut transcript(query, block, slot),
        y,
        &blinding,
        RANGE_BITS,
    )
    .map_err(|e| SealedError::Bfv(format!("range proof: {e}")))?;
    Ok(proof.to_bytes())
}

/// The authority's check of step 3: `proof` shows that the slot committed to in `commitment`
/// is positive under the masks (r, r') the authority drew.
pub fn verify(
    commitment: &[u8; COMMITMENT_BYTES],
    r: u64,
    r_prime: u64,
    proof: &[u8],
    query: &[u8; QUERY_ID_BYTES],
    block: usize,
    slot: usize,
) -> bool {
    if r == 0 || proof.len() > MAX_PROOF_BYTES {
        return false;
    }
    let Some(point) = CompressedRistretto(*commitment).decompress() else { return false };
    let Ok(proof) = RangeProof::from_bytes(proof) else { return false };
    let (pedersen, bulletproof) = generators();
    let derived = (point - pedersen.B * Scalar::from(u128::from(r) + u128::from(r_prime))) * Scalar::from(r).invert();
    proof
        .verify_single(&bulletproof, &pedersen, &mut transcript(query, block, slot), &derived.compress(), RANGE_BITS)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_positive_slot_proves_and_a_negative_or_foreign_one_does_not() {
        let (r, r_prime, query) = (1 << 20, 12_345, [3; QUERY_ID_BYTES]);
        let positive = r as i64 * 41 + r_prime as i64;
        let (commitment, secret) = commit(positive);
        let proof = prove(&secret, r, r_prime, &query, 0, 7).unwrap();
        assert!(proof.len() <= MAX_PROOF_BYTES);
        assert!(verify(&commitment, r, r_prime, &proof, &query, 0, 7));
        // Bound to the slot, the query and the masks.
        assert!(!verify(&commitment, r, r_prime, &proof, &query, 0, 8));
        assert!(!verify(&commitment, r, r_prime, &proof, &[4; QUERY_ID_BYTES], 0, 7));
        assert!(!verify(&commitment, r + 1, r_prime, &proof, &query, 0, 7));
        let mut bent = proof.clone();
        bent[100] ^= 1;
        assert!(!verify(&commitment, r, r_prime, &bent, &query, 0, 7));

        // A negative slot: the honest prover refuses; a proof made for another value does not
        // verify against this commitment.
        let negative = -(r as i64) * 41 + r_prime as i64;
        let (negative_commitment, negative_secret) = commit(negative);
        assert!(prove(&negative_secret, r, r_prime, &query, 0, 7).is_err());
        assert!(!verify(&negative_commitment, r, r_prime, &proof, &query, 0, 7));
        // Masks no honest authority draws are refused before any proof.
        assert!(prove(&secret, 1, 0, &query, 0, 7).is_err());
    }
}
