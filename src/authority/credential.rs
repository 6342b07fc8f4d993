//! Kiosk credentials (DESIGN §5): every `/v1/*` call is signed by a registered kiosk key.
//!
//! Headers: [`KIOSK`] (Ed25519 public key, 64 hex), [`DEPLOYMENT`] (watchlist id, 32 hex),
//! [`TIMESTAMP`] (unix seconds), [`NONCE`] (16 random bytes, 32 hex) and [`SIGNATURE`] (128 hex),
//! the signature over the UTF-8 bytes of
//!
//! ```text
//! VEILWATCH-REQUEST-V2\n{authority}\n{METHOD}\n{path}\n{deployment}\n{kiosk}\n{timestamp}\n{nonce}\n{sha256(body) hex}
//! ```
//!
//! (hex lowercase; path without query). `{authority}` names the authority the request is for: its
//! origin as the kiosk reaches it ([`AuthorityOrigin`], the browser's `URL.origin` of the profile's
//! `custody.url`), so that a request signed for one authority (staging) is refused by another
//! (production, with its own state and so its own nonces), even for the same deployment and kiosk;
//! the authority accepts the origins it is configured with (`--public-origin`). The browser builds the same bytes in
//! `www/kiosk/authority-client.js` and signs them with its non-extractable WebCrypto key; the
//! CLI, the tests and the load generator sign here with [`RequestSigner`].
//!
//! The authority's side, in this order: [`Credential::from_headers`] parses the headers (`unsigned`,
//! `malformed_credential`), [`Credential::verify_signature`] verifies the signature with the key
//! the request names (`verify_strict`; `bad_signature`, also for a request signed for another
//! authority) before anything is looked up,
//! [`admit_kiosk`] checks that the key is registered for the deployment (`unknown_deployment`,
//! `unregistered_kiosk`) and then the deployment and the kiosk (`revoked_deployment`,
//! `expired_deployment`, `revoked_kiosk`), [`Credential::check_fresh`] the clock (`stale`,
//! ±[`MAX_SKEW_S`]), and the nonce is checked last, in the shared state store (`replayed`). Each
//! refusal is a [`CredentialRefusal`]; the 401 names it in `Veilwatch-Refusal` only when
//! [`CredentialRefusal::is_told`] (after a registered kiosk's signature verified), and says
//! [`UNAUTHORISED`] otherwise.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use super::registration::{HexBytes, Registration};
use super::store::DeploymentState;
use crate::hex::hex;

pub const KIOSK: &str = "veilwatch-kiosk";
pub const DEPLOYMENT: &str = "veilwatch-deployment";
pub const TIMESTAMP: &str = "veilwatch-timestamp";
pub const NONCE: &str = "veilwatch-nonce";
pub const SIGNATURE: &str = "veilwatch-signature";
/// The header of a refusal naming its reason as a token (`stale`, `replayed`, `budget_minute`, …).
pub const REFUSAL: &str = "veilwatch-refusal";
/// The one token of every refusal before a registered kiosk's signature has verified.
pub const UNAUTHORISED: &str = "unauthorised";
/// Bytes of a request nonce.
pub const NONCE_BYTES: usize = 16;
/// How far a request's timestamp may be from the authority's clock, either way.
pub const MAX_SKEW_S: i64 = 120;

/// An authority's origin, `scheme://host[:port]`, spelled as a browser's `new URL(url).origin`
/// spells it: scheme and host lower-cased, the port only when it is not the scheme's default (80
/// for http, 443 for https). What a signed request names as the authority it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityOrigin(String);

/// A URL that names no authority origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{url} does not name an authority's origin ({why}); give http(s)://HOST[:PORT], e.g. https://authority.example"
)]
pub struct OriginError {
    pub url: String,
    pub why: &'static str,
}

