//! The bodies of sealed custody's HTTP requests and answers (`/v1/sealed/*`, DESIGN §3.4 and
//! `authority::service`), each written and parsed side by side. The framing around them (the signed
//! kiosk credential, budgets, refusals) is the authority's, as for `/v1/evaluate`.
//!
//! All integers are little-endian. A query is named by the id of the seed it was encrypted
//! against: the authority issues (id, seed) pairs one at a time per kiosk, each usable once.
//!
//! | endpoint | request body | answer body |
//! |---|---|---|
//! | `/v1/sealed/seed` | empty | [`IssuedSeed`]: id (16) ‖ seed (32) |
//! | `/v1/sealed/keys` | [`KeysRequest`]: seed id (16) ‖ public-key `c0` length (u32) ‖ `c0` ‖ rotation key | empty (204) |
//! | `/v1/sealed/match` | [`MatchRequest`]: seed id (16) ‖ query `c0` | [`MatchAnswer`]: next [`IssuedSeed`] (48) ‖ blocks (u16) ‖ blocks × (length (u32) ‖ answer ciphertext) |
//! | `/v1/sealed/claim` | [`ClaimRequest`]: query id (16) ‖ count (u16) ‖ count × (block (u16) ‖ slot (u16) ‖ commitment (32)) | [`Opening`]: count (u16) ‖ count × (r (u64) ‖ r' (u64)) |
//! | `/v1/sealed/prove` | [`ProofRequest`]: query id (16) ‖ count (u16) ‖ count × (length (u16) ‖ range proof) | [`ClaimAnswer`], JSON |
//!
//! The claim and its proofs are `sealed::claim`'s: commitments first, then the masks, then one
//! range proof per claimed slot, in the claim's order.

use serde::{Deserialize, Serialize};

use super::claim::{COMMITMENT_BYTES, MAX_PROOF_BYTES};
use super::params::DEGREE;
use super::wire::Seed;
use super::SealedError;

/// The paths of the authority's sealed routes.
pub const SEED_PATH: &str = "/v1/sealed/seed";
pub const KEYS_PATH: &str = "/v1/sealed/keys";
pub const MATCH_PATH: &str = "/v1/sealed/match";
pub const CLAIM_PATH: &str = "/v1/sealed/claim";
pub const PROVE_PATH: &str = "/v1/sealed/prove";

/// Bytes of a seed id (a query id).
pub const ID_BYTES: usize = super::claim::QUERY_ID_BYTES;
/// Bytes of an [`IssuedSeed`].
pub const ISSUED_SEED_BYTES: usize = ID_BYTES + 32;
/// The most positive slots one claim may name.
pub const MAX_CLAIMED: usize = 64;
/// The most answer blocks (8 192 rows each) one answer may carry.
pub const MAX_BLOCKS: usize = 16;

fn malformed(what: &'static str) -> SealedError {
    SealedError::Malformed(what)
}

/// A seed the authority issued to one kiosk, for its public key or for one query.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IssuedSeed {
    pub id: [u8; ID_BYTES],
    pub seed: Seed,
}

impl std::fmt::Debug for IssuedSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssuedSeed({})", crate::hex::hex(&self.id))
    }
}

impl IssuedSeed {
    pub fn to_bytes(&self) -> Vec<u8> {
        [&self.id[..], &self.seed[..]].concat()
    }

    pub fn parse(bytes: &[u8]) -> Result<IssuedSeed, SealedError> {
        if bytes.len() != ISSUED_SEED_BYTES {
            return Err(malformed("an issued seed is 48 bytes"));
        }
        Ok(IssuedSeed {
            id: bytes[..ID_BYTES].try_into().expect("16 bytes"),
            seed: bytes[ID_BYTES..].try_into().expect("32 bytes"),
        })
    }
}

fn split_id(bytes: &[u8]) -> Result<([u8; ID_BYTES], &[u8]), SealedError> {
    if bytes.len() < ID_BYTES {
        return Err(malformed("the body is shorter than a seed id"));
    }
    let (id, rest) = bytes.split_at(ID_BYTES);
    Ok((id.try_into().expect("16 bytes"), rest))
}

