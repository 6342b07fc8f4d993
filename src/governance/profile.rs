//! The deployment profile (DESIGN §4): what a deployment is for, who runs it, where and when, with
//! which watchlist, threshold and custody — signed by the issuer and optionally co-signed by an
//! independent overseer. Nothing runs outside its validity window.
//!
//! File format (text, UTF-8, every line ends in `\n`, nothing else is accepted):
//!
//! ```text
//! VEILWATCH-PROFILE-V1
//! {"purpose":…}                      the profile, one line of JSON (the exact bytes are signed)
//! issuer <public key> <signature>    64 + 128 lowercase hex digits
//! overseer <public key> <signature>  optional
//! ```
//!
//! Each signature is Ed25519 over `"VEILWATCH-PROFILE-V1\n" || json line`.
//!
//! What a valid profile guarantees (checked when it is signed and when it is parsed): the threshold
//! is not below its floor, the window is well formed, the rate cap is at least 1, an authority is
//! reached over `https://` (plain `http://` only on loopback, for tests and demonstrations) and
//! lists the kiosks allowed to run it, and every kiosk key is 64 lowercase hex digits. A kiosk
//! configured with an overseer key accepts only profiles that key co-signed.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::hex::hex;
use crate::time::{format_utc, parse_utc};

pub const MAGIC_LINE: &str = "VEILWATCH-PROFILE-V1";
pub const MAX_PROFILE: usize = 64 * 1024;

#[derive(Debug, Error, PartialEq)]
pub enum ProfileError {
    #[error("this is not a Veilwatch deployment profile")]
    NotAProfile,
    #[error("the deployment profile is malformed: {0}")]
    Malformed(String),
    #[error("the deployment profile is larger than 64 KiB")]
    TooLarge,
    #[error("the deployment profile is not signed by the expected issuer {0}")]
    ForeignIssuer(String),
    #[error("the deployment profile's {0} signature does not verify: it was altered after signing")]
    BadSignature(&'static str),
    #[error("the deployment profile needs the overseer's co-signature, and it is missing")]
    MissingOverseer,
    #[error("the deployment profile is co-signed by an overseer, or requires one, but this kiosk has no overseer key configured; configure the overseer's public key (overseerPublicKey, or --overseer-key)")]
    NoOverseerKey,
    #[error(
        "the deployment profile is co-signed by an overseer whose key is not the one this kiosk is configured with"
    )]
    ForeignOverseer,
    #[error("the deployment is not valid before {0}; check the device clock or wait")]
    NotYetValid(String),
    #[error("the deployment expired on {0}; ask the issuer for a new profile")]
    Expired(String),
    #[error("the watchlist is not the one this profile names (SHA-256 {actual}, profile says {expected})")]
    WatchlistMismatch { expected: String, actual: String },
    #[error("threshold {threshold} is below the profile's floor of {floor}; the kiosk will not go lower")]
    BelowFloor { threshold: u16, floor: u16 },
    #[error(
        "the watchlist's threshold is {watchlist}, but the profile says {profile}; ask the issuer for a matching pair"
    )]
    ThresholdMismatch { profile: u16, watchlist: u16 },
    #[error("the profile names {profile} custody, but the kiosk was told to use {kiosk}; ask the issuer for a matching pair")]
    CustodyMismatch { profile: String, kiosk: String },
    #[error(
        "the authority URL `{0}` is refused: an authority is reached over https:// (plain http:// only on loopback)"
    )]
    InsecureAuthority(String),
    #[error(
        "the profile names the authority key {profile}, but the watchlist's header names {watchlist}: they are \
         not for the same deployment; ask the issuer for a matching pair"
    )]
    AuthorityKeyMismatch { profile: String, watchlist: String },
    #[error("the false-alert estimate was written for {0}; run `veilwatch enroll --stranger-cohort` again for this watchlist and threshold")]
    EstimateForAnotherList(String),
    #[error("this kiosk is not allowed to run the deployment: the profile lists {allowed} kiosk key(s) and {kiosk}")]
    KioskNotAllowed { allowed: usize, kiosk: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum Custody {
    /// The PRF key ships with the deployment (offline demos). Weaker, and shown as such.
    Local,
    /// The PRF key stays with an authority that evaluates blinded elements and proves each answer
    /// under the deployment's VOPRF public key (`authorityPublicKey`, 64 lowercase hex: the
    /// watchlist header's; `veilwatch profile sign` fills it in from the watchlist, a template may
    /// leave it out). A signed profile must carry it.
    Authority {
        url: String,
        #[serde(rename = "authorityPublicKey", default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(target_arch = "wasm32", tsify(optional))]
        authority_public_key: Option<String>,
    },
    /// Sealed custody (DESIGN §3.4): the gallery stays at the authority at `url`, and the face
    /// leaves the kiosk only encrypted under a key the kiosk alone holds. The profile's
    /// `watchlistSha256` names the sealed deployment's signed descriptor
    /// (`crate::sealed::descriptor`), which names the deployment and the gallery.
    Sealed { url: String },
}

/// The profile document. Its JSON (the signed line) uses the same camelCase names as every
/// object the JS API passes, so the public notice shows this very type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    pub purpose: String,
    pub legal_basis: String,
    pub operator: String,
    pub location: String,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    pub valid_from: String,
    pub valid_until: String,
    pub watchlist_sha256: String,
    pub threshold: u16,
    pub threshold_floor: u16,
    pub custody: Custody,
    /// The false-alert rate per passer-by the threshold was chosen for (`enroll --target-fpir`),
    /// e.g. `1/6000`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub target_fpir: Option<String>,
    /// The issuer's estimate of this watchlist's false alerts, from its own entries (`enroll
    /// --stranger-cohort` writes it beside the watchlist; `profile sign --false-alerts` copies it
    /// in). Absent in profiles from before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub false_alert_estimate: Option<RecordedEstimate>,
    /// Most blind-match queries per minute the device may make.
    pub query_rate_per_minute: u32,
    pub notice: String,
    pub contact: String,
    /// When true, a profile without the overseer's co-signature is refused.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub requires_overseer: bool,
    /// The kiosks allowed to run this deployment: their Ed25519 public keys, 64 lowercase hex
    /// digits each. Required (non-empty) for authority custody; for local custody, empty means
    /// any device.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub kiosk_keys: Vec<String>,
}

