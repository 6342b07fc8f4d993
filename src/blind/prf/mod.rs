//! The two PRF suites that turn LSH codes into bucket tags and keys, and the derivations from a
//! PRF output (DESIGN §3):
//!
//! - `hmac-sha256-local`: HMAC-SHA256 under a key shipped with the deployment (offline demos). Weaker:
//!   whoever holds the key can enumerate all 2d codes of every table.
//! - `voprf-ristretto255-sha512`: RFC 9497 VOPRF mode (0x01, the `voprf` crate). The authority
//!   holds one [`MasterSecret`]; each deployment (watchlist) has its own key pair,
//!   [`DeploymentKey`] = DeriveKeyPair(master secret, info = watchlist id), whose public key the
//!   signed watchlist header carries. The issuer enrols with it (direct evaluation); the device
//!   sends blinded elements (uniformly random group elements) and unblinds the answers, so the
//!   authority learns nothing about the codes and can rate-limit queries; every answer carries a
//!   batched DLEQ proof that it was computed under the header's public key, which the device
//!   verifies before it uses a single output (RFC 9497 VerifyProof, its ComputeComposites as two
//!   multiscalar multiplications: a face's 1 024 elements cost about 1.3× plain OPRF mode's
//!   unverified round, against about 1.95× through the `voprf` crate's `batch_finalize`).
//!
//! Suite 2, `oprf-ristretto255-sha512` (RFC 9497 OPRF mode, unverifiable answers, one key for
//! every list), is retired: such a watchlist is refused when it is parsed.
//!
//! Guarantees: the PRF input binds the watchlist id, table and code; outputs, derived keys, the
//! master secret and blinding states are wiped on drop; an authority that answers with the wrong
//! number of elements, malformed elements, a proof that fails, or under another key (another
//! deployment's, another authority's) is an error, never a silent non-match.
//!
//! One module per side: [`local`] (the HMAC suite), [`voprf_server`] (the authority's and the
//! issuer's keys, and an in-process authority), [`voprf_client`] (the device's blinding, proof
//! verification and unblinding, whether the round trip is synchronous or the caller's own).

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::BlindError;

pub mod local;
pub mod voprf_client;
pub mod voprf_server;

pub use local::LocalHmac;
pub use voprf_client::{check_public_key, AuthorityEndpoint, BlindedBatch, OprfTransport, VoprfClientPrf};
pub use voprf_server::{DeploymentKey, InProcessAuthority, MasterSecret};

pub const DOMAIN: &[u8] = b"veilwatch/blind-lsh/v1";
/// Bytes of one serialised ristretto255 element on the wire, each way.
pub const ELEMENT_BYTES: usize = 32;
/// Bytes of a deployment's public key (a serialised ristretto255 element).
pub const PUBLIC_KEY_BYTES: usize = 32;
/// Bytes of the batched DLEQ proof that ends every answer (`voprf::Proof::serialize`).
pub const PROOF_BYTES: usize = 64;
/// Bytes of the authority's master secret.
pub const MASTER_SECRET_BYTES: usize = 32;
/// The id plain OPRF mode had in watchlist headers; refused now.
pub const RETIRED_OPRF_SUITE_ID: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrfSuite {
    HmacSha256Local,
    VoprfRistretto255Sha512,
}

impl PrfSuite {
    pub fn id(self) -> u8 {
        match self {
            PrfSuite::HmacSha256Local => 1,
            PrfSuite::VoprfRistretto255Sha512 => 3,
        }
    }

    /// The suite of a header's id; `None` for an unknown id and for the retired id 2 (the
    /// format's parser says why that one is refused).
    pub fn from_id(id: u8) -> Option<PrfSuite> {
        match id {
            1 => Some(PrfSuite::HmacSha256Local),
            3 => Some(PrfSuite::VoprfRistretto255Sha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PrfSuite::HmacSha256Local => "hmac-sha256-local",
            PrfSuite::VoprfRistretto255Sha512 => "voprf-ristretto255-sha512",
        }
    }
}
/// `DOMAIN || watchlist_id || u16_be(table) || u16_be(code)`.
pub fn code_input(watchlist_id: &[u8; 16], table: u16, code: u16) -> Vec<u8> {
    let mut x = Vec::with_capacity(DOMAIN.len() + 20);
    x.extend_from_slice(DOMAIN);
    x.extend_from_slice(watchlist_id);
    x.extend_from_slice(&table.to_be_bytes());
    x.extend_from_slice(&code.to_be_bytes());
    x
}

/// The PRF input whose output the header records, so a wrong key or a foreign authority is
/// recognised at load time instead of silently matching nothing.
pub fn key_check_input(watchlist_id: &[u8; 16]) -> Vec<u8> {
    let mut x = Vec::with_capacity(DOMAIN.len() + 26);
    x.extend_from_slice(DOMAIN);
    x.extend_from_slice(b"/key-check");
    x.extend_from_slice(watchlist_id);
    x
}

/// Bytes of a bucket tag. 64 bits keep a false tag match among the ~2^20 buckets of a 10 240-entry
/// file below 2^-30 per probe (and a false match only fails to open), at half DESIGN's 16 bytes:
/// the directory is a per-bucket overhead.
pub const TAG_BYTES: usize = 8;

/// What a PRF output is turned into.
pub struct Derived {
    pub tag: [u8; TAG_BYTES],
    pub bucket_key: Zeroizing<[u8; 32]>,
}

/// The tag and key of bucket `slot` of the (table, code) whose PRF output is `output`: a code's
/// items fill buckets 0, 1, … of k items each (the file format's spec says why). The key check
/// is slot 0's tag of its own PRF output.
pub fn derive(output: &[u8], slot: u16) -> Derived {
    let hk = Hkdf::<Sha256>::new(None, output);
    let mut tag = [0u8; TAG_BYTES];
    let mut bucket_key = Zeroizing::new([0u8; 32]);
    let info = |label: &[u8]| [label, &slot.to_be_bytes()].concat();
    hk.expand(&info(b"veilwatch/blind-lsh/v2/tag"), &mut tag).expect("8 bytes is a valid HKDF length");
    hk.expand(&info(b"veilwatch/blind-lsh/v2/bucket"), &mut bucket_key[..]).expect("32 bytes is a valid HKDF length");
    Derived { tag, bucket_key }
}

/// A PRF the matcher or the issuer can evaluate on a batch of inputs.
pub trait Prf {
    fn suite(&self) -> PrfSuite;
    fn evaluate(&self, inputs: &[Vec<u8>]) -> Result<Vec<Zeroizing<Vec<u8>>>, BlindError>;

    /// The PRF output of the key-check input (one input). An authority answers it at its own
    /// endpoint (`/v1/key-check`), counted apart from faces; elsewhere it is [`Prf::evaluate`].
    fn evaluate_key_check(&self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, BlindError> {
        let mut outputs = self.evaluate(&[input.to_vec()])?;
        outputs.pop().ok_or_else(|| BlindError::AuthorityAnswer("no output for the key check".into()))
    }

    /// The watchlist id this PRF's key is bound to, if it is (a [`DeploymentKey`] is derived for
    /// one watchlist, so the issuer enrols that watchlist under that id).
    fn bound_watchlist(&self) -> Option<[u8; 16]> {
        None
    }

    /// The public key the watchlist header records (VOPRF suite only).
    fn public_key(&self) -> Option<[u8; PUBLIC_KEY_BYTES]> {
        None
    }
}