/// A kiosk's BFV keys, against the seed `seed_id` (see `kiosk::KioskRegistration`).
pub struct KeysRequest<'a> {
    pub seed_id: [u8; ID_BYTES],
    pub public_key: &'a [u8],
    pub rotation_key: &'a [u8],
}

impl<'a> KeysRequest<'a> {
    pub fn encode(seed_id: &[u8; ID_BYTES], public_key: &[u8], rotation_key: &[u8]) -> Vec<u8> {
        let length = u32::try_from(public_key.len()).expect("a public key is far below 4 GiB");
        [&seed_id[..], &length.to_le_bytes(), public_key, rotation_key].concat()
    }

    pub fn parse(bytes: &'a [u8]) -> Result<KeysRequest<'a>, SealedError> {
        let (seed_id, rest) = split_id(bytes)?;
        if rest.len() < 4 {
            return Err(malformed("the keys request has no public-key length"));
        }
        let length = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let rest = &rest[4..];
        if length > rest.len() {
            return Err(malformed("the public key is longer than the request"));
        }
        let (public_key, rotation_key) = rest.split_at(length);
        Ok(KeysRequest { seed_id, public_key, rotation_key })
    }
}

/// One face's query: `c0` against the seed `seed_id`.
pub struct MatchRequest<'a> {
    pub seed_id: [u8; ID_BYTES],
    pub c0: &'a [u8],
}

impl<'a> MatchRequest<'a> {
    pub fn encode(seed_id: &[u8; ID_BYTES], c0: &[u8]) -> Vec<u8> {
        [&seed_id[..], c0].concat()
    }

    pub fn parse(bytes: &'a [u8]) -> Result<MatchRequest<'a>, SealedError> {
        let (seed_id, c0) = split_id(bytes)?;
        Ok(MatchRequest { seed_id, c0 })
    }
}

/// The answer to one face: the seed of the kiosk's next query and the answer blocks.
pub struct MatchAnswer {
    pub next: IssuedSeed,
    pub blocks: Vec<Vec<u8>>,
}

impl MatchAnswer {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.next.to_bytes();
        out.extend_from_slice(&(self.blocks.len() as u16).to_le_bytes());
        for block in &self.blocks {
            out.extend_from_slice(&(block.len() as u32).to_le_bytes());
            out.extend_from_slice(block);
        }
        out
    }

    pub fn parse(bytes: &[u8]) -> Result<MatchAnswer, SealedError> {
        if bytes.len() < ISSUED_SEED_BYTES + 2 {
            return Err(malformed("the match answer is truncated"));
        }
        let next = IssuedSeed::parse(&bytes[..ISSUED_SEED_BYTES])?;
        let count = u16::from_le_bytes([bytes[ISSUED_SEED_BYTES], bytes[ISSUED_SEED_BYTES + 1]]) as usize;
        if count == 0 || count > MAX_BLOCKS {
            return Err(malformed("the match answer's block count is out of range"));
        }
        let mut rest = &bytes[ISSUED_SEED_BYTES + 2..];
        let mut blocks = Vec::with_capacity(count);
        for _ in 0..count {
            if rest.len() < 4 {
                return Err(malformed("the match answer is truncated"));
            }
            let length = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
            if length > rest.len() - 4 {
                return Err(malformed("an answer block is longer than the answer"));
            }
            blocks.push(rest[4..4 + length].to_vec());
            rest = &rest[4 + length..];
        }
        if !rest.is_empty() {
            return Err(malformed("bytes after the last answer block"));
        }
        Ok(MatchAnswer { next, blocks })
    }
}

/// One claimed slot: where, and the commitment to its decrypted value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimedSlot {
    pub block: usize,
    pub slot: usize,
    pub commitment: [u8; COMMITMENT_BYTES],
}

const CLAIMED_BYTES: usize = 4 + COMMITMENT_BYTES;

/// The positive slots of one query, claimed by the kiosk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    pub query_id: [u8; ID_BYTES],
    pub slots: Vec<ClaimedSlot>,
}

