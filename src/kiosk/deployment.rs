//! Loading a deployment (DESIGN §4, G8): the watchlist, its issuer, its profile and its custody,
//! verified in one order — issuer key; the profile, which is required (signatures: the issuer's,
//! and the overseer's when the kiosk is configured with an overseer key or the profile requires
//! one); that it names this very watchlist (SHA-256); that the custody the kiosk was told to use is
//! the profile's (kind and authority URL, https or loopback); that this kiosk's key is among the
//! kiosks it allows; the watchlist (structure, issuer, signature, custody; under authority custody
//! that its deployment public key is the profile's `authorityPublicKey`; model, window, key
//! check, whose answer's proof must verify under that key); the watchlist's threshold against the profile's (equal, never below its floor); then the
//! profile's window when the session takes it. Nothing is loaded unless every step passes.

use ed25519_dalek::VerifyingKey;
use serde::Deserialize;

use super::KioskError;
use crate::blind::format::Watchlist;
use crate::blind::matcher::Matcher;
use crate::blind::prf::{BlindedBatch, LocalHmac, PrfSuite, PUBLIC_KEY_BYTES};
use crate::blind::BlindError;
use crate::governance::profile::{Custody as ProfileCustody, SignedProfile};
use crate::sealed::descriptor::{looks_like_descriptor, VerifiedDescriptor, CUSTODY_NAME};

/// How the kiosk evaluates the watchlist's PRF (DESIGN §3.2), or that the list stays sealed at an
/// authority (§3.4), as a page passes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum CustodyOptions {
    /// The PRF key ships with the deployment (offline demonstrations): 64 hex digits.
    Local { prf_key: String },
    /// The PRF key stays with an authority that evaluates blinded elements.
    Authority { url: String },
    /// The gallery stays with the authority at `url`, which compares each face encrypted under a
    /// key this kiosk alone holds; `watchlist` is then the sealed deployment's signed descriptor.
    Sealed { url: String },
}

/// A deployment as a page hands it to `Kiosk.create` or `kiosk.loadWatchlist`.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeploymentOptions {
    /// The signed watchlist file; under sealed custody, the sealed deployment's signed descriptor
    /// (`enroll --custody sealed` writes it as `FILE.deployment`).
    #[serde(with = "serde_bytes")]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "Uint8Array"))]
    pub watchlist: Vec<u8>,
    /// The issuer's Ed25519 public key, 64 hex digits.
    pub issuer_key: String,
    /// The signed deployment profile (text). Required: a deployment without one is refused
    /// (`PROFILE_REQUIRED`); it is optional in the type only so that its absence gets that error.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub profile: Option<String>,
    pub custody: CustodyOptions,
    /// This kiosk's Ed25519 public key (64 lowercase hex digits), checked against the profile's
    /// `kioskKeys`. A profile that lists kiosks refuses a kiosk without a key.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub kiosk_public_key: Option<String>,
}

impl CustodyOptions {
    /// The custody as a profile names it (without the key material).
    pub fn as_profile_custody(&self) -> ProfileCustody {
        match self {
            CustodyOptions::Local { .. } => ProfileCustody::Local,
            CustodyOptions::Authority { url } => {
                ProfileCustody::Authority { url: url.clone(), authority_public_key: None }
            }
            CustodyOptions::Sealed { url } => ProfileCustody::Sealed { url: url.clone() },
        }
    }
}

/// What a verified deployment matches against, and where (DESIGN §3.2, §3.4).
pub enum Custody {
    /// The watchlist, matched in this process under the key shipped with the deployment.
    Local { matcher: Matcher, prf: LocalHmac },
    /// The watchlist, whose PRF the authority at `url` evaluates: only through round trips the
    /// caller carries out itself ([`super::authority_round_trips`]); every answer is verified
    /// against `public_key`, the deployment key the watchlist header and the profile both name.
    Authority { matcher: Matcher, url: String, public_key: [u8; PUBLIC_KEY_BYTES] },
    /// No list here: the gallery is sealed at the authority at `url`, which the descriptor names;
    /// each face goes there encrypted ([`super::sealed_faces`]).
    Sealed { descriptor: VerifiedDescriptor, url: String },
}