/// Expected false alerts per 1 000 passers-by, with the 95% interval and where the estimate comes
/// from (e.g. "per-entry, cohort of 2000 strangers"): the same fields, in the same JSON, as the
/// estimates `enroll` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordedEstimate {
    pub per_1000: f64,
    pub per_1000_ci95: [f64; 2],
    pub calibration: String,
}

/// Longest `calibration` text of a [`RecordedEstimate`].
const MAX_ESTIMATE_SOURCE: usize = 200;

impl RecordedEstimate {
    fn validate(&self) -> Result<(), ProfileError> {
        let [low, high] = self.per_1000_ci95;
        let in_range = |x: f64| x.is_finite() && (0.0..=1000.0).contains(&x);
        if !(in_range(low)
            && in_range(self.per_1000)
            && in_range(high)
            && low <= self.per_1000
            && self.per_1000 <= high)
        {
            return Err(ProfileError::Malformed(format!(
                "falseAlertEstimate {} [{low}, {high}] is not a rate per 1 000 inside its interval",
                self.per_1000
            )));
        }
        if self.calibration.is_empty() || self.calibration.len() > MAX_ESTIMATE_SOURCE {
            return Err(ProfileError::Malformed(format!(
                "falseAlertEstimate.calibration must name the estimate's source in 1 to {MAX_ESTIMATE_SOURCE} bytes"
            )));
        }
        Ok(())
    }
}

/// `WATCHLIST.false-alerts.json`, which `enroll --stranger-cohort` writes beside the watchlist and
/// `profile sign --false-alerts` reads: the estimate, bound to the watchlist (its SHA-256) and the
/// threshold it was computed at, so that it cannot be signed into the profile of another list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EstimateFile {
    pub watchlist_sha256: String,
    pub threshold: u16,
    pub false_alert_estimate: RecordedEstimate,
}

impl EstimateFile {
    pub fn new(watchlist: &[u8], threshold: u16, estimate: RecordedEstimate) -> EstimateFile {
        EstimateFile { watchlist_sha256: hex(&Sha256::digest(watchlist)), threshold, false_alert_estimate: estimate }
    }

    /// The estimate, if this file was written for `profile`'s watchlist and threshold.
    pub fn estimate_for(&self, profile: &Profile) -> Result<RecordedEstimate, ProfileError> {
        if self.watchlist_sha256 != profile.watchlist_sha256 {
            return Err(ProfileError::EstimateForAnotherList(format!(
                "the watchlist with SHA-256 {}, not this one ({})",
                self.watchlist_sha256, profile.watchlist_sha256
            )));
        }
        if self.threshold != profile.threshold {
            return Err(ProfileError::EstimateForAnotherList(format!(
                "threshold {}, but the profile's is {}",
                self.threshold, profile.threshold
            )));
        }
        self.false_alert_estimate.validate()?;
        Ok(self.false_alert_estimate.clone())
    }
}

