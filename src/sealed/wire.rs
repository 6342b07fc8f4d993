//! What crosses the wire in sealed custody, and the one parser for each piece (the HTTP framing,
//! signatures and budgets are the protocol's, not built yet).
//!
//! - **Seeded ciphertext** (public key, query): only `c0`, as fhe's `Rq` protobuf bytes at level 0.
//!   The `a`-part is never sent: the authority expands it from the 32-byte seed *it* issued
//!   (`Poly::random_from_seed`: SHA-256 of the seed keys a ChaCha8 stream), so no `a`-part the
//!   authority computes on was chosen by the kiosk (DESIGN §3.4, first rule).
//! - **Rotation key**: fhe's `EvaluationKey` protobuf for one column rotation by 1. Its `a`-parts
//!   are the kiosk's (fhe draws their seed itself); the authority applies it only to the kiosk's own
//!   ciphertext, before any gallery value is mixed in (DESIGN §3.4, "rotation keys only on the
//!   kiosk's own ciphertext").
//! - **Answer**: fhe's `Ciphertext` protobuf at level [`ANSWER_LEVEL`], both parts.
//!
//! Every parse re-serialises what it read and refuses bytes that do not come out identical, so a
//! non-canonical residue, a trailing byte or a second encoding of the same value is refused.

use std::sync::Arc;

use fhe::bfv::{BfvParameters, Ciphertext, EvaluationKey, PublicKey};
use fhe::proto::bfv as proto;
use fhe_math::rq::Poly;
use fhe_traits::{DeserializeParametrized, DeserializeWithContext, Serialize};
use prost::Message;

use super::params::{self, ANSWER_LEVEL};
use super::SealedError;

/// A 32-byte seed the authority issues for one `a`-part.
pub type Seed = [u8; 32];

/// fhe's `a`-part for `seed` at the top level: what the kiosk must encrypt against.
pub fn a_part(seed: &Seed) -> Poly {
    let ctx = params::bfv().context_at_level(0).expect("level 0 exists");
    Poly::random_from_seed(ctx, fhe_math::rq::Representation::Ntt, *seed)
}

/// Parses `c0` (fhe `Rq` bytes, level 0) and pairs it with the `a`-part of `seed`.
pub fn seeded_ciphertext(c0: &[u8], seed: &Seed) -> Result<Ciphertext, SealedError> {
    let par = params::bfv();
    let ctx = par.context_at_level(0).expect("level 0 exists");
    let poly =
        Poly::from_bytes(c0, ctx).map_err(|_| SealedError::Malformed("c0 is not a polynomial of the parameter set"))?;
    if poly.to_bytes() != c0 {
        return Err(SealedError::Malformed("c0 is not canonically encoded"));
    }
    let message = proto::Ciphertext { c: vec![c0.to_vec()], seed: seed.to_vec(), level: 0 };
    let ciphertext = Ciphertext::from_bytes(&message.encode_to_vec(), par)
        .map_err(|_| SealedError::Malformed("c0 and the seed do not form a ciphertext"))?;
    if ciphertext.len() != 2 {
        return Err(SealedError::Malformed("a sealed ciphertext has two parts"));
    }
    Ok(ciphertext)
}

/// The public key `(c0, a(seed))`.
pub fn seeded_public_key(c0: &[u8], seed: &Seed) -> Result<PublicKey, SealedError> {
    // Parsed once through the ciphertext path for the shape and canonical checks.
    seeded_ciphertext(c0, seed)?;
    let message =
        proto::PublicKey { c: Some(proto::Ciphertext { c: vec![c0.to_vec()], seed: seed.to_vec(), level: 0 }) };
    PublicKey::from_bytes(&message.encode_to_vec(), params::bfv())
        .map_err(|_| SealedError::Malformed("the public key does not parse"))
}

/// `c0` of a ciphertext, as sent.
pub fn c0_bytes(ciphertext: &Ciphertext) -> Vec<u8> {
    ciphertext[0].to_bytes()
}

/// `c0` of a public key fhe built, as sent (its `a`-part is the seeded one, not sent).
pub fn public_key_c0(public_key: &PublicKey) -> Vec<u8> {
    let message = proto::PublicKey::decode(public_key.to_bytes().as_slice()).expect("fhe encodes its own public key");
    message.c.expect("a public key has a ciphertext").c.into_iter().next().expect("c0 is present")
}

/// The rotation key for one column rotation by 1, as sent.
pub fn parse_rotation_key(bytes: &[u8]) -> Result<EvaluationKey, SealedError> {
    let key = EvaluationKey::from_bytes(bytes, params::bfv())
        .map_err(|_| SealedError::Malformed("the rotation key does not parse"))?;
    if key.to_bytes() != bytes {
        return Err(SealedError::Malformed("the rotation key is not canonically encoded"));
    }
    if !key.supports_column_rotation_by(1) {
        return Err(SealedError::Malformed("the rotation key does not rotate columns by 1"));
    }
    Ok(key)
}

/// An answer block, as sent.
pub fn answer_bytes(ciphertext: &Ciphertext) -> Vec<u8> {
    ciphertext.to_bytes()
}

/// Parses an answer block: both parts, at [`ANSWER_LEVEL`], canonical.
pub fn parse_answer(bytes: &[u8], par: &Arc<BfvParameters>) -> Result<Ciphertext, SealedError> {
    let message = proto::Ciphertext::decode(bytes).map_err(|_| SealedError::Malformed("the answer does not parse"))?;
    if message.level as usize != ANSWER_LEVEL || message.c.len() != 2 || !message.seed.is_empty() {
        return Err(SealedError::Malformed("the answer is not a two-part ciphertext at the answer level"));
    }
    let ciphertext =
        Ciphertext::from_bytes(bytes, par).map_err(|_| SealedError::Malformed("the answer does not parse"))?;
    if ciphertext.to_bytes() != bytes {
        return Err(SealedError::Malformed("the answer is not canonically encoded"));
    }
    Ok(ciphertext)
}
