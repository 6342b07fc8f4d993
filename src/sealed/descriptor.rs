//! The sealed deployment's descriptor: what a kiosk is given of a sealed-custody deployment instead
//! of a watchlist file (the gallery never leaves the authority). `veilwatch enroll --custody sealed`
//! signs it with the issuer's key beside the registration material; the deployment profile names it
//! by its SHA-256 (`watchlistSha256`) exactly as it names a watchlist file, so the kiosk's one load
//! path verifies it: issuer, profile, custody, kiosk key, then this file (signature, model, window).
//!
//! File format (text, UTF-8, every line ends in `\n`, nothing else is accepted):
//!
//! ```text
//! VEILWATCH-SEALED-DEPLOYMENT-V1
//! {"deployment":…}                   one line of JSON (the exact bytes are signed)
//! issuer <public key> <signature>    64 + 128 lowercase hex digits
//! ```
//!
//! The signature is Ed25519 over `"VEILWATCH-SEALED-DEPLOYMENT-V1\n" || json line`. The JSON names
//! the deployment id the authority registered the gallery under, the model its templates come from,
//! the window, the threshold the authority compares at (thousandths of cosine), the gallery's row
//! size class (real rows and dummies: no finer count, as for a watchlist) and the SHA-256 of the
//! gallery as sealed for the authority: the signed profile thereby names the list the issuer
//! registered, which an auditor holding the registration can compare. The kiosk cannot check that
//! the authority serves that gallery at that threshold (it sees only encrypted answers).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::hex::{from_hex, hex};
use crate::time::{format_utc, parse_utc};

pub const MAGIC_LINE: &str = "VEILWATCH-SEALED-DEPLOYMENT-V1";
/// The custody's name, as the status, the audit log and the authority's registrations spell it.
pub const CUSTODY_NAME: &str = "bfv-sealed";
const MAX_DESCRIPTOR: usize = 4 * 1024;

#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum DescriptorError {
    #[error("this is neither a watchlist nor a sealed deployment's descriptor")]
    NotADescriptor,
    #[error("the sealed deployment's descriptor is malformed: {0}")]
    Malformed(String),
    #[error("the sealed deployment's descriptor is not signed by the expected issuer {0}")]
    ForeignIssuer(String),
    #[error("the sealed deployment's descriptor does not verify: it was altered after signing")]
    BadSignature,
    #[error("the sealed deployment's gallery was enrolled with model {listed}, but this kiosk runs {kiosk}")]
    ModelMismatch { listed: String, kiosk: String },
    #[error("the sealed deployment is not valid before {0}; check the device clock or wait")]
    NotYetValid(String),
    #[error("the sealed deployment expired on {0}; ask the issuer for a new one")]
    Expired(String),
}

/// The descriptor's JSON line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SealedDescriptor {
    /// The deployment id (32 lowercase hex) every request names in `Veilwatch-Deployment`.
    pub deployment: String,
    pub model_id: String,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub valid_from: String,
    pub valid_until: String,
    /// The authority alerts on a quantised similarity at or above this, in thousandths.
    pub threshold_milli: u16,
    /// The gallery's rows: real entries and dummies, a size class.
    pub rows: u32,
    /// SHA-256 of the gallery as sealed for the authority (64 lowercase hex).
    pub gallery_sha256: String,
}

/// A descriptor whose signature verified, with its parsed fields.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedDescriptor {
    pub descriptor: SealedDescriptor,
    pub deployment: [u8; 16],
    pub valid_from: i64,
    pub valid_until: i64,
}

fn message(json: &[u8]) -> Vec<u8> {
    [MAGIC_LINE.as_bytes(), b"\n", json].concat()
}

/// Exactly N bytes of lowercase hex (uppercase would be a second spelling of one signed file).
fn strict_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    from_hex(s)?.try_into().ok()
}

impl SealedDescriptor {
    fn validate(&self) -> Result<VerifiedDescriptor, DescriptorError> {
        let malformed = |what: &str| DescriptorError::Malformed(what.to_owned());
        let deployment = strict_hex::<16>(&self.deployment)
            .ok_or_else(|| malformed("deployment must be 32 lowercase hex digits"))?;
        strict_hex::<32>(&self.gallery_sha256)
            .ok_or_else(|| malformed("gallerySha256 must be 64 lowercase hex digits"))?;
        if self.model_id.is_empty() || self.model_id.len() > 200 {
            return Err(malformed("modelId must name the model in 1 to 200 bytes"));
        }
        if self.threshold_milli == 0 || self.threshold_milli >= 1000 {
            return Err(malformed("thresholdMilli must be between 1 and 999"));
        }
        if self.rows == 0 {
            return Err(malformed("rows must be at least 1"));
        }
        let window = |s: &str| {
            parse_utc(s).ok_or_else(|| DescriptorError::Malformed(format!("`{s}` is not YYYY-MM-DDTHH:MM:SSZ")))
        };
        let (valid_from, valid_until) = (window(&self.valid_from)?, window(&self.valid_until)?);
        if valid_from >= valid_until {
            return Err(malformed("validFrom must come before validUntil"));
        }
        Ok(VerifiedDescriptor { descriptor: self.clone(), deployment, valid_from, valid_until })
    }

