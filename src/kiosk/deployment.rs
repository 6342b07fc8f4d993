//! Loading a deployment: the watchlist, its issuer, its optional profile and its custody, verified
//! in one order — issuer key, profile (signature, then that it names this very watchlist),
//! watchlist (structure, issuer, signature, model, custody, window, key check), the watchlist's
//! threshold against the profile's (equal, never below its floor), then the profile's window when
//! the session takes it. Nothing is loaded unless every step passes.

use ed25519_dalek::VerifyingKey;
use serde::Deserialize;

use super::KioskError;
use crate::blind::matcher::Matcher;
use crate::blind::prf::{LocalHmac, Prf};
use crate::governance::profile::SignedProfile;

/// How the kiosk evaluates the watchlist's PRF (DESIGN §3.2), as a page passes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum CustodyOptions {
    /// The PRF key ships with the deployment (offline demonstrations): 64 hex digits.
    Local { prf_key: String },
    /// The PRF key stays with an authority that evaluates blinded elements.
    Authority { url: String },
}

/// A deployment as a page hands it to `Kiosk.create` or `kiosk.loadWatchlist`.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeploymentOptions {
    /// The signed watchlist file.
    #[serde(with = "serde_bytes")]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "Uint8Array"))]
    pub watchlist: Vec<u8>,
    /// The issuer's Ed25519 public key, 64 hex digits.
    pub issuer_key: String,
    /// The signed deployment profile (text), if the deployment has one.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub profile: Option<String>,
    pub custody: CustodyOptions,
}

/// A verified deployment, ready for a session to match against.
pub struct Deployment {
    pub matcher: Matcher,
    pub prf: Box<dyn Prf>,
    pub profile: Option<SignedProfile>,
}

impl Deployment {
    /// Verifies `options` for templates of `model_id` at `now_unix`. `connect_authority` makes the
    /// PRF for authority custody from its URL (the transport is the caller's: XHR in a browser,
    /// HTTP natively, in-process in tests).
    pub fn verify(
        options: DeploymentOptions,
        connect_authority: impl FnOnce(&str) -> Box<dyn Prf>,
        model_id: &str,
        now_unix: i64,
    ) -> Result<Deployment, KioskError> {
        let issuer = issuer_key(&options.issuer_key)?;
        let prf: Box<dyn Prf> = match &options.custody {
            CustodyOptions::Local { prf_key } => Box::new(LocalHmac::new(key_32(prf_key, "PRF key")?)),
            CustodyOptions::Authority { url } => connect_authority(url),
        };
        let profile = match &options.profile {
            Some(text) => {
                let profile = SignedProfile::parse(text.as_bytes(), &issuer, None)?;
                profile.check_watchlist(&options.watchlist)?;
                Some(profile)
            }
            None => None,
        };
        let matcher = Matcher::load(options.watchlist, &issuer, prf.as_ref(), model_id, now_unix)?;
        if let Some(profile) = &profile {
            profile.check_threshold(matcher.watchlist.header.threshold)?;
        }
        Ok(Deployment { matcher, prf, profile })
    }
}

impl Deployment {
    /// Whether both windows, the watchlist's and the profile's, are open at `now_unix`.
    pub fn check_window(&self, now_unix: i64) -> Result<(), KioskError> {
        self.matcher.watchlist.check_window(now_unix)?;
        if let Some(profile) = &self.profile {
            profile.check_window(now_unix)?;
        }
        Ok(())
    }
}

/// An issuer's public key from its hex form.
pub fn issuer_key(hex_text: &str) -> Result<VerifyingKey, KioskError> {
    VerifyingKey::from_bytes(&key_32(hex_text, "issuer key")?).map_err(|_| KioskError::IssuerKey)
}

