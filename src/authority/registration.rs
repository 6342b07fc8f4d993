//! Registration and revocation documents (protocol C): what the issuer tells the authority about a
//! deployment, signed with the issuer's key, which the authority is configured to trust.
//!
//! A document is two lines of UTF-8 text, each ending in `\n`:
//!
//! ```text
//! {"kind":"registerDeployment",…}            one line of JSON (camelCase fields, nothing unknown)
//! issuer <public key> <signature>            64 + 128 lowercase hex digits
//! ```
//!
//! The signature is Ed25519 (`verify_strict`) over `"VEILWATCH-REGISTRATION-V1\n" || json line`.
//! The kinds:
//!
//! - `registerDeployment`: `deployment` (watchlist id, 32 hex), `issued`, `notBefore`, `notAfter`
//!   (unix seconds), `tables` (L, the elements of one face), `budgets` (`facesPerMinute`,
//!   `facesPerDay`, `facesTotal`, `disclosuresPerHour`, default 10), `kioskKeys` (Ed25519 public
//!   keys, 64 hex) and `materials` (`handle` 32 hex, `verifier` 64 hex, `sealed` base64: the sealed
//!   reviewer material of one entry, [`super::disclosure`]); under sealed custody also
//!   `sealedGallery` (base64: the gallery of quantised templates, sealed under a key derived from
//!   the authority's master secret, `sealed::gallery`; absent otherwise, and then `tables` is L), and
//!   `custody` (`voprf` or `bfv-sealed`; optional, derived from `sealedGallery` when absent, refused
//!   when it contradicts it). The authority records the custody with the registration and serves a
//!   deployment on its custody's routes only ([`Registration::custody`]). A later `issued` replaces
//!   an earlier registration of the same deployment; an older one is refused, the same one again is
//!   a no-op.
//! - `revokeDeployment`: `deployment`, `issued`. Final: a revoked deployment is never registered again.
//! - `revokeKiosk`: `deployment`, `kioskKey`, `issued`. Final for that deployment.
//!
//! [`Document::parse`] and [`Document::sign`] read and write the format side by side.

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hex::{from_hex, hex};

const DOMAIN: &[u8] = b"VEILWATCH-REGISTRATION-V1\n";
/// The largest document accepted (a registration of 1 024 entries with photos up to 16 KiB is
/// about 23 MB of base64; larger lists are split into deployments).
pub const MAX_DOCUMENT_BYTES: usize = 32 << 20;
/// The most elements one face may carry (L), as the authority's body limit allows.
pub const MAX_TABLES: u16 = 4096;
/// The most kiosks one deployment lists. Every request reads the deployment's registration (kiosk
/// list included) from the state store, so the list is kept to what one read can carry cheaply
/// (~66 KB of JSON at the limit); a larger fleet is split into deployments.
pub const MAX_KIOSKS: usize = 1_000;
/// The largest sealed material of one entry (a 16 KiB record class plus nonce and tag, with room).
pub const MAX_SEALED_BYTES: usize = 64 * 1024;
/// Disclosures per kiosk per hour when the registration does not say.
pub const DEFAULT_DISCLOSURES_PER_HOUR: u32 = 10;
/// The deployment's caps on released reviewer materials over all its kiosks, per hour and per UTC
/// day, when the registration does not set them: stolen kiosk credentials pooled cannot release
/// more names than this, however many kiosks the deployment has.
pub const DEFAULT_DEPLOYMENT_DISCLOSURES_PER_HOUR: u32 = 20;
pub const DEFAULT_DEPLOYMENT_DISCLOSURES_PER_DAY: u32 = 100;

/// Why a document was not accepted. The first two are the issuer's concern (403), the rest a
/// document that is not one (400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocumentError {
    /// Signed by a key the authority does not trust (another issuer, or a key folder mix-up).
    #[error("the document is signed by issuer {0}, not by the issuer this authority trusts")]
    ForeignIssuer(String),
    /// The signature line does not verify: the JSON line was changed after signing.
    #[error("the issuer's signature does not verify over this document; it was altered or is not a registration")]
    BadSignature,
    #[error("the document is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge,
    #[error("not a registration document: {0}")]
    Malformed(String),
}

