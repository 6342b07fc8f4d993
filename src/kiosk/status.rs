//! What the kiosk's status panel and public notice show, derived from the session's state: whether
//! it matches, against how many entries, under which custody (and how strong that is), until when
//! (the earlier of the watchlist's and the profile's windows), the expected false alerts per 1 000
//! passers-by, and the measured error rates per group where they were measured for these settings.

use serde::Serialize;

use crate::blind::format::Header;
use crate::blind::prf::PrfSuite;
use crate::blind::{DEFAULT_TABLES, DEFAULT_THRESHOLD};
use crate::eval::measured::{expected_false_alerts_per_1000, MEASURED_GROUP_RATES};
use crate::governance::profile::{Profile, SignedProfile};

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct KioskStatus {
    pub matching: bool,
    pub entries: u32,
    pub custody: Option<&'static str>,
    pub custody_note: Option<&'static str>,
    pub threshold: u16,
    pub tables: u16,
    pub valid_until: Option<String>,
    pub seconds_left: Option<i64>,
    pub expected_false_alerts_per_1000: Option<f64>,
    pub pending_reviews: usize,
    /// The profile the kiosk loaded, for the public notice.
    pub notice: Option<Profile>,
    /// Measured false-match and false-non-match rates per demographic group at this threshold
    /// (`None` for settings they were not measured at).
    pub group_rates: Option<Vec<GroupRate>>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct GroupRate {
    pub group: &'static str,
    pub identities: u32,
    pub fmr: f64,
    pub fnmr: f64,
}

/// The notice of a signed profile, verified against the issuer's key (hex) and found inside its
/// window at `now_unix`: what the public notice page shows.
pub fn verified_notice(text: &str, issuer_hex: &str, now_unix: i64) -> Result<Profile, super::KioskError> {
    let issuer = super::deployment::issuer_key(issuer_hex)?;
    let signed = SignedProfile::parse(text.as_bytes(), &issuer, None)?;
    signed.check_window(now_unix)?;
    Ok(signed.profile)
}

/// How strong a custody is, in the operator's words.
pub fn custody_note(suite: PrfSuite) -> &'static str {
    match suite {
        PrfSuite::HmacSha256Local => "local key: weaker, whoever holds the key and the file can test any face offline",
        PrfSuite::OprfRistretto255Sha512 => "authority key: the file is useless without the authority",
    }
}

impl KioskStatus {
    /// The status of a session matching against `header` under `profile` (or of one that matches
    /// nothing, when `header` is `None`).
    pub fn new(
        header: Option<&Header>,
        profile: Option<&SignedProfile>,
        pending_reviews: usize,
        now_unix: i64,
    ) -> KioskStatus {
        let valid_until = header.map(|h| profile.map_or(h.valid_until, |p| p.valid_until.min(h.valid_until)));
        let measured_here = header.is_some_and(|h| h.tables == DEFAULT_TABLES && h.threshold == DEFAULT_THRESHOLD);
        KioskStatus {
            matching: header.is_some(),
            entries: header.map_or(0, |h| h.entries),
            custody: header.map(|h| h.suite.name()),
            custody_note: header.map(|h| custody_note(h.suite)),
            threshold: header.map_or(0, |h| h.threshold),
            tables: header.map_or(0, |h| h.tables),
            valid_until: valid_until.map(crate::time::format_utc),
            seconds_left: valid_until.map(|until| until - now_unix),
            expected_false_alerts_per_1000: header
                .and_then(|h| expected_false_alerts_per_1000(h.entries, h.tables, h.threshold)),
            pending_reviews,
            notice: profile.map(|p| p.profile.clone()),
            group_rates: measured_here.then(|| {
                MEASURED_GROUP_RATES
                    .iter()
                    .map(|&(group, identities, fmr, fnmr)| GroupRate { group, identities, fmr, fnmr })
                    .collect()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blind::enroll::{ephemeral_local, synthetic_enrolments};

    #[test]
    fn measured_rates_are_shown_only_for_the_settings_they_were_measured_at() {
        let (matcher, _) = ephemeral_local(synthetic_enrolments(2), "m", 1_800_000_000).unwrap();
        let status = KioskStatus::new(Some(&matcher.watchlist.header), None, 1, 1_800_000_000);
        assert!(status.matching);
        assert_eq!((status.tables, status.threshold), (DEFAULT_TABLES, DEFAULT_THRESHOLD));
        let rates = status.group_rates.clone().expect("default settings were measured");
        assert_eq!(rates.iter().map(|r| r.group).collect::<Vec<_>>(), ["female", "male"]);
        assert!(status.expected_false_alerts_per_1000.unwrap() > 0.0);
        assert_eq!(status.seconds_left, Some(86_400), "an ephemeral watchlist lasts a day");
        assert!(status.notice.is_none());

        let idle = KioskStatus::new(None, None, 0, 0);
        assert!(!idle.matching && idle.custody.is_none() && idle.group_rates.is_none());
        let json = serde_json::to_value(&status).unwrap();
        assert!(json.get("expectedFalseAlertsPer1000").is_some() && json.get("pendingReviews").is_some(), "{json}");
    }
}
