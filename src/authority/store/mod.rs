//! The authority's state (protocol F): registrations and their materials, revocations, budgets,
//! replay nonces, anchors and the disclosure log — everything a replica must share with the
//! others, behind one trait so that a single node keeps it in a database file and replicas in Redis.
//!
//! - [`sqlite`]: [`SqliteStore`], one SQLite file (the default, created on first start; kept
//!   across restarts and a killed process), or in memory only when asked (`--state memory`).
//! - [`redis`]: [`RedisStore`], shared by replicas; every multi-key decision is one Lua script, so
//!   it is atomic across replicas.
//!
//! Both apply the same rules (one function decides where one exists, e.g.
//! [`admit_to_history`](super::anchor::admit_to_history)), and the same tests run against both.
//!
//! Every method either answers or fails with [`StoreError`]; the service then refuses with 503
//! `state_store_unavailable` and evaluates or discloses nothing (fail closed). A budget is never
//! assumed when it cannot be read.

pub mod redis;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

pub use redis::RedisStore;
pub use sqlite::SqliteStore;

use super::anchor::{AnchorError, SignedHead};
use super::budget::Charge;
use super::disclosure::Disclosure;
use super::registration::{Document, Material, Registration};

/// How long a request nonce is remembered: longer than twice the allowed clock skew
/// (`credential::MAX_SKEW_S`, 120 s; its test checks the two together). A request stamped the
/// skew ahead and received at once stays fresh until twice the skew after it was received (its
/// nonce remembered from then), and a replay then must still find its nonce; with a lifetime of
/// exactly twice the skew it would not. A minute more covers second boundaries and clock steps.
pub const NONCE_TTL_S: u64 = 300;

/// The state store could not be reached or answered nonsense.
#[derive(Debug, thiserror::Error)]
#[error("the state store is unavailable: {0}")]
pub struct StoreError(pub String);

pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What applying a document did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    /// The same registration (same `issued`, same content) or revocation again: nothing to do.
    Unchanged,
}

/// A verified document the state refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentRefused {
    #[error("a registration issued at {stored} is in place; this one (issued at {offered}) is not newer")]
    NotNewer { stored: i64, offered: i64 },
    #[error("the deployment is revoked and cannot be registered again; enrol a new watchlist")]
    DeploymentRevoked,
}

impl DocumentRefused {
    pub fn token(&self) -> &'static str {
        match self {
            DocumentRefused::NotNewer { .. } => "stale_document",
            DocumentRefused::DeploymentRevoked => "revoked_deployment",
        }
    }
}

/// What the authority knows about a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeploymentState {
    /// The registration in force, without its materials; `None` if only revocations are known.
    pub registration: Option<Registration>,
    pub revoked: bool,
    pub revoked_kiosks: Vec<[u8; 32]>,
}

pub trait StateStore: Send + Sync {
    /// Applies a verified document (registration replaces an older one with its materials;
    /// revocations are final).
    fn apply<'a>(&'a self, document: &'a Document) -> StoreFuture<'a, Result<Applied, DocumentRefused>>;

    /// The deployment's registration and revocations; `None` if nothing is known of it.
    fn deployment<'a>(&'a self, deployment: &'a [u8; 16]) -> StoreFuture<'a, Option<DeploymentState>>;

    /// Remembers a kiosk's nonce for [`NONCE_TTL_S`]; `false` if it was already there (a replay).
    fn first_use_of_nonce<'a>(&'a self, kiosk: &'a [u8; 32], nonce: &'a [u8; 16], now: i64) -> StoreFuture<'a, bool>;

    /// Checks every counter against its limit and, if none is reached, counts one on each, as one
    /// atomic step; the counter that refused otherwise (nothing is counted then).
    fn charge<'a>(&'a self, charges: &'a [Charge], now: i64) -> StoreFuture<'a, Option<Charge>>;

    /// The sealed material of a handle under the deployment's registration in force.
    fn material<'a>(&'a self, deployment: &'a [u8; 16], handle: &'a [u8; 16]) -> StoreFuture<'a, Option<Material>>;

    /// Appends to the deployment's disclosure log.
    fn log_disclosure<'a>(&'a self, disclosure: &'a Disclosure) -> StoreFuture<'a, ()>;

    /// The deployment's disclosure log, oldest first.
    fn disclosures<'a>(&'a self, deployment: &'a [u8; 16]) -> StoreFuture<'a, Vec<Disclosure>>;

    /// Appends `head` to its kiosk's anchor history as [`admit_to_history`] decides (atomically:
    /// two replicas never both anchor one seq).
    ///
    /// [`admit_to_history`]: crate::authority::anchor::admit_to_history
    fn record_anchor(&self, head: SignedHead) -> StoreFuture<'_, Result<(), AnchorError>>;

    /// The anchor history of a kiosk key (lowercase hex): its heads with a seq above `after`, by seq.
    fn anchors<'a>(&'a self, kiosk_hex: &'a str, after: u64) -> StoreFuture<'a, Vec<SignedHead>>;

    /// Sealed custody: the deployment's sealed gallery (as registered: ciphertext) under its
    /// registration in force; `None` for a deployment of another custody.
    fn sealed_gallery<'a>(&'a self, deployment: &'a [u8; 16]) -> StoreFuture<'a, Option<Vec<u8>>>;

    /// Sealed custody's per-kiosk state (registered keys, issued seeds, slot maps, pending queries,
    /// suspensions; keys are built by `authority::service::sealed`): `value` under `key`, replacing any, for
    /// `ttl_s` seconds or, with `None`, until replaced or taken.
    fn put_sealed<'a>(&'a self, key: &'a str, value: &'a [u8], ttl_s: Option<u64>, now: i64) -> StoreFuture<'a, ()>;

    /// The live value under `key`.
    fn get_sealed<'a>(&'a self, key: &'a str, now: i64) -> StoreFuture<'a, Option<Vec<u8>>>;

    /// The live value under `key`, deleted in the same atomic step: of two requests (on two
    /// replicas) that take one value, one gets it and the other `None`. What makes a seed, a query
    /// and a claim usable once.
    fn take_sealed<'a>(&'a self, key: &'a str, now: i64) -> StoreFuture<'a, Option<Vec<u8>>>;
}
