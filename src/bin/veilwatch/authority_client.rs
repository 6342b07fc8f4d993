//! The CLI's side of the authority protocol: every request signed with a kiosk key file
//! ([`RequestSigner`], protocol B), blinded evaluations (`/v1/evaluate`, the key check at
//! `/v1/key-check`; answers verified by the caller's
//! [`BlindedBatch`](veilwatch::blind::prf::BlindedBatch)) and reviewer material (`/v1/disclose`, protocol E). A refusal comes back as an
//! error carrying the authority's reason, its `Veilwatch-Refusal` token and `Retry-After`.

use std::time::Duration;

use anyhow::{bail, Result};
use ed25519_dalek::SigningKey;
use rand_core::{OsRng, RngCore};
use veilwatch::authority::credential::{AuthorityOrigin, RequestSigner, NONCE_BYTES, REFUSAL};
use veilwatch::blind::material::{DisclosureBody, Handle, MaterialKeys};
use veilwatch::blind::prf::{AuthorityEndpoint, OprfTransport, ELEMENT_BYTES, PROOF_BYTES};
use veilwatch::blind::BlindError;
use veilwatch::hex::hex;

const DISCLOSE: &str = "/v1/disclose";
/// The largest answer read: a sealed match answer of the most blocks the protocol allows (~0.2 MB
/// each); an evaluation of the most tables the format allows, with its proof, and a material of
/// the largest record class are smaller.
const MAX_ANSWER: u64 = (veilwatch::sealed::protocol::MAX_BLOCKS * (512 << 10)) as u64;
const _: () = assert!(MAX_ANSWER >= (16_384 * ELEMENT_BYTES + PROOF_BYTES) as u64);

/// An authority at `base` (`http://` or `https://`, no path), reached as one registered kiosk of
/// one deployment; every request is signed for `base`'s origin.
pub struct SignedAuthority {
    base: String,
    origin: AuthorityOrigin,
    signer: RequestSigner,
    agent: ureq::Agent,
}

impl SignedAuthority {
    pub fn new(url: &str, key: SigningKey, deployment: &[u8; 16]) -> Result<SignedAuthority> {
        let base = url.trim_end_matches('/');
        let Some(rest) = base.strip_prefix("http://").or_else(|| base.strip_prefix("https://")) else {
            bail!("{url} is not an http:// or https:// URL");
        };
        if rest.is_empty() || rest.contains('/') {
            bail!("{url}: give the authority's base URL, without a path (e.g. https://authority.example:8787)");
        }
        let origin = AuthorityOrigin::of_url(base)?;
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(20)).build();
        Ok(SignedAuthority { base: base.to_owned(), origin, signer: RequestSigner::new(key, deployment), agent })
    }

    /// The kiosk's public key, 64 hex digits.
    pub fn kiosk_hex(&self) -> &str {
        self.signer.kiosk_hex()
    }

    /// POSTs `body` to `path`, signed now with `nonce`; the answer's bytes, or the refusal.
    fn post(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
        nonce: &[u8; NONCE_BYTES],
    ) -> Result<Vec<u8>, BlindError> {
        let mut request = self.agent.post(&format!("{}{path}", self.base)).set("Content-Type", content_type);
        let now = veilwatch::time::now_unix();
        for (name, value) in self.signer.headers_with_nonce(&self.origin, "POST", path, body, now, nonce) {
            request = request.set(name, &value);
        }
        let response = match request.send_bytes(body) {
            Ok(response) => response,
            Err(ureq::Error::Status(status, response)) => return Err(refusal(status, response)),
            Err(e) => return Err(BlindError::Authority(format!("cannot reach the authority at {}: {e}", self.base))),
        };
        let mut answer = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(response.into_reader(), MAX_ANSWER), &mut answer)
            .map_err(|e| BlindError::Authority(format!("cannot read the authority's answer: {e}")))?;
        Ok(answer)
    }

    /// A signed POST of `body` to `path` with a fresh nonce.
    pub fn post_signed(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, BlindError> {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        self.post(path, "application/octet-stream", body, &nonce)
    }

    /// The sealed reviewer material of `handle`, proved with `keys` (protocol E).
    pub fn disclose(&self, deployment: &[u8; 16], handle: &Handle, keys: &MaterialKeys) -> Result<Vec<u8>, BlindError> {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let body = DisclosureBody::encode(keys, &hex(deployment), self.kiosk_hex(), &hex(&nonce), handle);
        self.post(DISCLOSE, "application/json", &body, &nonce)
    }
}

/// The authority's refusal in words: status, token, Retry-After and its plain-text reason.
fn refusal(status: u16, response: ureq::Response) -> BlindError {
    let token = response.header(REFUSAL).map(|t| format!(" {t}")).unwrap_or_default();
    let retry = response.header("Retry-After").map(|s| format!(", retry after {s} s")).unwrap_or_default();
    let reason = response.into_string().unwrap_or_default();
    BlindError::Authority(format!("the authority refused (HTTP {status}{token}{retry}): {}", reason.trim()))
}

impl OprfTransport for &SignedAuthority {
    fn send(&self, endpoint: AuthorityEndpoint, deployment: &[u8; 16], blinded: &[u8]) -> Result<Vec<u8>, BlindError> {
        if hex(deployment) != self.signer.deployment_hex() {
            return Err(BlindError::Authority(format!(
                "this client signs for deployment {}, not {}",
                self.signer.deployment_hex(),
                hex(deployment)
            )));
        }
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        self.post(endpoint.path(), "application/octet-stream", blinded, &nonce)
    }
}

/// Sealed custody's requests (`/v1/sealed/*`), signed as every other.
impl veilwatch::sealed::session::SealedTransport for SignedAuthority {
    fn post(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, String> {
        self.post_signed(path, body).map_err(|e| e.to_string())
    }
}
