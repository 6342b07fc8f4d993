//! The blinded watchlist ("blind-lsh", v1; DESIGN §3).
//!
//! Guarantees (G3, G4, G5): the file alone reveals no template, identity or link between entries,
//! and of the number of entries only its size class (dummies, fixed-size buckets and records);
//! a record opens only for a probe that collides with its entry in at least `m` of `L` tables; the
//! holder of the VOPRF key sees only blinded elements and proves every answer; a tampered,
//! truncated, foreign or expired file is refused before anything in it is used.
//!
//! The scheme takes [`Embedding`](crate::template::Embedding)s and the id of the model they come
//! from from its callers; it knows nothing of faces, cameras or models.
//!
//! - [`lsh`]: cross-polytope codes of a template, one per table.
//! - [`prf`]: the PRF suites (local HMAC, RFC 9497 VOPRF with per-deployment keys) and the tag /
//!   bucket-key derivation.
//! - [`shares`]: m-of-L packed Shamir sharing of each entry's record key.
//! - [`format`]: the file format (its spec is the module doc), its parser and its writer.
//! - [`bucket`]: sealing and opening a bucket's items.
//! - [`record`]: entry records and their sealing under record keys.
//! - [`material`]: authority custody's reviewer material (sealed at the authority, released per
//!   handle on proof of the record key) and its keys.
//! - [`enroll`]: building a signed watchlist (issuer side, holds the PRF key).
//! - [`matcher`]: matching one template against a verified, loaded watchlist.
//! - `client_cost` (`bench-api` and `cli` builds only): the device's cost per face, VOPRF against
//!   plain OPRF mode, for the benchmarks.

pub mod bucket;
#[cfg(any(feature = "bench-api", feature = "cli"))]
pub mod client_cost;
pub mod enroll;
pub mod format;
pub mod lsh;
pub mod matcher;
pub mod material;
pub mod prf;
pub mod record;
pub mod shares;

use thiserror::Error;

/// Errors of the blinded-watchlist layer. Messages say what happened and what to do.
#[derive(Debug, Error)]
pub enum BlindError {
    #[error("this is not a Veilwatch watchlist (wrong magic bytes)")]
    NotAWatchlist,
    #[error(
        "watchlist format version {0} is not supported by this build (it reads version 2 only: version 1 \
         files reveal their entry count); enrol the list again with this version, or update Veilwatch if the \
         file is newer"
    )]
    UnsupportedVersion(u16),
    #[error("the watchlist is truncated: {what} needs {needed} more bytes than the file has")]
    Truncated { what: &'static str, needed: usize },
    #[error("the watchlist is malformed: {0}")]
    Malformed(String),
    #[error("the watchlist's {what} ({value}) exceeds the limit of {max}")]
    Limit { what: &'static str, value: u64, max: u64 },
    #[error(
        "the watchlist was signed by issuer {found}, not by the expected issuer {expected}; \
         it is foreign to this deployment"
    )]
    ForeignIssuer { expected: String, found: String },
    #[error("the watchlist's signature does not verify: the file was altered after the issuer signed it")]
    BadSignature,
    #[error("the watchlist is not valid before {0}; check the device clock or wait")]
    NotYetValid(String),
    #[error("the watchlist expired on {0}; ask the issuer for a new one")]
    Expired(String),
    #[error("the PRF key does not belong to this watchlist (key check failed); load the key issued with it")]
    WrongPrfKey,
    #[error("the watchlist needs PRF suite {needed}, but {given} was supplied")]
    SuiteMismatch { needed: &'static str, given: &'static str },
    #[error("the embedding has {got} dimensions, the watchlist expects {expected}")]
    Dimension { expected: usize, got: usize },
    #[error("the matching authority refused or failed: {0}")]
    Authority(String),
    #[error("the matching authority answered with garbage: {0}")]
    AuthorityAnswer(String),
    /// The answer's DLEQ proof does not verify under the deployment's public key (or its
    /// elements do not decode): tampered, or computed under another key.
    #[error("the authority's answer failed verification; matching is paused ({0})")]
    AuthorityUnverified(String),
    #[error(
        "plain OPRF mode is no longer supported: its answers cannot be verified; re-enrol the list \
         (veilwatch enroll --custody authority, with a key folder from this version's keygen)"
    )]
    PlainOprfRetired,
    #[error("key file problem: {0}")]
    KeyFile(String),
    #[error("enrolment input problem: {0}")]
    Enrolment(String),
}

/// Default LSH tables. Measured by `veilwatch eval` on the LFW development split (single image
/// per side): 1024 cross-polytope tables give TAR 0.966 at FMR 1e-4 and 0.928 at 1e-5 (plain
/// cosine 0.975 / 0.947); 512 give 0.953 / 0.911, short of the 0.96 / 0.92 targets. With the
/// authority's VOPRF that costs ~300 ms per face in wasm, paid once per track attempt, not per frame.
pub const DEFAULT_TABLES: u16 = 1024;

/// Default collision threshold m for [`DEFAULT_TABLES`]: the count at FMR 1e-4 measured by
/// `veilwatch eval` on the LFW development split (m = 53 of 1024).
pub const DEFAULT_THRESHOLD: u16 = 53;