/// A profile whose signatures verified.
#[derive(Debug, Clone)]
pub struct SignedProfile {
    pub profile: Profile,
    pub valid_from: i64,
    pub valid_until: i64,
    pub overseer: Option<[u8; 32]>,
}

fn message(json: &[u8]) -> Vec<u8> {
    [MAGIC_LINE.as_bytes(), b"\n", json].concat()
}

/// A rate written as a fraction (`1/6000`) or a decimal (`0.0001`), strictly between 0 and 1.
pub fn parse_rate(text: &str) -> Option<f64> {
    let rate = match text.trim().split_once('/') {
        Some((a, b)) => a.trim().parse::<f64>().ok()? / b.trim().parse::<f64>().ok()?,
        None => text.trim().parse().ok()?,
    };
    (rate > 0.0 && rate < 1.0).then_some(rate)
}

/// Whether `url` is acceptable for an authority: `https://`, or `http://` to a loopback address
/// (tests and demonstrations on one machine). Parsed by the `http` crate's URI parser, so
/// `http://127.0.0.1.evil` or `http://localhost@evil` are read as the hosts they really name; a
/// host that is not literally `localhost` or a loopback IP address is not loopback.
pub fn check_authority_url(text: &str) -> Result<(), ProfileError> {
    let refused = || ProfileError::InsecureAuthority(text.to_owned());
    let uri: http::Uri = text.parse().map_err(|_| refused())?;
    let host = uri.host().ok_or_else(refused)?;
    let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>();
    let loopback = host.eq_ignore_ascii_case("localhost") || ip.is_ok_and(|ip| ip.is_loopback());
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if loopback => Ok(()),
        _ => Err(refused()),
    }
}

/// Exactly N bytes of lowercase hex: uppercase would give a second spelling of the same signed file.
fn strict_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    crate::hex::from_hex(s)?.try_into().ok()
}

impl Profile {
    fn window(&self) -> Result<(i64, i64), ProfileError> {
        let from = parse_utc(&self.valid_from).ok_or_else(|| {
            ProfileError::Malformed(format!("valid_from `{}` is not YYYY-MM-DDTHH:MM:SSZ", self.valid_from))
        })?;
        let until = parse_utc(&self.valid_until).ok_or_else(|| {
            ProfileError::Malformed(format!("valid_until `{}` is not YYYY-MM-DDTHH:MM:SSZ", self.valid_until))
        })?;
        if until <= from {
            return Err(ProfileError::Malformed("the validity window ends before it starts".into()));
        }
        Ok((from, until))
    }

    fn validate(&self) -> Result<(i64, i64), ProfileError> {
        if self.threshold < self.threshold_floor {
            return Err(ProfileError::BelowFloor { threshold: self.threshold, floor: self.threshold_floor });
        }
        if strict_hex::<32>(&self.watchlist_sha256).is_none() {
            return Err(ProfileError::Malformed("watchlist_sha256 must be 64 lowercase hex digits".into()));
        }
        if let Some(target) = &self.target_fpir {
            if parse_rate(target).is_none() {
                return Err(ProfileError::Malformed(format!(
                    "targetFpir `{target}` is not a rate like 1/6000 or 0.0001"
                )));
            }
        }
        if let Some(estimate) = &self.false_alert_estimate {
            estimate.validate()?;
        }
        if self.query_rate_per_minute == 0 {
            return Err(ProfileError::Malformed("query_rate_per_minute must be at least 1".into()));
        }
        for key in &self.kiosk_keys {
            if strict_hex::<32>(key).is_none() {
                return Err(ProfileError::Malformed(format!("kiosk key `{key}` is not 64 lowercase hex digits")));
            }
        }
        if let Custody::Authority { url, authority_public_key } = &self.custody {
            check_authority_url(url)?;
            match authority_public_key {
                Some(key) if strict_hex::<32>(key).is_some() => {}
                Some(key) => {
                    return Err(ProfileError::Malformed(format!(
                        "authorityPublicKey `{key}` is not 64 lowercase hex digits"
                    )))
                }
                None => {
                    return Err(ProfileError::Malformed(
                        "authority custody needs authorityPublicKey: the deployment's public key from the watchlist \
                         header (veilwatch profile sign fills it in)"
                            .into(),
                    ))
                }
            }
            if self.kiosk_keys.is_empty() {
                return Err(ProfileError::Malformed(
                    "authority custody needs kioskKeys: the public keys of the kiosks allowed to run it".into(),
                ));
            }
        }
        if let Custody::Sealed { url } = &self.custody {
            check_authority_url(url)?;
            if self.kiosk_keys.is_empty() {
                return Err(ProfileError::Malformed(
                    "sealed custody needs kioskKeys: the public keys of the kiosks allowed to run it".into(),
                ));
            }
        }
        self.window()
    }