impl ClaimRequest {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.query_id.to_vec();
        out.extend_from_slice(&(self.slots.len() as u16).to_le_bytes());
        for claimed in &self.slots {
            out.extend_from_slice(&(claimed.block as u16).to_le_bytes());
            out.extend_from_slice(&(claimed.slot as u16).to_le_bytes());
            out.extend_from_slice(&claimed.commitment);
        }
        out
    }

    /// The claimed (block, slot) pairs.
    pub fn positions(&self) -> Vec<(usize, usize)> {
        self.slots.iter().map(|c| (c.block, c.slot)).collect()
    }

    /// Parses a claim: at most [`MAX_CLAIMED`] slots, each within the answer's shape, none twice.
    pub fn parse(bytes: &[u8]) -> Result<ClaimRequest, SealedError> {
        let (query_id, rest) = split_id(bytes)?;
        if rest.len() < 2 {
            return Err(malformed("the claim has no slot count"));
        }
        let count = u16::from_le_bytes([rest[0], rest[1]]) as usize;
        if count > MAX_CLAIMED || rest.len() != 2 + CLAIMED_BYTES * count {
            return Err(malformed("the claim's slot count does not match its length"));
        }
        let slots: Vec<ClaimedSlot> = rest[2..]
            .chunks_exact(CLAIMED_BYTES)
            .map(|c| ClaimedSlot {
                block: u16::from_le_bytes([c[0], c[1]]) as usize,
                slot: u16::from_le_bytes([c[2], c[3]]) as usize,
                commitment: c[4..].try_into().expect("32 bytes"),
            })
            .collect();
        if slots.iter().any(|c| c.block >= MAX_BLOCKS || c.slot >= DEGREE) {
            return Err(malformed("a claimed slot is outside any answer"));
        }
        let claim = ClaimRequest { query_id, slots };
        let mut sorted = claim.positions();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(malformed("a slot is claimed twice"));
        }
        Ok(claim)
    }
}

/// The masks (r, r') of the claimed slots, in the claim's order: the authority's answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub masks: Vec<(u64, u64)>,
}

impl Opening {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = (self.masks.len() as u16).to_le_bytes().to_vec();
        for &(r, r_prime) in &self.masks {
            out.extend_from_slice(&r.to_le_bytes());
            out.extend_from_slice(&r_prime.to_le_bytes());
        }
        out
    }

    pub fn parse(bytes: &[u8]) -> Result<Opening, SealedError> {
        if bytes.len() < 2 {
            return Err(malformed("the opening is truncated"));
        }
        let count = u16::from_le_bytes([bytes[0], bytes[1]]) as usize;
        if count > MAX_CLAIMED || bytes.len() != 2 + 16 * count {
            return Err(malformed("the opening's count does not match its length"));
        }
        let word = |c: &[u8]| u64::from_le_bytes(c.try_into().expect("8 bytes"));
        Ok(Opening { masks: bytes[2..].chunks_exact(16).map(|c| (word(&c[..8]), word(&c[8..]))).collect() })
    }
}

/// One range proof per claimed slot, in the claim's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofRequest {
    pub query_id: [u8; ID_BYTES],
    pub proofs: Vec<Vec<u8>>,
}

impl ProofRequest {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.query_id.to_vec();
        out.extend_from_slice(&(self.proofs.len() as u16).to_le_bytes());
        for proof in &self.proofs {
            out.extend_from_slice(&(proof.len() as u16).to_le_bytes());
            out.extend_from_slice(proof);
        }
        out
    }

    pub fn parse(bytes: &[u8]) -> Result<ProofRequest, SealedError> {
        let (query_id, rest) = split_id(bytes)?;
        if rest.len() < 2 {
            return Err(malformed("the proofs have no count"));
        }
        let count = u16::from_le_bytes([rest[0], rest[1]]) as usize;
        if count > MAX_CLAIMED {
            return Err(malformed("more proofs than a claim may have slots"));
        }
        let mut rest = &rest[2..];
        let mut proofs = Vec::with_capacity(count);
        for _ in 0..count {
            if rest.len() < 2 {
                return Err(malformed("the proofs are truncated"));
            }
            let length = u16::from_le_bytes([rest[0], rest[1]]) as usize;
            if length > MAX_PROOF_BYTES || length > rest.len() - 2 {
                return Err(malformed("a proof is longer than allowed or than the request"));
            }
            proofs.push(rest[2..2 + length].to_vec());
            rest = &rest[2 + length..];
        }
        if !rest.is_empty() {
            return Err(malformed("bytes after the last proof"));
        }
        Ok(ProofRequest { query_id, proofs })
    }
}