impl AuthorityOrigin {
    /// The origin of an authority's URL: `http://` or `https://` and a host; a path, query or
    /// fragment is dropped, as the browser drops it; userinfo is refused (a second spelling).
    pub fn of_url(url: &str) -> Result<AuthorityOrigin, OriginError> {
        let refused = |why| OriginError { url: url.to_owned(), why };
        let uri: http::Uri = url.parse().map_err(|_| refused("not a URL"))?;
        let scheme = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("http") => "http",
            Some("https") => "https",
            _ => return Err(refused("the scheme must be http or https")),
        };
        let authority = uri.authority().ok_or_else(|| refused("no host"))?;
        if authority.as_str().contains('@') {
            return Err(refused("userinfo is not allowed"));
        }
        let host = authority.host().to_ascii_lowercase();
        if host.is_empty() {
            return Err(refused("no host"));
        }
        let default_port = if scheme == "https" { 443 } else { 80 };
        Ok(AuthorityOrigin(match authority.port_u16() {
            Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
            _ => format!("{scheme}://{host}"),
        }))
    }

    /// An origin exactly as given, without a path (what `--public-origin` takes): the URL must
    /// already be `scheme://host[:port]`, at most with a trailing `/`.
    pub fn parse_exact(text: &str) -> Result<AuthorityOrigin, OriginError> {
        let origin = AuthorityOrigin::of_url(text)?;
        let uri: http::Uri = text.parse().map_err(|_| OriginError { url: text.to_owned(), why: "not a URL" })?;
        if !matches!(uri.path_and_query().map(|p| p.as_str()), None | Some("/") | Some("")) {
            return Err(OriginError { url: text.to_owned(), why: "an origin has no path or query" });
        }
        Ok(origin)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AuthorityOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The bytes a kiosk signs for one request to the authority at `authority` (an origin).
#[allow(clippy::too_many_arguments)]
pub fn request_message(
    authority: &str,
    method: &str,
    path: &str,
    deployment_hex: &str,
    kiosk_hex: &str,
    timestamp: i64,
    nonce_hex: &str,
    body: &[u8],
) -> Vec<u8> {
    format!(
        "VEILWATCH-REQUEST-V2\n{authority}\n{}\n{path}\n{deployment_hex}\n{kiosk_hex}\n{timestamp}\n{nonce_hex}\n{}",
        method.to_ascii_uppercase(),
        hex(&Sha256::digest(body))
    )
    .into_bytes()
}

/// Signs requests of one kiosk for one deployment.
pub struct RequestSigner {
    key: SigningKey,
    kiosk_hex: String,
    deployment_hex: String,
}

impl RequestSigner {
    pub fn new(key: SigningKey, deployment: &[u8; 16]) -> RequestSigner {
        let kiosk_hex = hex(key.verifying_key().as_bytes());
        RequestSigner { key, kiosk_hex, deployment_hex: hex(deployment) }
    }

    /// The kiosk's public key, 64 hex digits (what the issuer registers).
    pub fn kiosk_hex(&self) -> &str {
        &self.kiosk_hex
    }

    /// The deployment it signs for, 32 hex digits.
    pub fn deployment_hex(&self) -> &str {
        &self.deployment_hex
    }

    /// The five credential headers, `(name, value)`, for `method path` with `body` to the
    /// authority at `authority`, signed at `now_unix` with a fresh random nonce.
    pub fn headers(
        &self,
        authority: &AuthorityOrigin,
        method: &str,
        path: &str,
        body: &[u8],
        now_unix: i64,
    ) -> Vec<(&'static str, String)> {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        self.headers_with_nonce(authority, method, path, body, now_unix, &nonce)
    }

    /// [`RequestSigner::headers`] with a given nonce (for tests that replay one).
    pub fn headers_with_nonce(
        &self,
        authority: &AuthorityOrigin,
        method: &str,
        path: &str,
        body: &[u8],
        now_unix: i64,
        nonce: &[u8; NONCE_BYTES],
    ) -> Vec<(&'static str, String)> {
        let nonce_hex = hex(nonce);
        let message = request_message(
            authority.as_str(),
            method,
            path,
            &self.deployment_hex,
            &self.kiosk_hex,
            now_unix,
            &nonce_hex,
            body,
        );
        let signature = self.key.sign(&message);
        vec![
            (KIOSK, self.kiosk_hex.clone()),
            (DEPLOYMENT, self.deployment_hex.clone()),
            (TIMESTAMP, now_unix.to_string()),
            (NONCE, nonce_hex),
            (SIGNATURE, hex(&signature.to_bytes())),
        ]
    }
}

/// Why a request's credential was refused (401; [`CredentialRefusal::token`] names it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialRefusal {
    #[error("the request carries no kiosk credential (no {0} header); sign it with a registered kiosk key")]
    Unsigned(&'static str),
    #[error("the kiosk credential is malformed: {0}")]
    Malformed(String),
    /// The kiosk's clock is off, or the request was held back and sent later.
    #[error("the request was signed {skew} s away from the authority's clock (at most {MAX_SKEW_S} s); check the kiosk's clock")]
    Stale { skew: i64 },
    #[error("deployment {0} is not registered at this authority; the issuer must register it")]
    UnknownDeployment(String),
    #[error("deployment {0} is revoked")]
    RevokedDeployment(String),
    #[error("deployment {0} is outside its registered validity window")]
    ExpiredDeployment(String),
    #[error("this kiosk key is not registered for the deployment; give its public key to the issuer")]
    UnregisteredKiosk,
    #[error("this kiosk key is revoked for the deployment")]
    RevokedKiosk,
    #[error("the request's signature does not verify against the kiosk key (altered in transit, signed with another key, or signed for another authority than this one's --public-origin)")]
    BadSignature,
    #[error("this request was already received (its nonce was used); a replayed request is refused")]
    Replayed,
}

impl CredentialRefusal {
    /// Whether the requester is told this reason: only once the request is signed by a kiosk key
    /// registered for the deployment it names, and the signature verified. Every refusal before
    /// that point is answered with the one token [`UNAUTHORISED`], so that a stranger learns
    /// nothing of which deployments and kiosks exist; the reason goes to the log and the metrics.
    pub fn is_told(&self) -> bool {
        !matches!(
            self,
            CredentialRefusal::Unsigned(_)
                | CredentialRefusal::Malformed(_)
                | CredentialRefusal::BadSignature
                | CredentialRefusal::UnknownDeployment(_)
                | CredentialRefusal::UnregisteredKiosk
        )
    }

    pub fn token(&self) -> &'static str {
        match self {
            CredentialRefusal::Unsigned(_) => "unsigned",
            CredentialRefusal::Malformed(_) => "malformed_credential",
            CredentialRefusal::Stale { .. } => "stale",
            CredentialRefusal::UnknownDeployment(_) => "unknown_deployment",
            CredentialRefusal::RevokedDeployment(_) => "revoked_deployment",
            CredentialRefusal::ExpiredDeployment(_) => "expired_deployment",
            CredentialRefusal::UnregisteredKiosk => "unregistered_kiosk",
            CredentialRefusal::RevokedKiosk => "revoked_kiosk",
            CredentialRefusal::BadSignature => "bad_signature",
            CredentialRefusal::Replayed => "replayed",
        }
    }
}

