//! The kiosk's side of sealed custody's protocol (`/v1/sealed/*`, see `sealed::protocol`): one
//! face from its quantised probe to the released records, over any transport that POSTs signed
//! requests (the CLI's HTTP client; the browser's Worker later).
//!
//! Guarantees: the BFV secret key lives only in this session's memory (never serialised); every
//! seed is used for one ciphertext at most, whatever the authority answered (a refused match is
//! followed by a fresh `/v1/sealed/seed`), and a seed the authority issues a second time under one
//! key pair is refused (two ciphertexts against one `a`-part differ by the difference of their
//! plaintexts plus small noise: a malicious authority that repeats a seed would read how two faces
//! differ, or a face itself against the public key's seed); the kiosk claims every positive slot of
//! every answer, an empty claim included, so that it never leaves a decoy unclaimed, by committing
//! to each slot's value and proving it positive once the masks are open (`sealed::claim`: the
//! value itself never leaves); it re-keys (new key pair,
//! new seed, `/v1/sealed/keys`) after every claim of a positive slot, after
//! [`FACES_PER_KEY`] faces, and after an answer outside the honest range (DESIGN §3.4,
//! decryption-oracle hygiene), which it reports as [`SealedError::OutOfRange`] without claiming.

use super::claim::{self, CommitmentSecret};
use super::kiosk::{system_rng, SealedKiosk};
use super::protocol::{
    ClaimAnswer, ClaimRequest, ClaimedSlot, IssuedSeed, KeysRequest, MatchAnswer, MatchRequest, Opening, ProofRequest,
    CLAIM_PATH, KEYS_PATH, MATCH_PATH, PROVE_PATH, SEED_PATH,
};
use super::quantise::Quantised;
use super::SealedError;
use crate::blind::material::MaterialKeys;
use crate::blind::record::EntryRecord;
use crate::blind::shares::KEY_BYTES;
use crate::hex::from_hex;

/// Faces one key pair serves at most.
pub const FACES_PER_KEY: u32 = 1000;

/// A signed POST to the authority: the answer's body, or why not (its refusal, in words).
pub trait SealedTransport {
    fn post(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, String>;
}

/// What can go wrong for one face.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The authority refused a request, or could not be reached.
    #[error("{0}")]
    Authority(String),
    /// The scheme refused an answer (malformed, or outside the honest range: the kiosk re-keys).
    #[error(transparent)]
    Sealed(#[from] SealedError),
    /// A released record does not open with its record key.
    #[error("the authority released material that does not open with its record key")]
    BadMaterial,
}

/// One listed person whose row this face matched, as released by the authority and opened here.
#[derive(Debug, Clone)]
pub struct Match {
    pub handle: String,
    pub record: EntryRecord,
}

/// What one face came to.
#[derive(Debug, Clone, Default)]
pub struct FaceOutcome {
    /// Positive slots claimed (real matches and decoys alike: the kiosk cannot tell them apart).
    pub claimed: usize,
    /// The listed people the claim released.
    pub matches: Vec<Match>,
    /// Bytes of the match request and of its answer.
    pub bytes_up: usize,
    pub bytes_down: usize,
    /// Bytes of the claim and its proofs, and of the opening and the released records.
    pub claim_bytes_up: usize,
    pub claim_bytes_down: usize,
    /// Whether this face registered a new key pair first (and its bytes).
    pub keys_bytes_up: usize,
}

/// A kiosk's sealed-custody session with one authority, for one deployment.
pub struct SealedSession {
    deployment: [u8; 16],
    kiosk: Option<SealedKiosk>,
    next: Option<IssuedSeed>,
    faces_on_key: u32,
    /// The seeds this key pair has encrypted against (its public key's included).
    used_seeds: std::collections::HashSet<[u8; 32]>,
}

impl SealedSession {
    pub fn new(deployment: [u8; 16]) -> SealedSession {
        SealedSession { deployment, kiosk: None, next: None, faces_on_key: 0, used_seeds: Default::default() }
    }

    fn fresh_seed(&mut self, transport: &dyn SealedTransport) -> Result<IssuedSeed, SessionError> {
        let bytes = transport.post(SEED_PATH, &[]).map_err(SessionError::Authority)?;
        Ok(IssuedSeed::parse(&bytes)?)
    }

    /// A new key pair against a fresh seed, registered. Bytes sent.
    fn rekey(&mut self, transport: &dyn SealedTransport) -> Result<usize, SessionError> {
        self.kiosk = None;
        self.next = None;
        let seed = self.fresh_seed(transport)?;
        self.used_seeds.clear();
        self.used_seeds.insert(seed.seed);
        let (kiosk, registration) = SealedKiosk::generate(&seed.seed, &mut system_rng())?;
        let body = KeysRequest::encode(&seed.id, &registration.public_key, &registration.rotation_key);
        transport.post(KEYS_PATH, &body).map_err(SessionError::Authority)?;
        self.kiosk = Some(kiosk);
        self.faces_on_key = 0;
        Ok(body.len())
    }