/// The largest `/v1/sealed/prove` body.
pub const PROVE_BODY_BYTES: usize = ID_BYTES + 2 + MAX_CLAIMED * (2 + MAX_PROOF_BYTES);
/// The largest `/v1/sealed/claim` body.
pub const CLAIM_BODY_BYTES: usize = ID_BYTES + 2 + MAX_CLAIMED * CLAIMED_BYTES;

/// One listed person's reviewer material, released on a valid claim of their row: the material
/// as registered (sealed under a key derived from the record key) and the record key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Released {
    /// 32 hex.
    pub handle: String,
    /// 32 hex.
    pub record_key: String,
    /// Hex of the sealed material.
    pub sealed: String,
}

/// What an accepted claim releases: nothing for a claim of decoys only.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimAnswer {
    pub released: Vec<Released>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_and_truncation_is_refused() {
        let keys = KeysRequest::encode(&[1; 16], &[2; 10], &[3; 7]);
        let parsed = KeysRequest::parse(&keys).unwrap();
        assert_eq!((parsed.seed_id, parsed.public_key, parsed.rotation_key), ([1; 16], &[2u8; 10][..], &[3u8; 7][..]));
        assert!(KeysRequest::parse(&keys[..19]).is_err());

        let answer = MatchAnswer { next: IssuedSeed { id: [4; 16], seed: [5; 32] }, blocks: vec![vec![6; 9], vec![7]] };
        let bytes = answer.to_bytes();
        let parsed = MatchAnswer::parse(&bytes).unwrap();
        assert_eq!((parsed.next, parsed.blocks), (answer.next, answer.blocks));
        for cut in [0, 10, 50, bytes.len() - 1] {
            assert!(MatchAnswer::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(MatchAnswer::parse(&[bytes.clone(), vec![0]].concat()).is_err());

        let at = |block, slot| ClaimedSlot { block, slot, commitment: [slot as u8; 32] };
        let claim = ClaimRequest { query_id: [8; 16], slots: vec![at(0, 5), at(1, 8191)] };
        assert_eq!(ClaimRequest::parse(&claim.to_bytes()).unwrap(), claim);
        let twice = ClaimRequest { query_id: [8; 16], slots: vec![at(0, 5), at(0, 5)] };
        assert!(ClaimRequest::parse(&twice.to_bytes()).is_err());
        let outside = ClaimRequest { query_id: [8; 16], slots: vec![at(0, DEGREE)] };
        assert!(ClaimRequest::parse(&outside.to_bytes()).is_err());
        assert!(ClaimRequest::parse(&claim.to_bytes()[..20]).is_err());

        let opening = Opening { masks: vec![(1 << 20, 5), (1 << 15, 0)] };
        assert_eq!(Opening::parse(&opening.to_bytes()).unwrap(), opening);
        assert!(Opening::parse(&opening.to_bytes()[..17]).is_err());
        let proofs = ProofRequest { query_id: [9; 16], proofs: vec![vec![1; 608], vec![]] };
        assert_eq!(ProofRequest::parse(&proofs.to_bytes()).unwrap(), proofs);
        assert!(ProofRequest::parse(&proofs.to_bytes()[..100]).is_err());
        let long = ProofRequest { query_id: [9; 16], proofs: vec![vec![1; MAX_PROOF_BYTES + 1]] };
        assert!(ProofRequest::parse(&long.to_bytes()).is_err());
    }
}