impl Custody {
    /// The custody's name, as the status and the audit log spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Custody::Local { .. } => PrfSuite::HmacSha256Local.name(),
            Custody::Authority { .. } => PrfSuite::VoprfRistretto255Sha512.name(),
            Custody::Sealed { .. } => CUSTODY_NAME,
        }
    }
}

/// A verified deployment, ready for a session to match against.
pub struct Deployment {
    pub custody: Custody,
    /// The verified profile it runs under; `None` only for the demo roster built in this kiosk
    /// ([`super::demo`]), which no deployment can be loaded as.
    pub profile: Option<SignedProfile>,
}

impl Deployment {
    /// Verifies `options` for templates of `model_id` at `now_unix`, with the kiosk's overseer
    /// key if it is configured with one, without a round trip to the authority: everything that
    /// needs no network is verified here. A local-custody or sealed deployment is then ready; under
    /// authority custody the key check is left to the caller, who sends [`KeyCheck::request`] to
    /// the authority (only once the profile has approved its URL and the watchlist's deployment key
    /// matches the profile's) and finishes with [`KeyCheck::finish`].
    pub fn verify(
        options: DeploymentOptions,
        overseer: Option<&VerifyingKey>,
        model_id: &str,
        now_unix: i64,
    ) -> Result<Verified, KioskError> {
        let (issuer, profile) = verify_profile(&options, overseer)?;
        if let CustodyOptions::Sealed { url } = &options.custody {
            let descriptor = VerifiedDescriptor::parse(&options.watchlist, &issuer)?;
            descriptor.check_model(model_id)?;
            descriptor.check_window(now_unix)?;
            profile.check_threshold(descriptor.descriptor.threshold_milli)?;
            let custody = Custody::Sealed { descriptor, url: url.clone() };
            return Ok(Verified::Ready(Deployment { custody, profile: Some(profile) }));
        }
        if looks_like_descriptor(&options.watchlist) {
            return Err(KioskError::Options(
                "this file is a sealed deployment's descriptor: load it under sealed custody, with the authority's URL"
                    .into(),
            ));
        }
        let watchlist = Watchlist::parse(options.watchlist, &issuer)?;
        match options.custody {
            CustodyOptions::Local { prf_key } => {
                let prf = LocalHmac::new(key_32(&prf_key, "PRF key")?);
                let matcher = Matcher::new(watchlist, &prf, model_id, now_unix)?;
                profile.check_threshold(matcher.watchlist.header.threshold)?;
                Ok(Verified::Ready(Deployment { custody: Custody::Local { matcher, prf }, profile: Some(profile) }))
            }
            CustodyOptions::Authority { url } => {
                let public_key = authority_key(&watchlist, &profile)?;
                let matcher = Matcher::without_key_check(watchlist, model_id, now_unix)?;
                profile.check_threshold(matcher.watchlist.header.threshold)?;
                let batch = BlindedBatch::blind(vec![matcher.key_check_input()])?;
                let custody = Custody::Authority { matcher, url, public_key };
                Ok(Verified::KeyCheck(KeyCheck {
                    deployment: Deployment { custody, profile: Some(profile) },
                    batch,
                    public_key,
                }))
            }
            CustodyOptions::Sealed { .. } => unreachable!("sealed custody returned above"),
        }
    }

    /// Whether this is the in-browser demo roster rather than an issuer's deployment.
    pub fn is_demo(&self) -> bool {
        self.profile.is_none()
    }

    /// The blinded watchlist matched here (local and authority custody), `None` under sealed
    /// custody, whose gallery stays at the authority.
    pub fn matcher(&self) -> Option<&Matcher> {
        match &self.custody {
            Custody::Local { matcher, .. } | Custody::Authority { matcher, .. } => Some(matcher),
            Custody::Sealed { .. } => None,
        }
    }