    /// The signed file, as the issuer `issuer` writes it.
    pub fn sign(&self, issuer: &SigningKey) -> Result<String, DescriptorError> {
        self.validate()?;
        let json = serde_json::to_string(self).map_err(|e| DescriptorError::Malformed(e.to_string()))?;
        let signature = issuer.sign(&message(json.as_bytes()));
        Ok(format!(
            "{MAGIC_LINE}\n{json}\nissuer {} {}\n",
            hex(&issuer.verifying_key().to_bytes()),
            hex(&signature.to_bytes())
        ))
    }
}

/// Whether `bytes` start as a sealed deployment's descriptor (rather than a watchlist file).
pub fn looks_like_descriptor(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC_LINE.as_bytes())
}

impl VerifiedDescriptor {
    /// Parses and verifies a descriptor file against the expected issuer.
    pub fn parse(bytes: &[u8], issuer: &VerifyingKey) -> Result<VerifiedDescriptor, DescriptorError> {
        if bytes.len() > MAX_DESCRIPTOR {
            return Err(DescriptorError::Malformed(format!("larger than {MAX_DESCRIPTOR} bytes")));
        }
        if !looks_like_descriptor(bytes) {
            return Err(DescriptorError::NotADescriptor);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| DescriptorError::Malformed("not UTF-8 text".into()))?;
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| DescriptorError::Malformed("the file must end with a newline".into()))?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [magic, json, signature_line] = lines[..] else {
            return Err(DescriptorError::Malformed(
                "expected the magic line, the JSON line and the issuer's line".into(),
            ));
        };
        if magic != MAGIC_LINE {
            return Err(DescriptorError::NotADescriptor);
        }
        let parts: Vec<&str> = signature_line.split(' ').collect();
        let ["issuer", key, signature] = parts[..] else {
            return Err(DescriptorError::Malformed(format!("`{signature_line}` is not `issuer key signature`")));
        };
        let (Some(key), Some(signature)) = (strict_hex::<32>(key), strict_hex::<64>(signature)) else {
            return Err(DescriptorError::Malformed("the key and the signature must be lowercase hex".into()));
        };
        if key != issuer.to_bytes() {
            return Err(DescriptorError::ForeignIssuer(hex(&key)));
        }
        issuer
            .verify_strict(&message(json.as_bytes()), &Signature::from_bytes(&signature))
            .map_err(|_| DescriptorError::BadSignature)?;
        let descriptor: SealedDescriptor =
            serde_json::from_str(json).map_err(|e| DescriptorError::Malformed(e.to_string()))?;
        descriptor.validate()
    }

    /// The gallery's templates come from the model the kiosk runs.
    pub fn check_model(&self, model_id: &str) -> Result<(), DescriptorError> {
        if self.descriptor.model_id != model_id {
            return Err(DescriptorError::ModelMismatch {
                listed: self.descriptor.model_id.clone(),
                kiosk: model_id.to_owned(),
            });
        }
        Ok(())
    }

    pub fn check_window(&self, now_unix: i64) -> Result<(), DescriptorError> {
        if now_unix < self.valid_from {
            return Err(DescriptorError::NotYetValid(format_utc(self.valid_from)));
        }
        if now_unix >= self.valid_until {
            return Err(DescriptorError::Expired(format_utc(self.valid_until)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor() -> SealedDescriptor {
        SealedDescriptor {
            deployment: "0123456789abcdef0123456789abcdef".into(),
            model_id: "model".into(),
            valid_from: "2026-01-01T00:00:00Z".into(),
            valid_until: "2027-01-01T00:00:00Z".into(),
            threshold_milli: 360,
            rows: 64,
            gallery_sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn a_signed_descriptor_verifies_and_every_alteration_is_refused() {
        let issuer = SigningKey::from_bytes(&[7; 32]);
        let file = descriptor().sign(&issuer).unwrap();
        let verified = VerifiedDescriptor::parse(file.as_bytes(), &issuer.verifying_key()).unwrap();
        assert_eq!(verified.descriptor, descriptor());
        assert_eq!(verified.deployment[0], 0x01);
        assert!(
            verified.check_window(verified.valid_from).is_ok() && verified.check_window(verified.valid_until).is_err()
        );
        assert!(matches!(verified.check_model("other"), Err(DescriptorError::ModelMismatch { .. })));
        assert!(looks_like_descriptor(file.as_bytes()));

        let altered = file.replace("\"thresholdMilli\":360", "\"thresholdMilli\":300");
        assert_eq!(
            VerifiedDescriptor::parse(altered.as_bytes(), &issuer.verifying_key()),
            Err(DescriptorError::BadSignature)
        );
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(matches!(
            VerifiedDescriptor::parse(file.as_bytes(), &other.verifying_key()),
            Err(DescriptorError::ForeignIssuer(_))
        ));
        assert_eq!(
            VerifiedDescriptor::parse(b"VWL1 not text", &issuer.verifying_key()),
            Err(DescriptorError::NotADescriptor)
        );
        assert!(matches!(
            VerifiedDescriptor::parse(file.trim_end().as_bytes(), &issuer.verifying_key()),
            Err(DescriptorError::Malformed(_))
        ));
        let mut bad = descriptor();
        bad.threshold_milli = 1000;
        assert!(matches!(bad.sign(&issuer), Err(DescriptorError::Malformed(_))));
    }
}
