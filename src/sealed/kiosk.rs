//! The kiosk's side of sealed custody: its BFV key pair, the query it sends for one face, and what
//! it reads from the answer.
//!
//! Guarantees: the secret key never leaves this type (no accessor, no serialisation; fhe zeroises
//! its coefficients on drop); every `a`-part the kiosk encrypts against is the one the authority's
//! seed expands to ([`super::wire::a_part`]); the only thing the kiosk reads from an answer is which
//! slots are positive, and an answer outside the honest range pauses it instead
//! ([`SealedError::OutOfRange`]).

use fhe::bfv::{Ciphertext, Encoding, EvaluationKeyBuilder, Plaintext, PublicKey, SecretKey};
use fhe::mbfv::{Aggregate, CommonRandomPoly, PublicKeyShare};
use fhe_traits::{FheDecoder, FheDecrypter, FheEncoder, Serialize};
use rand_chacha09::rand_core::{CryptoRng, RngCore, SeedableRng};
use rand_chacha09::{ChaCha20Rng, ChaCha8Rng};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::params::{self, DEGREE, MASK_MIN};
use super::quantise::Quantised;
use super::wire::{self, Seed};
use super::SealedError;
use crate::template::EMBEDDING_DIM;

/// The most positive slots an honest answer has (real matches plus decoys); more pause the kiosk.
pub const MAX_POSITIVES: usize = 4;

/// What the kiosk registers at the authority under its credential.
pub struct KioskRegistration {
    /// `c0` of the public key against the `a`-part of the authority's key seed.
    pub public_key: Vec<u8>,
    /// fhe `EvaluationKey` bytes: one column rotation by 1.
    pub rotation_key: Vec<u8>,
}

/// The positive slots of an answer as (block, slot, decrypted value), wiped on drop.
pub type PositiveValues = Zeroizing<Vec<(usize, usize, i64)>>;

/// The kiosk's BFV secret key.
pub struct SealedKiosk {
    secret: SecretKey,
}

impl std::fmt::Debug for SealedKiosk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedKiosk(secret key withheld)")
    }
}

/// A CSPRNG in the form fhe's APIs take (rand 0.9), seeded from the operating system.
pub fn system_rng() -> ChaCha20Rng {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(seed.as_mut()).expect("the operating system's random source works");
    ChaCha20Rng::from_seed(*seed)
}

/// The ChaCha8 stream fhe's `Poly::random_from_seed` expands `seed` with.
fn seed_stream(seed: &Seed) -> ChaCha8Rng {
    ChaCha8Rng::from_seed(Sha256::digest(seed).into())
}

impl SealedKiosk {
    /// A fresh key pair; `key_seed` is the authority's seed for the public key's `a`-part.
    pub fn generate<R: RngCore + CryptoRng>(
        key_seed: &Seed,
        rng: &mut R,
    ) -> Result<(SealedKiosk, KioskRegistration), SealedError> {
        let par = params::bfv();
        let secret = SecretKey::random(par, rng);
        let kiosk = SealedKiosk { secret };
        let public_key = wire::public_key_c0(&kiosk.seeded_encryption_of_zero_key(key_seed, rng)?);
        let rotation_key = EvaluationKeyBuilder::new(&kiosk.secret)?.enable_column_rotation(1)?.build(rng)?.to_bytes();
        Ok((kiosk, KioskRegistration { public_key, rotation_key }))
    }

    /// `(−a·s + e, a)` with `a` expanded from `seed`, through fhe's public-key share (which is
    /// exactly a symmetric encryption of zero against a given `a`).
    fn seeded_encryption_of_zero_key<R: RngCore + CryptoRng>(
        &self,
        seed: &Seed,
        rng: &mut R,
    ) -> Result<PublicKey, SealedError> {
        let crp = CommonRandomPoly::new(params::bfv(), &mut seed_stream(seed))?;
        let share = PublicKeyShare::new(&self.secret, crp, rng)?;
        Ok(PublicKey::from_shares([share])?)
    }

    /// The honest query for one face: the quantised probe replicated over all 8 192 slots
    /// (period 128), encrypted against the `a`-part of the authority's `query_seed`. Returns `c0`.
    pub fn encrypt(&self, probe: &Quantised, query_seed: &Seed) -> Result<Vec<u8>, SealedError> {
        let slots: Zeroizing<Vec<i64>> =
            Zeroizing::new((0..DEGREE).map(|s| probe.components()[s % EMBEDDING_DIM]).collect());
        self.encrypt_slots(&slots, query_seed)
    }

    /// Any slot vector, encrypted as [`Self::encrypt`] does. The honest kiosk only sends replicated
    /// probes; this is what a kiosk running its own code can send instead (the attack tests use it).
    pub fn encrypt_slots(&self, slots: &[i64], query_seed: &Seed) -> Result<Vec<u8>, SealedError> {
        let par = params::bfv();
        let zero = self.seeded_encryption_of_zero_key(query_seed, &mut system_rng())?;
        let plaintext = Plaintext::try_encode(slots, Encoding::simd(), par)?;
        let ciphertext = wire::seeded_ciphertext(&wire::public_key_c0(&zero), query_seed)?;
        Ok(wire::c0_bytes(&(&ciphertext + &plaintext)))
    }

    /// The decrypted slot values of one answer block, centred in (−t/2, t/2].
    pub fn decrypt(&self, answer: &[u8]) -> Result<Zeroizing<Vec<i64>>, SealedError> {
        let ciphertext: Ciphertext = wire::parse_answer(answer, params::bfv())?;
        let plaintext = self.secret.try_decrypt(&ciphertext)?;
        Ok(Zeroizing::new(Vec::<i64>::try_decode(&plaintext, Encoding::simd())?))
    }

    /// The positive slots of the answer's blocks, as (block, slot): what the kiosk must claim.
    /// An answer outside the honest range — more than [`MAX_POSITIVES`] positives, or a positive
    /// below the smallest mask (an honest positive is ≥ r ≥ 2^14) — is refused, and the kiosk
    /// pauses and re-keys (DESIGN §3.4, decryption-oracle hygiene).
    pub fn positive_slots(&self, blocks: &[Vec<u8>]) -> Result<Vec<(usize, usize)>, SealedError> {
        Ok(self.positive_values(blocks)?.iter().map(|&(b, s, _)| (b, s)).collect())
    }

    /// [`Self::positive_slots`] with each slot's decrypted value, which the claim commits to
    /// (`sealed::claim`) and never reveals.
    pub fn positive_values(&self, blocks: &[Vec<u8>]) -> Result<PositiveValues, SealedError> {
        let mut positives = Zeroizing::new(Vec::new());
        for (b, block) in blocks.iter().enumerate() {
            let values = self.decrypt(block)?;
            for (s, &v) in values.iter().enumerate() {
                if v > 0 {
                    if (v as u64) < MASK_MIN {
                        return Err(SealedError::OutOfRange("a positive slot below the smallest mask"));
                    }
                    positives.push((b, s, v));
                }
            }
        }
        if positives.len() > MAX_POSITIVES {
            return Err(SealedError::OutOfRange("more positive slots than an honest answer has"));
        }
        Ok(positives)
    }
}