    /// One face: query, decrypt, claim, open what was released.
    pub fn identify(
        &mut self,
        probe: &Quantised,
        transport: &dyn SealedTransport,
    ) -> Result<FaceOutcome, SessionError> {
        let mut outcome = FaceOutcome::default();
        if self.kiosk.is_none() || self.faces_on_key >= FACES_PER_KEY {
            outcome.keys_bytes_up = self.rekey(transport)?;
        }
        let seed = match self.next.take() {
            Some(seed) => seed,
            None => self.fresh_seed(transport)?,
        };
        if !self.used_seeds.insert(seed.seed) {
            // Not an honest authority: start again under a new key pair.
            self.kiosk = None;
            return Err(SealedError::OutOfRange("the authority issued a seed this key pair already used").into());
        }
        let kiosk = self.kiosk.as_ref().ok_or(SessionError::Authority("no key pair".into()))?;
        let body = MatchRequest::encode(&seed.id, &kiosk.encrypt(probe, &seed.seed)?);
        self.faces_on_key += 1;
        outcome.bytes_up = body.len();
        // The seed is spent whatever happens next; `self.next` stays empty until an answer names one.
        let answer = transport.post(MATCH_PATH, &body).map_err(SessionError::Authority)?;
        outcome.bytes_down = answer.len();
        let answer = MatchAnswer::parse(&answer)?;
        self.next = Some(answer.next);
        let positives = match kiosk.positive_values(&answer.blocks) {
            Ok(positives) => positives,
            Err(e) => {
                self.kiosk = None;
                return Err(e.into());
            }
        };
        outcome.claimed = positives.len();
        if !positives.is_empty() {
            // Re-key after every claim of a positive slot (its bit was committed).
            self.kiosk = None;
        }
        // Commit to each positive slot's value, then learn its masks, then prove it positive.
        let (slots, secrets): (Vec<ClaimedSlot>, Vec<CommitmentSecret>) = positives
            .iter()
            .map(|&(block, slot, value)| {
                let (commitment, secret) = claim::commit(value);
                (ClaimedSlot { block, slot, commitment }, secret)
            })
            .unzip();
        let request = ClaimRequest { query_id: seed.id, slots };
        let body = request.to_bytes();
        outcome.claim_bytes_up = body.len();
        let opening = transport.post(CLAIM_PATH, &body).map_err(SessionError::Authority)?;
        outcome.claim_bytes_down = opening.len();
        let opening = Opening::parse(&opening)?;
        if opening.masks.len() != request.slots.len() {
            return Err(SealedError::OutOfRange("the opening does not answer the claim").into());
        }
        if request.slots.is_empty() {
            return Ok(outcome);
        }
        let proofs = request
            .slots
            .iter()
            .zip(&secrets)
            .zip(&opening.masks)
            .map(|((claimed, secret), &(r, r_prime))| {
                claim::prove(secret, r, r_prime, &seed.id, claimed.block, claimed.slot)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let body = ProofRequest { query_id: seed.id, proofs }.to_bytes();
        outcome.claim_bytes_up += body.len();
        let released = transport.post(PROVE_PATH, &body).map_err(SessionError::Authority)?;
        outcome.claim_bytes_down += released.len();
        let released: ClaimAnswer = serde_json::from_slice(&released)
            .map_err(|_| SessionError::Sealed(SealedError::Malformed("the claim's answer is not JSON")))?;
        for entry in released.released {
            let handle: [u8; 16] =
                from_hex(&entry.handle).and_then(|h| h.try_into().ok()).ok_or(SessionError::BadMaterial)?;
            let key: [u8; KEY_BYTES] =
                from_hex(&entry.record_key).and_then(|k| k.try_into().ok()).ok_or(SessionError::BadMaterial)?;
            let sealed = from_hex(&entry.sealed).ok_or(SessionError::BadMaterial)?;
            let record = MaterialKeys::derive(&zeroize::Zeroizing::new(key))
                .open(&sealed, &self.deployment, &handle)
                .ok_or(SessionError::BadMaterial)?;
            outcome.matches.push(Match { handle: entry.handle, record });
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// An authority that issues the same seed for every request and answers nothing else: what a
    /// session must refuse before it encrypts a second face (or a face after its key) under it.
    struct RepeatingSeeds {
        posted: RefCell<Vec<String>>,
    }

    impl SealedTransport for RepeatingSeeds {
        fn post(&self, path: &str, _body: &[u8]) -> Result<Vec<u8>, String> {
            self.posted.borrow_mut().push(path.to_owned());
            match path {
                SEED_PATH => Ok(IssuedSeed { id: [1; 16], seed: [2; 32] }.to_bytes()),
                KEYS_PATH => Ok(Vec::new()),
                _ => Err("not answered here".into()),
            }
        }
    }

    #[test]
    fn a_seed_issued_twice_under_one_key_pair_is_refused_before_anything_is_encrypted_under_it() {
        let transport = RepeatingSeeds { posted: RefCell::new(Vec::new()) };
        let mut session = SealedSession::new([0; 16]);
        let probe = Quantised::from_components(&[3; crate::template::EMBEDDING_DIM]).unwrap();
        let refused = session.identify(&probe, &transport).unwrap_err();
        assert!(matches!(refused, SessionError::Sealed(SealedError::OutOfRange(_))), "{refused}");
        assert_eq!(*transport.posted.borrow(), [SEED_PATH, KEYS_PATH, SEED_PATH], "no match was sent");
    }
}