impl DocumentError {
    /// The `Veilwatch-Refusal` token of a refused document.
    pub fn token(&self) -> &'static str {
        match self {
            DocumentError::ForeignIssuer(_) => "foreign_issuer",
            DocumentError::BadSignature => "bad_issuer_signature",
            DocumentError::TooLarge | DocumentError::Malformed(_) => "malformed_document",
        }
    }
}

/// N bytes written as 2·N lowercase hex digits (uppercase is refused: one spelling per value).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HexBytes<const N: usize>(pub [u8; N]);

impl<const N: usize> HexBytes<N> {
    pub fn parse(text: &str) -> Option<HexBytes<N>> {
        if text.len() != 2 * N || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        Some(HexBytes(from_hex(text)?.try_into().ok()?))
    }

    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl<const N: usize> std::fmt::Debug for HexBytes<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl<const N: usize> Serialize for HexBytes<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de, const N: usize> Deserialize<'de> for HexBytes<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        HexBytes::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("expected {} lowercase hex digits", 2 * N)))
    }
}

/// Bytes written as standard base64 (with padding).
#[derive(Clone, PartialEq, Eq)]
pub struct Base64Bytes(pub Vec<u8>);

impl std::fmt::Debug for Base64Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

impl Serialize for Base64Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if text.len() > MAX_SEALED_BYTES * 4 / 3 + 4 {
            return Err(serde::de::Error::custom(format!("sealed material larger than {MAX_SEALED_BYTES} bytes")));
        }
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Base64Bytes)
            .map_err(|e| serde::de::Error::custom(format!("not base64: {e}")))
    }
}

/// A sealed gallery (`sealed::gallery`), written as standard base64; up to a document's size.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedGalleryBytes(pub Vec<u8>);

impl std::fmt::Debug for SealedGalleryBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<sealed gallery, {} bytes>", self.0.len())
    }
}

impl Serialize for SealedGalleryBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for SealedGalleryBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(SealedGalleryBytes)
            .map_err(|e| serde::de::Error::custom(format!("sealedGallery is not base64: {e}")))
    }
}

/// A deployment's budgets (protocol D). With the `cli` feature, also the flags of
/// `veilwatch registration deployment` (`--faces-per-minute`, …), each documented by its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Budgets {
    /// Faces per kiosk per unix minute.
    #[cfg_attr(feature = "cli", arg(long))]
    pub faces_per_minute: u32,
    /// Faces per kiosk per UTC day.
    #[cfg_attr(feature = "cli", arg(long))]
    pub faces_per_day: u32,
    /// Faces of the whole deployment, ever.
    #[cfg_attr(feature = "cli", arg(long))]
    pub faces_total: u64,
    /// Reviewer materials released per kiosk per hour.
    #[serde(default = "default_disclosures")]
    #[cfg_attr(feature = "cli", arg(long, default_value_t = DEFAULT_DISCLOSURES_PER_HOUR))]
    pub disclosures_per_hour: u32,
    /// Reviewer materials released for the whole deployment per unix hour, over all its kiosks.
    #[serde(default = "default_deployment_disclosures_per_hour")]
    #[cfg_attr(feature = "cli", arg(long, default_value_t = DEFAULT_DEPLOYMENT_DISCLOSURES_PER_HOUR))]
    pub deployment_disclosures_per_hour: u32,
    /// Reviewer materials released for the whole deployment per UTC day, over all its kiosks.
    #[serde(default = "default_deployment_disclosures_per_day")]
    #[cfg_attr(feature = "cli", arg(long, default_value_t = DEFAULT_DEPLOYMENT_DISCLOSURES_PER_DAY))]
    pub deployment_disclosures_per_day: u32,
}

fn default_disclosures() -> u32 {
    DEFAULT_DISCLOSURES_PER_HOUR
}

fn default_deployment_disclosures_per_hour() -> u32 {
    DEFAULT_DEPLOYMENT_DISCLOSURES_PER_HOUR
}

fn default_deployment_disclosures_per_day() -> u32 {
    DEFAULT_DEPLOYMENT_DISCLOSURES_PER_DAY
}

/// The sealed reviewer material of one watchlist entry, and the verifier of its disclosure proofs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Material {
    pub handle: HexBytes<16>,
    /// The entry's disclosure key (HKDF of its record key, [`super::disclosure`]).
    pub verifier: HexBytes<32>,
    /// ChaCha20-Poly1305 under the material key, nonce first; the authority cannot open it.
    pub sealed: Base64Bytes,
}