    /// A profile for `watchlist` from a template: the profile's JSON without `watchlistSha256`,
    /// which is filled in from the watchlist's bytes.
    pub fn from_template(template: &[u8], watchlist: &[u8]) -> Result<Profile, ProfileError> {
        let mut value: serde_json::Value =
            serde_json::from_slice(template).map_err(|e| ProfileError::Malformed(e.to_string()))?;
        let fields = value
            .as_object_mut()
            .ok_or_else(|| ProfileError::Malformed("the profile template must be a JSON object".into()))?;
        fields.insert("watchlistSha256".into(), hex(&Sha256::digest(watchlist)).into());
        serde_json::from_value(value).map_err(|e| ProfileError::Malformed(e.to_string()))
    }

    /// Signs the profile as the issuer; an overseer adds a line with [`cosign`].
    pub fn sign(&self, issuer: &SigningKey) -> Result<String, ProfileError> {
        self.validate()?;
        let json = serde_json::to_string(self).map_err(|e| ProfileError::Malformed(e.to_string()))?;
        let sig = issuer.sign(&message(json.as_bytes()));
        Ok(format!(
            "{MAGIC_LINE}\n{json}\nissuer {} {}\n",
            hex(&issuer.verifying_key().to_bytes()),
            hex(&sig.to_bytes())
        ))
    }
}

/// Adds the overseer's co-signature to a signed profile file.
pub fn cosign(file: &str, overseer: &SigningKey) -> Result<String, ProfileError> {
    let json = file.lines().nth(1).ok_or(ProfileError::NotAProfile)?;
    let sig = overseer.sign(&message(json.as_bytes()));
    Ok(format!("{file}overseer {} {}\n", hex(&overseer.verifying_key().to_bytes()), hex(&sig.to_bytes())))
}