    /// The deployment id requests to the authority name (`Veilwatch-Deployment`): the watchlist id,
    /// or the sealed deployment's.
    pub fn id(&self) -> [u8; 16] {
        match &self.custody {
            Custody::Local { matcher, .. } | Custody::Authority { matcher, .. } => {
                matcher.watchlist.header.watchlist_id
            }
            Custody::Sealed { descriptor, .. } => descriptor.deployment,
        }
    }
}

impl Deployment {
    /// Whether both windows, the watchlist's (or sealed descriptor's) and the profile's, are open
    /// at `now_unix`.
    pub fn check_window(&self, now_unix: i64) -> Result<(), KioskError> {
        match &self.custody {
            Custody::Local { matcher, .. } | Custody::Authority { matcher, .. } => {
                matcher.watchlist.check_window(now_unix)?
            }
            Custody::Sealed { descriptor, .. } => descriptor.check_window(now_unix)?,
        }
        if let Some(profile) = &self.profile {
            profile.check_window(now_unix)?;
        }
        Ok(())
    }
}

/// The deployment public key an authority-custody deployment verifies every answer against: the
/// watchlist header's, once the watchlist is found to be a VOPRF one (`WATCHLIST_WRONG_CUSTODY`)
/// and the profile to name the same key (`PROFILE_AUTHORITY_KEY`).
fn authority_key(watchlist: &Watchlist, profile: &SignedProfile) -> Result<[u8; PUBLIC_KEY_BYTES], KioskError> {
    let header = &watchlist.header;
    let wrong_custody =
        || BlindError::SuiteMismatch { needed: header.suite.name(), given: PrfSuite::VoprfRistretto255Sha512.name() };
    if header.suite != PrfSuite::VoprfRistretto255Sha512 {
        return Err(wrong_custody().into());
    }
    let key = header.authority_key.ok_or_else(wrong_custody)?;
    profile.check_authority_key(Some(&key))?;
    Ok(key)
}

/// The issuer key and the profile of `options`, checked against the watchlist file, the custody
/// and this kiosk's key.
fn verify_profile(
    options: &DeploymentOptions,
    overseer: Option<&VerifyingKey>,
) -> Result<(VerifyingKey, SignedProfile), KioskError> {
    let issuer = issuer_key(&options.issuer_key)?;
    let text = options.profile.as_deref().ok_or(KioskError::ProfileRequired)?;
    let profile = SignedProfile::parse(text.as_bytes(), &issuer, overseer)?;
    profile.check_watchlist(&options.watchlist)?;
    profile.check_custody(&options.custody.as_profile_custody())?;
    let kiosk_key = match &options.kiosk_public_key {
        Some(hex_text) => Some(crate::hex::hex(&key_32(hex_text, "kiosk public key")?)),
        None => None,
    };
    profile.check_kiosk(kiosk_key.as_deref())?;
    Ok((issuer, profile))
}

/// What [`Deployment::verify`] verified: a deployment ready to match, or one waiting for
/// the authority's answer to its key check.
pub enum Verified {
    Ready(Deployment),
    KeyCheck(KeyCheck),
}

/// A deployment verified but for its key check, and the blinded key-check input to send to the
/// authority (`POST {url}/v1/key-check`). The blinding state is wiped when it is dropped.
pub struct KeyCheck {
    deployment: Deployment,
    batch: BlindedBatch,
    public_key: [u8; PUBLIC_KEY_BYTES],
}

impl KeyCheck {
    /// The request body: one blinded element.
    pub fn request(&self) -> &[u8] {
        self.batch.request()
    }

    /// The deployment id (watchlist id) the key check is for: the `Veilwatch-Deployment` header.
    pub fn deployment_id(&self) -> [u8; 16] {
        self.deployment.id()
    }