/// The custody an authority serves a deployment under: which of its routes answer the deployment's
/// kiosks (`/v1/evaluate`, `/v1/key-check`, `/v1/disclose` for VOPRF custody; `/v1/sealed/*` for
/// sealed custody; `/v1/anchor` for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegisteredCustody {
    /// Blinded LSH: the authority evaluates blinded elements under the deployment's VOPRF key.
    Voprf,
    /// Sealed custody (DESIGN §3.4): the authority holds the gallery and answers BFV queries.
    BfvSealed,
}

impl RegisteredCustody {
    /// The name in documents and refusals.
    pub fn name(self) -> &'static str {
        match self {
            RegisteredCustody::Voprf => "voprf",
            RegisteredCustody::BfvSealed => "bfv-sealed",
        }
    }
}

/// A deployment as the issuer registers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Registration {
    pub deployment: HexBytes<16>,
    pub issued: i64,
    pub not_before: i64,
    pub not_after: i64,
    pub tables: u16,
    pub budgets: Budgets,
    pub kiosk_keys: Vec<HexBytes<32>>,
    #[serde(default)]
    pub materials: Vec<Material>,
    /// Sealed custody: the deployment's gallery, sealed for the authority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_gallery: Option<SealedGalleryBytes>,
    /// The custody, as the issuer states it; absent, it is derived from `sealed_gallery`. The
    /// summary the authority stores always carries it (the gallery is not in the summary), so
    /// every request is routed by the custody recorded at registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custody: Option<RegisteredCustody>,
}

impl Registration {
    /// Whether `kiosk` is listed.
    pub fn lists_kiosk(&self, kiosk: &[u8; 32]) -> bool {
        self.kiosk_keys.iter().any(|k| &k.0 == kiosk)
    }

    /// The registration without its materials and gallery (what every request reads; materials
    /// are looked up one handle at a time, the gallery by sealed custody's routes).
    pub fn summary(&self) -> Registration {
        Registration { materials: Vec::new(), sealed_gallery: None, custody: Some(self.custody()), ..self.clone() }
    }

    /// The custody this deployment is served under: as stated, or sealed if and only if a sealed
    /// gallery is registered. (A summary stored before custody was recorded, which has neither,
    /// reads as VOPRF custody: such a sealed deployment is refused on the sealed routes until it is
    /// registered again.)
    pub fn custody(&self) -> RegisteredCustody {
        match (self.custody, &self.sealed_gallery) {
            (Some(custody), _) => custody,
            (None, Some(_)) => RegisteredCustody::BfvSealed,
            (None, None) => RegisteredCustody::Voprf,
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.not_before >= self.not_after {
            return Err(format!("notBefore {} is not before notAfter {}", self.not_before, self.not_after));
        }
        if self.tables == 0 || self.tables > MAX_TABLES {
            return Err(format!("tables {} is not between 1 and {MAX_TABLES}", self.tables));
        }
        let b = &self.budgets;
        if b.faces_per_minute == 0 || b.faces_per_day == 0 || b.faces_total == 0 || b.disclosures_per_hour == 0 {
            return Err("every budget must be at least 1 (revoke the deployment to stop it)".into());
        }
        if self.kiosk_keys.is_empty() || self.kiosk_keys.len() > MAX_KIOSKS {
            return Err(format!("kioskKeys must list 1 to {MAX_KIOSKS} kiosks"));
        }
        for key in &self.kiosk_keys {
            VerifyingKey::from_bytes(&key.0)
                .map_err(|_| format!("kiosk key {} is not an Ed25519 public key", key.to_hex()))?;
        }
        let derived =
            if self.sealed_gallery.is_some() { RegisteredCustody::BfvSealed } else { RegisteredCustody::Voprf };
        if self.custody.is_some_and(|stated| stated != derived) {
            return Err(format!(
                "custody {} contradicts the registration, which {} a sealedGallery",
                self.custody().name(),
                if self.sealed_gallery.is_some() { "carries" } else { "does not carry" }
            ));
        }
        let mut handles: Vec<_> = self.materials.iter().map(|m| m.handle).collect();
        handles.sort();
        if handles.windows(2).any(|w| w[0] == w[1]) {
            return Err("two materials have the same handle".into());
        }
        Ok(())
    }
}

/// A deployment's kiosk, revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KioskRevocation {
    pub deployment: HexBytes<16>,
    pub kiosk_key: HexBytes<32>,
    pub issued: i64,
}