impl SignedProfile {
    /// Parses and verifies a profile file against the expected issuer (and overseer, if the
    /// deployment names one). The validity window is checked separately, at load and while running.
    pub fn parse(
        bytes: &[u8],
        issuer: &VerifyingKey,
        overseer: Option<&VerifyingKey>,
    ) -> Result<SignedProfile, ProfileError> {
        if bytes.len() > MAX_PROFILE {
            return Err(ProfileError::TooLarge);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| ProfileError::NotAProfile)?;
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| ProfileError::Malformed("the file must end with a newline".into()))?;
        let mut lines = body.split('\n');
        if lines.next() != Some(MAGIC_LINE) {
            return Err(ProfileError::NotAProfile);
        }
        let json = lines.next().ok_or_else(|| ProfileError::Malformed("the profile line is missing".into()))?;
        let msg = message(json.as_bytes());
        let mut issuer_ok = false;
        let mut overseer_key = None;
        for line in lines {
            let parts: Vec<&str> = line.split(' ').collect();
            let [role, key, sig] = parts[..] else {
                return Err(ProfileError::Malformed(format!("`{line}` is not `role key signature`")));
            };
            let (Some(key), Some(sig)) = (strict_hex::<32>(key), strict_hex::<64>(sig)) else {
                return Err(ProfileError::Malformed("keys and signatures must be lowercase hex".into()));
            };
            let verify = |expected: &VerifyingKey, role: &'static str| {
                expected.verify_strict(&msg, &Signature::from_bytes(&sig)).map_err(|_| ProfileError::BadSignature(role))
            };
            match role {
                "issuer" if !issuer_ok => {
                    if key != issuer.to_bytes() {
                        return Err(ProfileError::ForeignIssuer(hex(&key)));
                    }
                    verify(issuer, "issuer")?;
                    issuer_ok = true;
                }
                "overseer" if overseer_key.is_none() => {
                    let expected = overseer.ok_or(ProfileError::NoOverseerKey)?;
                    if key != expected.to_bytes() {
                        return Err(ProfileError::ForeignOverseer);
                    }
                    verify(expected, "overseer")?;
                    overseer_key = Some(key);
                }
                other => {
                    return Err(ProfileError::Malformed(format!("unexpected or repeated signature line `{other}`")))
                }
            }
        }
        if !issuer_ok {
            return Err(ProfileError::Malformed("the issuer's signature is missing".into()));
        }
        let profile: Profile = serde_json::from_str(json).map_err(|e| ProfileError::Malformed(e.to_string()))?;
        if profile.requires_overseer && overseer.is_none() {
            return Err(ProfileError::NoOverseerKey);
        }
        if overseer.is_some() && overseer_key.is_none() {
            return Err(ProfileError::MissingOverseer);
        }
        let (valid_from, valid_until) = profile.validate()?;
        Ok(SignedProfile { profile, valid_from, valid_until, overseer: overseer_key })
    }

    pub fn check_window(&self, now_unix: i64) -> Result<(), ProfileError> {
        if now_unix < self.valid_from {
            return Err(ProfileError::NotYetValid(format_utc(self.valid_from)));
        }
        if now_unix >= self.valid_until {
            return Err(ProfileError::Expired(format_utc(self.valid_until)));
        }
        Ok(())
    }

    /// The watchlist runs at the profile's threshold, never below its floor.
    pub fn check_threshold(&self, watchlist_threshold: u16) -> Result<(), ProfileError> {
        if watchlist_threshold < self.profile.threshold_floor {
            return Err(ProfileError::BelowFloor {
                threshold: watchlist_threshold,
                floor: self.profile.threshold_floor,
            });
        }
        if watchlist_threshold != self.profile.threshold {
            return Err(ProfileError::ThresholdMismatch {
                profile: self.profile.threshold,
                watchlist: watchlist_threshold,
            });
        }
        Ok(())
    }

    pub fn check_watchlist(&self, watchlist_bytes: &[u8]) -> Result<(), ProfileError> {
        let actual = hex(&Sha256::digest(watchlist_bytes));
        if actual != self.profile.watchlist_sha256 {
            return Err(ProfileError::WatchlistMismatch { expected: self.profile.watchlist_sha256.clone(), actual });
        }
        Ok(())
    }

    /// The kiosk was told to use the custody the profile names: the same kind and, for an
    /// authority, the very same URL (a page cannot point the kiosk at another authority).
    pub fn check_custody(&self, kiosk: &Custody) -> Result<(), ProfileError> {
        match (&self.profile.custody, kiosk) {
            (Custody::Local, Custody::Local) => return Ok(()),
            (Custody::Authority { url: ours, .. }, Custody::Authority { url: theirs, .. }) if ours == theirs => {
                return Ok(())
            }
            (Custody::Sealed { url: ours }, Custody::Sealed { url: theirs }) if ours == theirs => return Ok(()),
            _ => {}
        }
        let describe = |c: &Custody| match c {
            Custody::Local => "local".to_owned(),
            Custody::Authority { url, .. } => format!("authority {url}"),
            Custody::Sealed { url } => format!("sealed {url}"),
        };
        Err(ProfileError::CustodyMismatch { profile: describe(&self.profile.custody), kiosk: describe(kiosk) })
    }

    /// Under authority custody, the profile's `authorityPublicKey` is the watchlist header's
    /// deployment public key (`watchlist_key`, `None` for a local-custody watchlist): a profile
    /// for another deployment, or a header not from the issuer's enrolment, is refused.
    pub fn check_authority_key(&self, watchlist_key: Option<&[u8; 32]>) -> Result<(), ProfileError> {
        let Custody::Authority { authority_public_key, .. } = &self.profile.custody else { return Ok(()) };
        let profile = authority_public_key.as_deref().unwrap_or("none");
        let watchlist = watchlist_key.map_or_else(|| "none (a local-custody watchlist)".to_owned(), |k| hex(k));
        if profile == watchlist {
            return Ok(());
        }
        Err(ProfileError::AuthorityKeyMismatch { profile: profile.to_owned(), watchlist })
    }

    /// This kiosk (its public key, hex, if it has one) is among the kiosks the profile allows; a
    /// profile that lists none allows any device (local custody only, see [`Profile`]).
    pub fn check_kiosk(&self, kiosk_key: Option<&str>) -> Result<(), ProfileError> {
        let allowed = &self.profile.kiosk_keys;
        if allowed.is_empty() {
            return Ok(());
        }
        match kiosk_key {
            Some(key) if allowed.iter().any(|k| k == key) => Ok(()),
            Some(key) => Err(ProfileError::KioskNotAllowed {
                allowed: allowed.len(),
                kiosk: format!("this kiosk's key {key} is not among them"),
            }),
            None => Err(ProfileError::KioskNotAllowed {
                allowed: allowed.len(),
                kiosk: "this kiosk presented no key".into(),
            }),
        }
    }
}