    /// The deployment, once the authority's `answer` proves it holds the watchlist's key:
    /// `AUTHORITY_BAD_ANSWER` for an answer of the wrong length, `AUTHORITY_ANSWER_UNVERIFIED`
    /// when its proof fails (tampered, or under another deployment's key), `WATCHLIST_WRONG_KEY`
    /// if it verifies but is not the header's key check.
    pub fn finish(self, answer: &[u8]) -> Result<Deployment, KioskError> {
        let outputs = self.batch.finish(answer, &self.public_key)?;
        let matcher =
            self.deployment.matcher().ok_or(KioskError::Internal("a key check without a watchlist".into()))?;
        matcher.check_key(&outputs[0])?;
        Ok(self.deployment)
    }
}

/// An issuer's public key from its hex form.
pub fn issuer_key(hex_text: &str) -> Result<VerifyingKey, KioskError> {
    VerifyingKey::from_bytes(&key_32(hex_text, "issuer key")?).map_err(|_| KioskError::IssuerKey)
}

/// An overseer's public key from its hex form (`Kiosk.create({overseerPublicKey})`).
pub fn overseer_key(hex_text: &str) -> Result<VerifyingKey, KioskError> {
    VerifyingKey::from_bytes(&key_32(hex_text, "overseer key")?)
        .map_err(|_| KioskError::KeyFormat { what: "overseer key" })
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
    use crate::blind::prf::{DeploymentKey, MasterSecret};
    use crate::governance::profile::{cosign, Custody, Profile};
    use crate::hex::hex;
    use crate::kiosk::ErrorCode;

    const NOW: i64 = 1_800_000_000;
    const MODEL: &str = "test-model";

    fn issuer() -> SigningKey {
        SigningKey::from_bytes(&[4; 32])
    }

    fn public(key: &SigningKey) -> String {
        hex(&key.verifying_key().to_bytes())
    }

    fn watchlist(valid_until: i64) -> Vec<u8> {
        let params =
            WatchlistParams { model_id: MODEL.into(), tables: 32, threshold: 8, valid_from: NOW - 60, valid_until };
        build(synthetic_enrolments(3), &params, &LocalHmac::new([5; 32]), &issuer()).unwrap()
    }

    fn profile_for(watchlist: &[u8], valid_until: i64) -> Profile {
        Profile {
            purpose: "test".into(),
            legal_basis: "test".into(),
            operator: "op".into(),
            location: "here".into(),
            valid_from: crate::time::format_utc(NOW - 60),
            valid_until: crate::time::format_utc(valid_until),
            watchlist_sha256: hex(&<sha2::Sha256 as sha2::Digest>::digest(watchlist)),
            threshold: 8,
            threshold_floor: 8,
            custody: Custody::Local,
            query_rate_per_minute: 10,
            notice: "n".into(),
            contact: "c".into(),
            requires_overseer: false,
            target_fpir: None,
            false_alert_estimate: None,
            kiosk_keys: Vec::new(),
        }
    }

    fn profile(watchlist: &[u8], valid_until: i64) -> String {
        profile_for(watchlist, valid_until).sign(&issuer()).unwrap()
    }

    fn profile_at(watchlist: &[u8], valid_until: i64, threshold: u16, threshold_floor: u16) -> String {
        Profile { threshold, threshold_floor, ..profile_for(watchlist, valid_until) }.sign(&issuer()).unwrap()
    }

    fn options(watchlist: Vec<u8>, profile: Option<String>, prf_key: [u8; 32]) -> DeploymentOptions {
        DeploymentOptions {
            watchlist,
            issuer_key: public(&issuer()),
            profile,
            custody: CustodyOptions::Local { prf_key: hex(&prf_key) },
            kiosk_public_key: None,
        }
    }

    /// A local-custody deployment, verified in full (no key check is left to the caller).
    fn verify_local(
        options: DeploymentOptions,
        overseer: Option<&VerifyingKey>,
        model_id: &str,
    ) -> Result<Deployment, KioskError> {
        match Deployment::verify(options, overseer, model_id, NOW)? {
            Verified::Ready(deployment) => Ok(deployment),
            Verified::KeyCheck(_) => panic!("a local-custody deployment left its key check to the caller"),
        }
    }

    fn verify(options: DeploymentOptions) -> Result<Deployment, KioskError> {
        verify_local(options, None, MODEL)
    }

    fn code<T>(result: Result<T, KioskError>) -> ErrorCode {
        result.err().expect("refused").code()
    }

    #[test]
    fn a_deployment_loads_only_when_issuer_profile_watchlist_model_and_key_all_agree() {
        let file = watchlist(NOW + 3600);
        let signed = profile(&file, NOW + 3600);
        assert!(verify(options(file.clone(), Some(signed.clone()), [5; 32])).is_ok());

        let mut foreign = options(file.clone(), Some(signed.clone()), [5; 32]);
        foreign.issuer_key = public(&SigningKey::from_bytes(&[6; 32]));
        assert_eq!(code(verify(foreign)), ErrorCode::ProfileForeign);
        let mut not_hex = options(file.clone(), Some(signed.clone()), [5; 32]);
        not_hex.issuer_key = "xyz".into();
        assert_eq!(code(verify(not_hex)), ErrorCode::KeyInvalid);

        let other = watchlist(NOW + 3600);
        let for_other = profile(&other, NOW + 3600);
        assert_eq!(code(verify(options(file.clone(), Some(for_other), [5; 32]))), ErrorCode::ProfileWatchlistMismatch);
        assert_eq!(code(verify(options(file.clone(), Some(signed.clone()), [6; 32]))), ErrorCode::WatchlistWrongKey);
        let result = verify_local(options(file.clone(), Some(signed.clone()), [5; 32]), None, "other-model");
        assert_eq!(code(result), ErrorCode::WatchlistInvalid);

        // The watchlist (m = 8) runs at the profile's threshold and never below its floor.
        let other_threshold = profile_at(&file, NOW + 3600, 9, 8);
        assert_eq!(
            code(verify(options(file.clone(), Some(other_threshold), [5; 32]))),
            ErrorCode::ProfileWatchlistMismatch
        );
        let above_floor = profile_at(&file, NOW + 3600, 9, 9);
        assert_eq!(code(verify(options(file.clone(), Some(above_floor), [5; 32]))), ErrorCode::ProfileBelowFloor);

        let mut tampered = file.clone();
        tampered[40] ^= 1;
        assert!(verify(options(tampered, Some(signed), [5; 32])).is_err());
    }

    #[test]
    fn a_watchlist_without_its_profile_is_refused_in_words() {
        let file = watchlist(NOW + 3600);
        let refused = verify(options(file, None, [5; 32])).err().unwrap();
        assert_eq!(refused.code(), ErrorCode::ProfileRequired);
        assert!(refused.to_string().contains("needs its signed deployment profile"), "{refused}");
    }

    #[test]
    fn the_custody_the_kiosk_is_told_to_use_must_be_the_profiles() {
        let file = watchlist(NOW + 3600);
        let local_profile = profile(&file, NOW + 3600);
        let kiosk = SigningKey::from_bytes(&[7; 32]);
        let mut authority = options(file.clone(), Some(local_profile), [5; 32]);
        authority.custody = CustodyOptions::Authority { url: "https://authority.example".into() };
        assert_eq!(code(verify(authority)), ErrorCode::ProfileCustodyMismatch, "a page cannot switch custody");

        let some_key = Some(hex(&[0xE2; 32]));
        let authority_profile = |url: &str| {
            Profile {
                custody: Custody::Authority { url: url.into(), authority_public_key: some_key.clone() },
                kiosk_keys: vec![public(&kiosk)],
                ..profile_for(&file, NOW + 3600)
            }
            .sign(&issuer())
        };
        let signed = authority_profile("https://authority.example").unwrap();
        let mut elsewhere = options(file.clone(), Some(signed.clone()), [5; 32]);
        elsewhere.custody = CustodyOptions::Authority { url: "https://attacker.example".into() };
        elsewhere.kiosk_public_key = Some(public(&kiosk));
        let refused = verify(elsewhere).err().unwrap();
        assert_eq!(refused.code(), ErrorCode::ProfileCustodyMismatch);
        assert!(refused.to_string().contains("https://attacker.example"), "{refused}");

        // The right authority: the profile's checks pass and the watchlist's own custody (local
        // here) is what refuses it, before a key check is asked of the authority.
        let mut right = options(file.clone(), Some(signed), [5; 32]);
        right.custody = CustodyOptions::Authority { url: "https://authority.example".into() };
        right.kiosk_public_key = Some(public(&kiosk));
        assert_eq!(code(Deployment::verify(right, None, MODEL, NOW)), ErrorCode::WatchlistWrongCustody);

        // Plain http only on loopback, read as the URL parser reads the host.
        assert!(authority_profile("http://127.0.0.1:8787").is_ok());
        assert!(authority_profile("http://localhost:8787/").is_ok());
        assert!(authority_profile("http://[::1]:8787").is_ok());
        for insecure in [
            "http://authority.example",
            "http://127.0.0.1.evil.example",
            "http://localhost@evil.example",
            "ftp://127.0.0.1",
            "not a url",
        ] {
            let err = authority_profile(insecure).unwrap_err();
            assert_eq!(KioskError::from(err).code(), ErrorCode::AuthorityInsecure, "{insecure}");
        }
        let no_kiosks = Profile {
            custody: Custody::Authority { url: "https://a.example".into(), authority_public_key: some_key.clone() },
            ..profile_for(&file, NOW + 3600)
        };
        assert!(no_kiosks.sign(&issuer()).unwrap_err().to_string().contains("kioskKeys"));
        let no_key = Profile {
            custody: Custody::Authority { url: "https://a.example".into(), authority_public_key: None },
            kiosk_keys: vec![public(&kiosk)],
            ..profile_for(&file, NOW + 3600)
        };
        assert!(no_key.sign(&issuer()).unwrap_err().to_string().contains("authorityPublicKey"));
    }

    #[test]
    fn an_authority_profile_must_name_the_watchlists_deployment_key() {
        let master = MasterSecret::from_bytes(&[11; 32]).unwrap();
        let key = DeploymentKey::derive(&master, &[12; 16]).unwrap();
        let params = WatchlistParams {
            model_id: MODEL.into(),
            tables: 32,
            threshold: 8,
            valid_from: NOW - 60,
            valid_until: NOW + 3600,
        };
        let file = build(synthetic_enrolments(3), &params, &key, &issuer()).unwrap();
        let kiosk = SigningKey::from_bytes(&[7; 32]);
        let url = "https://authority.example";
        let with_key = |public_key: [u8; 32]| {
            let profile = Profile {
                custody: Custody::Authority { url: url.into(), authority_public_key: Some(hex(&public_key)) },
                kiosk_keys: vec![public(&kiosk)],
                ..profile_for(&file, NOW + 3600)
            };
            DeploymentOptions {
                watchlist: file.clone(),
                issuer_key: public(&issuer()),
                profile: Some(profile.sign(&issuer()).unwrap()),
                custody: CustodyOptions::Authority { url: url.into() },
                kiosk_public_key: Some(public(&kiosk)),
            }
        };
        let Verified::KeyCheck(check) = Deployment::verify(with_key(key.public_key()), None, MODEL, NOW).unwrap()
        else {
            panic!("an authority-custody deployment is loaded only after its key check");
        };
        let answer = key.evaluate_blinded(check.request()).unwrap();
        let loaded = check.finish(&answer).unwrap();
        assert_eq!(loaded.matcher().unwrap().watchlist.header.authority_key, Some(key.public_key()));
        assert!(
            matches!(loaded.custody, super::Custody::Authority { public_key, .. } if public_key == key.public_key())
        );

        let other = DeploymentKey::derive(&master, &[13; 16]).unwrap().public_key();
        let refused = Deployment::verify(with_key(other), None, MODEL, NOW).err().unwrap();
        assert_eq!(refused.code(), ErrorCode::ProfileAuthorityKey);
        assert!(refused.to_string().contains(&hex(&other)), "{refused}");
    }

    #[test]
    fn only_the_kiosks_a_profile_lists_may_run_it() {
        let file = watchlist(NOW + 3600);
        let (allowed, other) = (SigningKey::from_bytes(&[7; 32]), SigningKey::from_bytes(&[8; 32]));
        let signed =
            Profile { kiosk_keys: vec![public(&allowed)], ..profile_for(&file, NOW + 3600) }.sign(&issuer()).unwrap();
        let with_key = |key: Option<String>| DeploymentOptions {
            kiosk_public_key: key,
            ..options(file.clone(), Some(signed.clone()), [5; 32])
        };
        assert!(verify(with_key(Some(public(&allowed)))).is_ok());
        assert!(
            verify(with_key(Some(public(&allowed).to_uppercase()))).is_ok(),
            "hex of either case names the same key"
        );
        let refused = verify(with_key(Some(public(&other)))).err().unwrap();
        assert_eq!(refused.code(), ErrorCode::KioskNotAllowed);
        assert!(refused.to_string().contains("not allowed to run the deployment"), "{refused}");
        assert_eq!(code(verify(with_key(None))), ErrorCode::KioskNotAllowed, "a kiosk without a key is not listed");
        assert_eq!(code(verify(with_key(Some("abc".into())))), ErrorCode::KeyInvalid);

        let any_device = profile(&file, NOW + 3600);
        let mut unlisted = options(file.clone(), Some(any_device), [5; 32]);
        unlisted.kiosk_public_key = Some(public(&other));
        assert!(verify(unlisted).is_ok(), "local custody without kioskKeys allows any device");
        let bad_key = Profile { kiosk_keys: vec!["AB".repeat(32)], ..profile_for(&file, NOW + 3600) };
        assert!(bad_key.sign(&issuer()).is_err(), "kiosk keys are lowercase hex, one spelling per key");
    }

    #[test]
    fn a_configured_overseer_key_makes_its_cosignature_required() {
        let file = watchlist(NOW + 3600);
        let (overseer, stranger) = (SigningKey::from_bytes(&[9; 32]), SigningKey::from_bytes(&[10; 32]));
        let o = overseer.verifying_key();
        let plain = profile(&file, NOW + 3600);
        let cosigned = cosign(&plain, &overseer).unwrap();
        let verify_with = |text: &str, key: Option<&VerifyingKey>| {
            verify_local(options(file.clone(), Some(text.to_owned()), [5; 32]), key, MODEL)
        };
        assert!(verify_with(&cosigned, Some(&o)).is_ok());
        assert_eq!(code(verify_with(&plain, Some(&o))), ErrorCode::OverseerMissing);
        assert_eq!(code(verify_with(&cosign(&plain, &stranger).unwrap(), Some(&o))), ErrorCode::ProfileForeign);
        let refused = verify_with(&cosigned, None).err().unwrap();
        assert_eq!(refused.code(), ErrorCode::OverseerKeyMissing);
        assert!(refused.to_string().contains("no overseer key configured"), "{refused}");

        let requires = Profile { requires_overseer: true, ..profile_for(&file, NOW + 3600) }.sign(&issuer()).unwrap();
        assert_eq!(code(verify_with(&requires, None)), ErrorCode::OverseerKeyMissing);
        assert_eq!(code(verify_with(&requires, Some(&o))), ErrorCode::OverseerMissing);
        assert!(verify_with(&cosign(&requires, &overseer).unwrap(), Some(&o)).is_ok());
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

        let header = &deployment.matcher().unwrap().watchlist.header;
        let expected = crate::kiosk::status::ExpectedRates::of(header);
        let status = crate::kiosk::KioskStatus::new(
            Some(crate::kiosk::status::ListSummary::of_header(header)),
            deployment.profile.as_ref(),
            Some(&expected),
            0,
            NOW,
        );
        assert_eq!(status.seconds_left, Some(600), "the status counts down to the earlier window");
        assert_eq!(status.entries, 64, "the size class 3 entries pad to");
        assert!(status.custody_note.unwrap().contains("weaker"));
        assert!(status.expected_false_alerts_per_1000.unwrap() > 0.0, "calibrated for any L and m");
        assert_eq!(status.notice.unwrap().operator, "op");
    }
}