/// A deployment, revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeploymentRevocation {
    pub deployment: HexBytes<16>,
    pub issued: i64,
}

/// One verified document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Document {
    RegisterDeployment(Registration),
    RevokeDeployment(DeploymentRevocation),
    RevokeKiosk(KioskRevocation),
}

fn message(json: &[u8]) -> Vec<u8> {
    [DOMAIN, json].concat()
}

impl Document {
    pub fn deployment(&self) -> HexBytes<16> {
        match self {
            Document::RegisterDeployment(r) => r.deployment,
            Document::RevokeDeployment(r) => r.deployment,
            Document::RevokeKiosk(r) => r.deployment,
        }
    }

    /// What the document does, for logs ("register", "revoke deployment", "revoke kiosk").
    pub fn kind(&self) -> &'static str {
        match self {
            Document::RegisterDeployment(_) => "registerDeployment",
            Document::RevokeDeployment(_) => "revokeDeployment",
            Document::RevokeKiosk(_) => "revokeKiosk",
        }
    }

    /// Parses a document file and verifies it was signed by `issuer`; only a verified,
    /// well-formed document comes back.
    pub fn parse(bytes: &[u8], issuer: &VerifyingKey) -> Result<Document, DocumentError> {
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(DocumentError::TooLarge);
        }
        let malformed = |m: &str| DocumentError::Malformed(m.to_owned());
        let text = std::str::from_utf8(bytes).map_err(|_| malformed("not UTF-8 text"))?;
        let body = text.strip_suffix('\n').ok_or_else(|| malformed("the file must end with a newline"))?;
        let (json, signature_line) = body
            .split_once('\n')
            .ok_or_else(|| malformed("expected two lines: the JSON and the issuer's signature"))?;
        let mut fields = signature_line.split(' ');
        let (Some("issuer"), Some(key), Some(signature), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(malformed("the second line must be `issuer <public key hex> <signature hex>`"));
        };
        let key =
            HexBytes::<32>::parse(key).ok_or_else(|| malformed("the issuer key is not 64 lowercase hex digits"))?;
        let signature = HexBytes::<64>::parse(signature)
            .ok_or_else(|| malformed("the signature is not 128 lowercase hex digits"))?;
        if &key.0 != issuer.as_bytes() {
            return Err(DocumentError::ForeignIssuer(key.to_hex()));
        }
        issuer
            .verify_strict(&message(json.as_bytes()), &Signature::from_bytes(&signature.0))
            .map_err(|_| DocumentError::BadSignature)?;
        let document: Document =
            serde_json::from_str(json).map_err(|e| DocumentError::Malformed(format!("the JSON line: {e}")))?;
        if let Document::RegisterDeployment(registration) = &document {
            registration.check().map_err(DocumentError::Malformed)?;
        }
        Ok(document)
    }

    /// The document file, signed by `issuer`.
    pub fn sign(&self, issuer: &SigningKey) -> String {
        let json = serde_json::to_string(self).expect("documents serialise");
        let signature = issuer.sign(&message(json.as_bytes()));
        format!("{json}\nissuer {} {}\n", hex(issuer.verifying_key().as_bytes()), hex(&signature.to_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration() -> Registration {
        Registration {
            deployment: HexBytes([1; 16]),
            issued: 100,
            not_before: 0,
            not_after: 1000,
            tables: 1024,
            budgets: Budgets {
                faces_per_minute: 60,
                faces_per_day: 1000,
                faces_total: 100_000,
                disclosures_per_hour: 10,
                deployment_disclosures_per_hour: 20,
                deployment_disclosures_per_day: 100,
            },
            kiosk_keys: vec![HexBytes(SigningKey::from_bytes(&[5; 32]).verifying_key().to_bytes())],
            materials: vec![Material {
                handle: HexBytes([2; 16]),
                verifier: HexBytes([3; 32]),
                sealed: Base64Bytes(vec![4; 100]),
            }],
            sealed_gallery: None,
            custody: None,
        }
    }

    #[test]
    fn documents_round_trip_and_any_change_breaks_the_signature() {
        let issuer = SigningKey::from_bytes(&[9; 32]);
        for document in [
            Document::RegisterDeployment(registration()),
            Document::RevokeDeployment(DeploymentRevocation { deployment: HexBytes([1; 16]), issued: 5 }),
            Document::RevokeKiosk(KioskRevocation {
                deployment: HexBytes([1; 16]),
                kiosk_key: HexBytes([7; 32]),
                issued: 6,
            }),
        ] {
            let file = document.sign(&issuer);
            assert_eq!(Document::parse(file.as_bytes(), &issuer.verifying_key()), Ok(document.clone()));
            assert!(file.starts_with(&format!("{{\"kind\":\"{}\"", document.kind())), "{file}");
            // Every byte of the JSON line is signed.
            let json_len = file.find('\n').unwrap();
            for i in 0..json_len {
                let mut bytes = file.clone().into_bytes();
                bytes[i] ^= 0x01;
                assert!(Document::parse(&bytes, &issuer.verifying_key()).is_err(), "byte {i} of {file}");
            }
        }
        let other = SigningKey::from_bytes(&[8; 32]);
        let foreign = Document::RegisterDeployment(registration()).sign(&other);
        assert!(matches!(
            Document::parse(foreign.as_bytes(), &issuer.verifying_key()),
            Err(DocumentError::ForeignIssuer(_))
        ));
    }

    #[test]
    fn a_registration_that_cannot_work_is_refused_with_its_reason() {
        let issuer = SigningKey::from_bytes(&[9; 32]);
        let refused = |r: Registration| match Document::parse(
            Document::RegisterDeployment(r).sign(&issuer).as_bytes(),
            &issuer.verifying_key(),
        ) {
            Err(DocumentError::Malformed(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(refused(Registration { not_after: 0, ..registration() }).contains("notBefore"));
        assert!(refused(Registration { tables: 0, ..registration() }).contains("tables"));
        assert!(refused(Registration { kiosk_keys: vec![], ..registration() }).contains("kioskKeys"));
        let stated = |custody| Registration { custody: Some(custody), ..registration() };
        assert!(refused(stated(RegisteredCustody::BfvSealed)).contains("custody bfv-sealed contradicts"));
        let sealed = Registration { sealed_gallery: Some(SealedGalleryBytes(vec![1; 8])), ..registration() };
        assert!(refused(Registration { custody: Some(RegisteredCustody::Voprf), ..sealed.clone() }).contains("custody"));
        assert_eq!(sealed.summary().custody, Some(RegisteredCustody::BfvSealed), "the summary records it");
        assert_eq!(registration().summary().custody(), RegisteredCustody::Voprf);
        let mut twice = registration();
        twice.materials.push(twice.materials[0].clone());
        assert!(refused(twice).contains("same handle"));
        let mut zero = registration();
        zero.budgets.faces_per_day = 0;
        assert!(refused(zero).contains("budget"));
        // Defaults and unknown fields.
        let json = r#"{"kind":"registerDeployment","deployment":"01010101010101010101010101010101","issued":1,"notBefore":0,"notAfter":9,"tables":4,"budgets":{"facesPerMinute":1,"facesPerDay":1,"facesTotal":1},"kioskKeys":["KEY"]}"#
            .replace("KEY", &registration().kiosk_keys[0].to_hex());
        let sign = |json: &str| {
            let signature = issuer.sign(&message(json.as_bytes()));
            format!("{json}\nissuer {} {}\n", hex(issuer.verifying_key().as_bytes()), hex(&signature.to_bytes()))
        };
        match Document::parse(sign(&json).as_bytes(), &issuer.verifying_key()).unwrap() {
            Document::RegisterDeployment(r) => {
                assert_eq!(r.budgets.disclosures_per_hour, DEFAULT_DISCLOSURES_PER_HOUR);
                assert!(r.materials.is_empty());
            }
            other => panic!("{other:?}"),
        }
        let unknown = json.replace("\"tables\":4", "\"tables\":4,\"extra\":1");
        assert!(Document::parse(sign(&unknown).as_bytes(), &issuer.verifying_key()).is_err());
        let upper = json.replace("01010101010101010101010101010101", "0A010101010101010101010101010101");
        assert!(Document::parse(sign(&upper).as_bytes(), &issuer.verifying_key()).is_err());
    }
}
