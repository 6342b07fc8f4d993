//! The options of `Kiosk.create` (DESIGN §9): both models, the overseer's public key if the kiosk
//! is configured with one, and optionally a deployment. Without a watchlist the kiosk detects and
//! counts, and demo enrolment is available.

use serde::Deserialize;

use super::deployment::{CustodyOptions, DeploymentOptions};
use super::KioskError;

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KioskOptions {
    /// The YuNet model file's bytes.
    #[serde(with = "serde_bytes")]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "Uint8Array"))]
    pub detector: Vec<u8>,
    /// The SFace model file's bytes.
    #[serde(with = "serde_bytes")]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "Uint8Array"))]
    pub recognizer: Vec<u8>,
    /// A deployment to load at once: the watchlist, with `issuerKey` and `custody` (and `profile`
    /// if it has one), as [`DeploymentOptions`].
    #[serde(default, with = "serde_bytes")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional, type = "Uint8Array"))]
    pub watchlist: Option<Vec<u8>>,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub issuer_key: Option<String>,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub profile: Option<String>,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub custody: Option<CustodyOptions>,
    /// This kiosk's Ed25519 public key (hex), for the profile's `kioskKeys`.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub kiosk_public_key: Option<String>,
    /// The independent overseer's Ed25519 public key (64 hex digits). When set, every profile
    /// must carry this overseer's co-signature; without it, a profile that requires one is refused.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub overseer_public_key: Option<String>,
}

impl KioskOptions {
    /// The deployment these options name, if any; a watchlist without its issuer key or custody
    /// is an error, not a kiosk that silently matches nothing.
    pub fn take_deployment(&mut self) -> Result<Option<DeploymentOptions>, KioskError> {
        let Some(watchlist) = self.watchlist.take() else {
            if self.issuer_key.is_some()
                || self.custody.is_some()
                || self.profile.is_some()
                || self.kiosk_public_key.is_some()
            {
                return Err(KioskError::Options(
                    "options.watchlist is missing: issuerKey, profile, custody and kioskPublicKey need it".into(),
                ));
            }
            return Ok(None);
        };
        let issuer_key = self
            .issuer_key
            .take()
            .ok_or_else(|| KioskError::Options("options.issuerKey (hex) is required with a watchlist".into()))?;
        let custody = self.custody.take().ok_or_else(|| {
            KioskError::Options(
                "options.custody must be {kind: \"local\", prfKey} or {kind: \"authority\", url}".into(),
            )
        })?;
        Ok(Some(DeploymentOptions {
            watchlist,
            issuer_key,
            profile: self.profile.take(),
            custody,
            kiosk_public_key: self.kiosk_public_key.take(),
        }))
    }

    /// The overseer key these options configure, if any.
    pub fn overseer_key(&self) -> Result<Option<ed25519_dalek::VerifyingKey>, KioskError> {
        self.overseer_public_key.as_deref().map(super::deployment::overseer_key).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(json: serde_json::Value) -> Result<KioskOptions, serde_json::Error> {
        serde_json::from_value(json)
    }

    #[test]
    fn a_watchlist_needs_its_issuer_and_custody_and_nothing_else_is_accepted() {
        let mut bare = options(serde_json::json!({"detector": [1], "recognizer": [2]})).unwrap();
        assert!(bare.take_deployment().unwrap().is_none());

        let mut no_issuer = options(serde_json::json!({"detector": [1], "recognizer": [2], "watchlist": [3],
            "custody": {"kind": "local", "prfKey": "00"}}))
        .unwrap();
        assert!(no_issuer.take_deployment().unwrap_err().to_string().contains("issuerKey"));

        let mut full = options(serde_json::json!({"detector": [1], "recognizer": [2], "watchlist": [3],
            "issuerKey": "ab", "custody": {"kind": "authority", "url": "https://a.example"}}))
        .unwrap();
        let deployment = full.take_deployment().unwrap().unwrap();
        assert_eq!(deployment.custody, CustodyOptions::Authority { url: "https://a.example".into() });

        assert!(options(serde_json::json!({"detector": [1], "recognizer": [2], "prfkey": "00"})).is_err());
        let overseer =
            options(serde_json::json!({"detector": [1], "recognizer": [2], "overseerPublicKey": "12"})).unwrap();
        assert_eq!(overseer.overseer_key().unwrap_err().code(), crate::kiosk::ErrorCode::KeyInvalid);
        assert!(
            options(serde_json::json!({"detector": [1], "recognizer": [2], "watchlist": [3], "issuerKey": "ab",
            "custody": {"kind": "local"}}))
            .is_err(),
            "local custody needs its key"
        );
    }
}