fn key_32(hex_text: &str, what: &'static str) -> Result<[u8; 32], KioskError> {
    crate::hex::from_hex(hex_text.trim())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or(KioskError::KeyFormat { what })
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::blind::enroll::{build, synthetic_enrolments, WatchlistParams};
    use crate::blind::prf::{InProcessAuthority, OprfClientPrf, OprfKey};
    use crate::governance::profile::{Custody, Profile};
    use crate::hex::hex;
    use crate::kiosk::ErrorCode;

    const NOW: i64 = 1_800_000_000;
    const MODEL: &str = "test-model";

    fn issuer() -> SigningKey {
        SigningKey::from_bytes(&[4; 32])
    }

    fn watchlist(valid_until: i64) -> Vec<u8> {
        let params =
            WatchlistParams { model_id: MODEL.into(), tables: 32, threshold: 8, valid_from: NOW - 60, valid_until };
        build(synthetic_enrolments(3), &params, &LocalHmac::new([5; 32]), &issuer()).unwrap()
    }

    fn profile(watchlist: &[u8], valid_until: i64) -> String {
        profile_at(watchlist, valid_until, 8, 8)
    }

    fn profile_at(watchlist: &[u8], valid_until: i64, threshold: u16, threshold_floor: u16) -> String {
        Profile {
            purpose: "test".into(),
            legal_basis: "test".into(),
            operator: "op".into(),
            location: "here".into(),
            valid_from: crate::time::format_utc(NOW - 60),
            valid_until: crate::time::format_utc(valid_until),
            watchlist_sha256: hex(&<sha2::Sha256 as sha2::Digest>::digest(watchlist)),
            threshold,
            threshold_floor,
            custody: Custody::Local,
            query_rate_per_minute: 10,
            notice: "n".into(),
            contact: "c".into(),
            requires_overseer: false,
            target_fpir: None,
        }
        .sign(&issuer())
        .unwrap()
    }

    fn options(watchlist: Vec<u8>, profile: Option<String>, prf_key: [u8; 32]) -> DeploymentOptions {
        DeploymentOptions {
            watchlist,
            issuer_key: hex(&issuer().verifying_key().to_bytes()),
            profile,
            custody: CustodyOptions::Local { prf_key: hex(&prf_key) },
        }
    }

    fn verify(options: DeploymentOptions) -> Result<Deployment, KioskError> {
        Deployment::verify(options, |_| panic!("no authority here"), MODEL, NOW)
    }

    fn code(result: Result<Deployment, KioskError>) -> ErrorCode {
        result.err().expect("refused").code()
    }

    #[test]
    fn a_deployment_loads_only_when_issuer_profile_watchlist_model_and_key_all_agree() {
        let file = watchlist(NOW + 3600);
        let signed = profile(&file, NOW + 3600);
        assert!(verify(options(file.clone(), Some(signed.clone()), [5; 32])).is_ok());
        assert!(verify(options(file.clone(), None, [5; 32])).is_ok(), "a profile is optional (for now)");

        let mut foreign = options(file.clone(), None, [5; 32]);
        foreign.issuer_key = hex(&SigningKey::from_bytes(&[6; 32]).verifying_key().to_bytes());
        assert_eq!(code(verify(foreign)), ErrorCode::WatchlistForeign);
        let mut not_hex = options(file.clone(), None, [5; 32]);
        not_hex.issuer_key = "xyz".into();
        assert_eq!(code(verify(not_hex)), ErrorCode::KeyInvalid);

        let other = watchlist(NOW + 3600);
        let for_other = profile(&other, NOW + 3600);
        assert_eq!(code(verify(options(file.clone(), Some(for_other), [5; 32]))), ErrorCode::ProfileWatchlistMismatch);
        assert_eq!(code(verify(options(file.clone(), Some(signed), [6; 32]))), ErrorCode::WatchlistWrongKey);
        let result = Deployment::verify(options(file.clone(), None, [5; 32]), |_| unreachable!(), "other-model", NOW);
        assert_eq!(code(result), ErrorCode::WatchlistInvalid);

        let key: &'static OprfKey = Box::leak(Box::new(OprfKey::generate()));
        let mut authority = options(file.clone(), None, [5; 32]);
        authority.custody = CustodyOptions::Authority { url: "https://authority.example".into() };
        let result =
            Deployment::verify(authority, |_| Box::new(OprfClientPrf { transport: InProcessAuthority(key) }), MODEL, NOW);
        assert_eq!(code(result), ErrorCode::WatchlistWrongCustody);

        // The watchlist (m = 8) runs at the profile's threshold and never below its floor.
        let other_threshold = profile_at(&file, NOW + 3600, 9, 8);
        assert_eq!(code(verify(options(file.clone(), Some(other_threshold), [5; 32]))), ErrorCode::ProfileWatchlistMismatch);
        let above_floor = profile_at(&file, NOW + 3600, 9, 9);
        assert_eq!(code(verify(options(file.clone(), Some(above_floor), [5; 32]))), ErrorCode::ProfileBelowFloor);

        let mut tampered = file.clone();
        tampered[40] ^= 1;
        assert!(verify(options(tampered, None, [5; 32])).is_err());
    }

    #[test]
    fn the_window_is_the_earlier_of_the_watchlist_and_the_profile() {
        let file = watchlist(NOW + 3600);
        let short_profile = profile(&file, NOW + 600);
        let deployment = verify(options(file, Some(short_profile), [5; 32])).unwrap();
        assert!(deployment.check_window(NOW + 599).is_ok());
        assert_eq!(deployment.check_window(NOW + 600).unwrap_err().code(), ErrorCode::ProfileExpired);
        assert_eq!(deployment.check_window(NOW + 3600).unwrap_err().code(), ErrorCode::WatchlistExpired);
        assert_eq!(deployment.check_window(NOW - 61).unwrap_err().code(), ErrorCode::WatchlistNotYetValid);

        let header = &deployment.matcher.watchlist.header;
        let expected = crate::kiosk::status::ExpectedRates::of(header);
        let status = crate::kiosk::KioskStatus::new(Some(header), deployment.profile.as_ref(), Some(&expected), 0, NOW);
        assert_eq!(status.seconds_left, Some(600), "the status counts down to the earlier window");
        assert_eq!(status.entries, 64, "the size class 3 entries pad to");
        assert!(status.custody_note.unwrap().contains("weaker"));
        assert!(status.expected_false_alerts_per_1000.unwrap() > 0.0, "calibrated for any L and m");
        assert_eq!(status.notice.unwrap().operator, "op");
    }
}