/// A request's credential headers, parsed (not yet checked against anything).
#[derive(Debug, Clone)]
pub struct Credential {
    pub kiosk: HexBytes<32>,
    pub deployment: HexBytes<16>,
    pub timestamp: i64,
    pub nonce: HexBytes<NONCE_BYTES>,
    signature: HexBytes<64>,
}

impl Credential {
    /// Reads the five headers: all absent (or any one absent) is `unsigned`, a header of the
    /// wrong shape `malformed_credential`.
    pub fn from_headers(headers: &http::HeaderMap) -> Result<Credential, CredentialRefusal> {
        let get = |name: &'static str| -> Result<&str, CredentialRefusal> {
            let value = headers.get(name).ok_or(CredentialRefusal::Unsigned(name))?;
            value.to_str().map_err(|_| CredentialRefusal::Malformed(format!("{name} is not ASCII")))
        };
        let (kiosk, deployment, timestamp, nonce, signature) =
            (get(KIOSK)?, get(DEPLOYMENT)?, get(TIMESTAMP)?, get(NONCE)?, get(SIGNATURE)?);
        let malformed = |name: &str, shape: &str| CredentialRefusal::Malformed(format!("{name} must be {shape}"));
        Ok(Credential {
            kiosk: HexBytes::parse(kiosk).ok_or_else(|| malformed(KIOSK, "64 lowercase hex digits"))?,
            deployment: HexBytes::parse(deployment).ok_or_else(|| malformed(DEPLOYMENT, "32 lowercase hex digits"))?,
            timestamp: (timestamp.len() <= 19 && timestamp.bytes().all(|b| b.is_ascii_digit()))
                .then(|| timestamp.parse().ok())
                .flatten()
                .ok_or_else(|| malformed(TIMESTAMP, "unix seconds in decimal"))?,
            nonce: HexBytes::parse(nonce).ok_or_else(|| malformed(NONCE, "32 lowercase hex digits"))?,
            signature: HexBytes::parse(signature).ok_or_else(|| malformed(SIGNATURE, "128 lowercase hex digits"))?,
        })
    }

    pub fn check_fresh(&self, now_unix: i64) -> Result<(), CredentialRefusal> {
        let skew = self.timestamp.saturating_sub(now_unix);
        if skew.abs() > MAX_SKEW_S {
            return Err(CredentialRefusal::Stale { skew });
        }
        Ok(())
    }

    /// Verifies the signature over `method path` and `body` (Ed25519 `verify_strict`), signed for
    /// one of `authorities` (this authority's origins); a request for any other authority is
    /// [`CredentialRefusal::BadSignature`].
    pub fn verify_signature(
        &self,
        authorities: &[AuthorityOrigin],
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(), CredentialRefusal> {
        let key = VerifyingKey::from_bytes(&self.kiosk.0).map_err(|_| CredentialRefusal::BadSignature)?;
        let signature = Signature::from_bytes(&self.signature.0);
        let (deployment, kiosk, nonce) = (self.deployment.to_hex(), self.kiosk.to_hex(), self.nonce.to_hex());
        let signed_for = |authority: &AuthorityOrigin| {
            let message =
                request_message(authority.as_str(), method, path, &deployment, &kiosk, self.timestamp, &nonce, body);
            key.verify_strict(&message, &signature).is_ok()
        };
        if authorities.iter().any(signed_for) {
            Ok(())
        } else {
            Err(CredentialRefusal::BadSignature)
        }
    }
}

