//! Sealed custody (`bfv-sealed`, DESIGN §3.4): the watchlist stays at the authority and the face
//! leaves the kiosk only encrypted under a BFV key the kiosk alone holds. This module is the
//! scheme's core — parameters, quantisation, the kiosk's keys and queries, the authority's masked
//! answer — the gallery the issuer registers and the bodies of the HTTP protocol (whose routes are
//! `authority::service::sealed`) and the kiosk's sans-IO session, which the CLI drives over HTTP
//! and the browser's Worker through `wasm::sealed` (`SealedCustody`).
//!
//! **Two halves, two features.** `sealed-kiosk` is what a kiosk runs, natively and in wasm32:
//! [`params`], [`quantise`], [`wire`], [`kiosk`], [`claim`], [`protocol`], [`session`],
//! [`descriptor`].
//! `sealed` adds what only the issuer and the authority run, natively: [`gallery`] and
//! [`authority`] (rayon, big integers).
//!
//! - [`params`]: the one parameter set, its security level and every noise term's bound.
//! - [`quantise`]: templates as integers in [−63, 63] (S = 128).
//! - [`wire`]: what crosses the wire, and the one parser for each piece.
//! - [`kiosk`]: key generation, the query, reading an answer.
//! - [`authority`]: the gallery and the answer (rotations, permutation, masks, decoys,
//!   re-randomisation, flooding, modulus switch).
//! - [`claim`]: a positive slot's claim: Pedersen commitment, opened masks, Bulletproofs range proof.
//! - [`descriptor`]: what a kiosk is given of a sealed deployment instead of a watchlist file (signed
//!   by the issuer, named by the profile).
//! - [`gallery`]: the issuer's gallery (quantised templates, handles, record keys), sealed under a
//!   key derived from the authority's master secret.
//! - [`protocol`]: the bodies of `/v1/sealed/{seed,keys,match,claim}`, written and parsed side by side.
//! - [`session`]: the kiosk's side of that protocol for one face (keys, seeds, claim, re-keying).
//!
//! **Status, as measured by `tests/attacks/sealed.rs` (read it before relying on this):** no
//! zero-knowledge proof exists yet — neither the one-time proof that the kiosk's keys are small nor
//! the per-query proof that a query is a well-formed, fixed-norm, replicated probe — and the
//! rotation key's `a`-parts are the kiosk's. A kiosk that runs its own code can therefore scale its
//! probe or engineer its query's error past the flooding; the attack tests measure what that
//! yields. And an authority that runs its own code defines what each slot tests, so the slots a
//! kiosk claims tell it far more than one bit per face (it names passers-by from a gallery of its
//! own): `tests/attacks/sealed_malicious.rs`, and the README's threat model.
//!
//! **Why fhe.rs.** Evaluated 2026-12 (crates.io): `fhe` 0.1.1 (MIT, tlepoint/fhe.rs; pure Rust,
//! RNS BFV up to 62-bit moduli, any prime plaintext modulus ≡ 1 mod 2n for SIMD — a 50-bit t
//! works; seeded `a`-parts via `Poly::random_from_seed` and the protobuf `seed` field;
//! key switching for Galois keys; modulus switching; its multiparty module's public-key share is a
//! symmetric encryption of zero against a given `a`, which is how the kiosk encrypts against the
//! authority's seed without a hand-written encryption). It builds for wasm32-unknown-unknown when
//! getrandom 0.3 gets its `wasm_js` backend (`--cfg getrandom_backend="wasm_js"`; checked in a
//! scratch crate). The alternatives: `sunscreen` (BFV through Microsoft SEAL's C++, AGPL-3.0: not
//! a licence this crate can ship, and C++ in the wasm build), `tfhe` (Zama's TFHE-rs: a different
//! scheme — boolean/integer bootstrapping — under the BSD-3-Clause-Clear licence, which grants no
//! patent rights), OpenFHE/SEAL/Lattigo (C++ or Go, not Rust crates). What fhe.rs lacks:
//! key-switching keys from a caller's seed (so the rotation key's `a`-parts are the kiosk's),
//! hoisted rotations, and any zero-knowledge proof of well-formedness.
//!
//! **Speed.** The authority's answer is 127 key switches (rotations) plus 128 plaintext products
//! per block of 8 192 rows, and NTTs dominate both. fhe-math's feature `tfhe-ntt` swaps its own NTT
//! for tfhe-ntt's (Zama, BSD-3-Clause-Clear; a dependency fhe-math always has, so the switch adds
//! no crate), which uses the CPU's vector units (AVX2 on x86-64). The answer runs on rayon's pool
//! ([`authority::answer`]). Without hoisted rotations (fhe has none, and hoisting needs one key per
//! rotation amount: 127 keys of 0.9 MB each per kiosk) and without giant steps (not on unproven
//! keys), 127 key switches per face stay: `veilwatch bench sealed` measures what that costs.

// The issuer's and the authority's side: native only (rayon).
#[cfg(feature = "sealed")]
pub mod authority;
pub mod claim;
pub mod descriptor;
#[cfg(feature = "sealed")]
pub mod gallery;
pub mod kiosk;
pub mod params;
pub mod protocol;
pub mod quantise;
pub mod session;
pub mod wire;

/// What can go wrong in sealed custody.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealedError {
    /// Bytes from the other party that are not a value of the fixed parameter set (wrong size,
    /// non-canonical residues, wrong level): refused before any computation.
    #[error("sealed custody: malformed input: {0}")]
    Malformed(&'static str),
    /// An answer no honest authority sends: the kiosk pauses matching and re-keys.
    #[error("sealed custody: the authority's answer is outside the honest range ({0}); matching is paused")]
    OutOfRange(&'static str),
    /// The BFV library refused an operation (a bug here, or a value that passed parsing but not fhe).
    #[error("sealed custody: BFV operation failed: {0}")]
    Bfv(String),
}

impl From<fhe::Error> for SealedError {
    fn from(e: fhe::Error) -> Self {
        SealedError::Bfv(e.to_string())
    }
}

impl From<fhe_math::Error> for SealedError {
    fn from(e: fhe_math::Error) -> Self {
        SealedError::Bfv(e.to_string())
    }
}