/// The deployment's registration, if `kiosk` is listed in it, the deployment is not revoked and in
/// its window, and the kiosk is not revoked; the refusal otherwise. Whether the kiosk is listed is
/// decided first, so that only a registered kiosk (whose signature the caller has verified) learns
/// anything more about the deployment than [`CredentialRefusal::is_told`] allows.
pub fn admit_kiosk<'a>(
    credential: &Credential,
    state: Option<&'a DeploymentState>,
    now_unix: i64,
) -> Result<&'a Registration, CredentialRefusal> {
    let id = || credential.deployment.to_hex();
    let state = state.ok_or_else(|| CredentialRefusal::UnknownDeployment(id()))?;
    let registration = state.registration.as_ref().ok_or_else(|| CredentialRefusal::UnknownDeployment(id()))?;
    if !registration.lists_kiosk(&credential.kiosk.0) {
        return Err(CredentialRefusal::UnregisteredKiosk);
    }
    if state.revoked {
        return Err(CredentialRefusal::RevokedDeployment(id()));
    }
    if now_unix < registration.not_before || now_unix > registration.not_after {
        return Err(CredentialRefusal::ExpiredDeployment(id()));
    }
    if state.revoked_kiosks.contains(&credential.kiosk.0) {
        return Err(CredentialRefusal::RevokedKiosk);
    }
    Ok(registration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier};

    #[test]
    fn a_nonce_is_remembered_longer_than_any_timestamp_stays_fresh() {
        // Stamped MAX_SKEW_S ahead, a request is fresh for 2 × MAX_SKEW_S after it arrived.
        assert!(crate::authority::store::NONCE_TTL_S as i64 > 2 * MAX_SKEW_S);
    }

    #[test]
    fn an_origin_is_spelled_as_the_browser_spells_it() {
        let origin = |url: &str| AuthorityOrigin::of_url(url).map(|o| o.to_string());
        assert_eq!(origin("http://127.0.0.1:8787").unwrap(), "http://127.0.0.1:8787");
        assert_eq!(origin("HTTPS://Authority.Example:443/v1/?q#f").unwrap(), "https://authority.example");
        assert_eq!(origin("http://authority.example:80/").unwrap(), "http://authority.example");
        assert_eq!(origin("https://authority.example:8443").unwrap(), "https://authority.example:8443");
        assert_eq!(origin("http://[::1]:8787").unwrap(), "http://[::1]:8787");
        for refused in ["ftp://authority.example", "authority.example", "http://user@authority.example", "http://"] {
            assert!(origin(refused).is_err(), "{refused}");
        }
        assert!(AuthorityOrigin::parse_exact("https://authority.example/").is_ok());
        assert!(AuthorityOrigin::parse_exact("https://authority.example/staging").is_err());
    }

    #[test]
    fn the_signature_covers_every_signed_field() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let signer = RequestSigner::new(key.clone(), &[1; 16]);
        let here = AuthorityOrigin::of_url("https://authority.example").unwrap();
        let headers = signer.headers_with_nonce(&here, "post", "/v1/evaluate", b"body", 1_700_000_000, &[2; 16]);
        let value = |name: &str| headers.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        let signature = Signature::from_slice(&crate::hex::from_hex(&value(SIGNATURE)).unwrap()).unwrap();
        let signed = |authority, method, path, deployment: &str, time, nonce: &str, body: &[u8]| {
            request_message(authority, method, path, deployment, signer.kiosk_hex(), time, nonce, body)
        };
        let (a, d, n) = (here.as_str(), value(DEPLOYMENT), value(NONCE));
        assert!(key
            .verifying_key()
            .verify(&signed(a, "POST", "/v1/evaluate", &d, 1_700_000_000, &n, b"body"), &signature)
            .is_ok());
        let header_map: http::HeaderMap = headers
            .iter()
            .map(|(n, v)| (http::HeaderName::from_static(n), http::HeaderValue::from_str(v).unwrap()))
            .collect();
        let credential = Credential::from_headers(&header_map).unwrap();
        let elsewhere = AuthorityOrigin::of_url("https://staging.authority.example").unwrap();
        assert_eq!(credential.verify_signature(std::slice::from_ref(&here), "POST", "/v1/evaluate", b"body"), Ok(()));
        assert_eq!(
            credential.verify_signature(&[elsewhere.clone(), here.clone()], "POST", "/v1/evaluate", b"body"),
            Ok(())
        );
        assert_eq!(
            credential.verify_signature(&[elsewhere], "POST", "/v1/evaluate", b"body"),
            Err(CredentialRefusal::BadSignature)
        );
        assert_eq!(
            credential.verify_signature(std::slice::from_ref(&here), "POST", "/v1/evaluate", b"bodz"),
            Err(CredentialRefusal::BadSignature)
        );
        assert_eq!(credential.check_fresh(1_700_000_120), Ok(()));
        assert_eq!(credential.check_fresh(1_699_999_879), Err(CredentialRefusal::Stale { skew: 121 }));
        let mut missing = header_map.clone();
        missing.remove(NONCE);
        assert_eq!(Credential::from_headers(&missing).unwrap_err().token(), "unsigned");
        let mut upper = header_map.clone();
        upper.insert(KIOSK, http::HeaderValue::from_str(&signer.kiosk_hex().to_uppercase()).unwrap());
        assert_eq!(Credential::from_headers(&upper).unwrap_err().token(), "malformed_credential");
        for altered in [
            signed("https://staging.authority.example", "POST", "/v1/evaluate", &d, 1_700_000_000, &n, b"body"),
            signed(a, "GET", "/v1/evaluate", &d, 1_700_000_000, &n, b"body"),
            signed(a, "POST", "/v1/disclose", &d, 1_700_000_000, &n, b"body"),
            signed(a, "POST", "/v1/evaluate", &hex(&[3; 16]), 1_700_000_000, &n, b"body"),
            signed(a, "POST", "/v1/evaluate", &d, 1_700_000_001, &n, b"body"),
            signed(a, "POST", "/v1/evaluate", &d, 1_700_000_000, &hex(&[4; 16]), b"body"),
            signed(a, "POST", "/v1/evaluate", &d, 1_700_000_000, &n, b"bodz"),
        ] {
            assert!(key.verifying_key().verify(&altered, &signature).is_err());
        }
    }
}
