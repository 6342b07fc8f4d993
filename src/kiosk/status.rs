//! What the kiosk's status panel and public notice show, derived from the session's state: whether
//! it matches, against how many entries, under which custody (and how strong that is), until when
//! (the earlier of the watchlist's and the profile's windows), and — from the model's shipped
//! calibration (DESIGN §7), for this watchlist's size and threshold — the expected false alerts per
//! 1 000 passers-by with its 95% interval and the calibration it comes from (the most pessimistic
//! enrolment recipe and stranger population: the kiosk does not know how the entries were
//! enrolled), and the estimated true-match rate, overall and per demographic group; and beside it
//! the issuer's own per-entry estimate for the list when the profile records one.

use serde::Serialize;

use crate::blind::format::Header;
use crate::blind::prf::PrfSuite;
use crate::calibration::model::FalseAlertEstimate;
use crate::calibration::shipped::{calibration, GroupRate, GROUP_CALIBRATION};
use crate::governance::profile::{Profile, RecordedEstimate, SignedProfile};
use crate::sealed::descriptor::{VerifiedDescriptor, CUSTODY_NAME};

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct KioskStatus {
    pub matching: bool,
    /// Why a watchlist being loaded is not matched yet (the authority's key check is open).
    pub loading: Option<String>,
    /// Why matching is paused: an authority answer failed verification (`matching` is then
    /// false until the deployment is loaded again).
    pub paused: Option<String>,
    /// `idle` (nothing loaded), `demo` (volunteers enrolled here) or `deployment` (a verified
    /// profile and its watchlist).
    pub mode: Mode,
    /// The most faces matched per minute: the profile's cap, or 60 in demo mode.
    pub query_rate_per_minute: u32,
    /// Why "Enrol me" is refused now (a deployment is loaded), in words for the operator.
    pub demo_enrolment_refused: Option<String>,
    /// The watchlist's entry size class: the file holds no finer count (G3), so the expected
    /// false-alert rates are computed for the class, an upper bound for the list it pads.
    pub entries: u32,
    pub custody: Option<&'static str>,
    pub custody_note: Option<&'static str>,
    pub threshold: u16,
    pub tables: u16,
    pub valid_until: Option<String>,
    pub seconds_left: Option<i64>,
    pub expected_false_alerts_per_1000: Option<f64>,
    /// The 95% interval of `expected_false_alerts_per_1000`.
    pub expected_false_alerts_ci95: Option<[f64; 2]>,
    /// Which calibration the expected false alerts come from (recipe and stranger population).
    pub false_alerts_calibration: Option<String>,
    /// The estimated share of watchlisted people's tracks that would alert.
    pub estimated_true_match_rate: Option<f64>,
    /// The false-alert rate per passer-by the deployment's threshold was chosen for.
    pub target_fpir: Option<String>,
    /// The issuer's estimate for this very list, from its own entries against a stranger cohort
    /// (the profile's `falseAlertEstimate`), shown beside the kiosk's own: the kiosk knows only the
    /// list's size class, the issuer knew its templates.
    pub issuer_false_alerts: Option<RecordedEstimate>,
    pub pending_reviews: usize,
    /// The profile the kiosk loaded, for the public notice.
    pub notice: Option<Profile>,
    /// Per demographic group: strangers' expected false alerts with their 95% intervals, and
    /// watchlisted people's estimated true-match rate at this threshold (they are unequal, and
    /// shown as such).
    pub group_rates: Option<Vec<GroupRate>>,
    /// Where the groups' false-alert estimates come from, in words.
    pub group_rates_calibration: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    Idle,
    Demo,
    Deployment,
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
        PrfSuite::VoprfRistretto255Sha512 => "authority key: the file is useless without the authority",
    }
}

/// What sealed custody means, in plain words, for the status panel.
pub const SEALED_CUSTODY_NOTE: &str = "sealed custody: the list never leaves the authority, and each face leaves \
    this kiosk only encrypted under a key that never leaves it; the kiosk learns which listed people a face matched, \
    with the score of each, and nothing of the others";

/// What the status shows of the list a deployment matches against: a watchlist's header, or a
/// sealed deployment's descriptor.
#[derive(Debug, Clone, Copy)]
pub struct ListSummary {
    /// The size class (entries, or the gallery's rows under sealed custody).
    pub entries: u32,
    pub custody: &'static str,
    pub custody_note: &'static str,
    /// m of L under local and authority custody; thousandths of cosine under sealed custody.
    pub threshold: u16,
    /// L; 0 under sealed custody (no tables).
    pub tables: u16,
    pub valid_until: i64,
}

impl ListSummary {
    pub fn of_header(header: &Header) -> ListSummary {
        ListSummary {
            entries: header.entries,
            custody: header.suite.name(),
            custody_note: custody_note(header.suite),
            threshold: header.threshold,
            tables: header.tables,
            valid_until: header.valid_until,
        }
    }

    pub fn of_sealed(descriptor: &VerifiedDescriptor) -> ListSummary {
        ListSummary {
            entries: descriptor.descriptor.rows,
            custody: CUSTODY_NAME,
            custody_note: SEALED_CUSTODY_NOTE,
            threshold: descriptor.descriptor.threshold_milli,
            tables: 0,
            valid_until: descriptor.valid_until,
        }
    }
}

/// What the calibration expects of a watchlist of this size and threshold, worked out once when it
/// loads (the status is asked for on every frame).
#[derive(Debug, Clone)]
pub struct ExpectedRates {
    pub false_alerts: FalseAlertEstimate,
    pub true_match_rate: f64,
    pub group_rates: Vec<GroupRate>,
}

impl ExpectedRates {
    pub fn of(header: &Header) -> ExpectedRates {
        let (entries, c) = (header.entries as u64, calibration());
        ExpectedRates {
            false_alerts: c
                .estimate_any_recipe(entries, header.tables, header.threshold)
                .expect("the shipped calibration is not empty (checked by a test)"),
            true_match_rate: c.true_match_rate(header.tables, header.threshold),
            group_rates: c.group_rates(entries, header.tables, header.threshold),
        }
    }
}

impl KioskStatus {
    /// The status of a session matching against `list` under `profile`, with the rates expected
    /// of it (or of one that matches nothing, when `list` is `None`).
    pub fn new(
        list: Option<ListSummary>,
        profile: Option<&SignedProfile>,
        expected: Option<&ExpectedRates>,
        pending_reviews: usize,
        now_unix: i64,
    ) -> KioskStatus {
        let header = list.as_ref();
        let valid_until = header.map(|h| profile.map_or(h.valid_until, |p| p.valid_until.min(h.valid_until)));
        KioskStatus {
            matching: header.is_some(),
            loading: None,
            paused: None,
            mode: match (header, profile) {
                (None, _) => Mode::Idle,
                (Some(_), None) => Mode::Demo,
                (Some(_), Some(_)) => Mode::Deployment,
            },
            query_rate_per_minute: profile
                .map_or(super::demo::DEMO_QUERY_RATE_PER_MINUTE, |p| p.profile.query_rate_per_minute),
            demo_enrolment_refused: None,
            entries: header.map_or(0, |h| h.entries),
            custody: header.map(|h| h.custody),
            custody_note: header.map(|h| h.custody_note),
            threshold: header.map_or(0, |h| h.threshold),
            tables: header.map_or(0, |h| h.tables),
            valid_until: valid_until.map(crate::time::format_utc),
            seconds_left: valid_until.map(|until| until - now_unix),
            expected_false_alerts_per_1000: expected.map(|e| e.false_alerts.per_1000),
            expected_false_alerts_ci95: expected.map(|e| e.false_alerts.per_1000_ci95),
            false_alerts_calibration: expected.map(|e| e.false_alerts.calibration.clone()),
            estimated_true_match_rate: expected.map(|e| e.true_match_rate),
            target_fpir: profile.and_then(|p| p.profile.target_fpir.clone()),
            issuer_false_alerts: profile.and_then(|p| p.profile.false_alert_estimate.clone()),
            pending_reviews,
            notice: profile.map(|p| p.profile.clone()),
            group_rates: expected.map(|e| e.group_rates.clone()),
            group_rates_calibration: expected.map(|_| GROUP_CALIBRATION),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blind::enroll::{ephemeral_local, synthetic_enrolments};

    #[test]
    fn the_status_shows_calibrated_rates_for_this_watchlist() {
        let (matcher, _) = ephemeral_local(synthetic_enrolments(2), "m", 1_800_000_000).unwrap();
        let header = &matcher.watchlist.header;
        let status = KioskStatus::new(
            Some(ListSummary::of_header(header)),
            None,
            Some(&ExpectedRates::of(header)),
            1,
            1_800_000_000,
        );
        assert!(status.matching);
        assert_eq!((status.tables, status.threshold), (crate::blind::DEFAULT_TABLES, crate::blind::DEFAULT_THRESHOLD));
        let rates = status.group_rates.clone().expect("every setting has calibrated rates");
        let groups: Vec<&str> = rates.iter().map(|r| r.group.as_str()).collect();
        assert!(groups.contains(&"Black-female") && groups.contains(&"female"), "{groups:?}");
        let (false_alerts, true_matches) =
            (status.expected_false_alerts_per_1000.unwrap(), status.estimated_true_match_rate.unwrap());
        // Two entries pad to the class of 64: the rate is that of 64 entries at m = 53, from the
        // most pessimistic calibration, with an interval around it.
        assert_eq!(status.entries, 64);
        let [low, high] = status.expected_false_alerts_ci95.unwrap();
        assert!(false_alerts > 0.5 && low <= false_alerts && false_alerts <= high, "{false_alerts} [{low}, {high}]");
        assert!(status.false_alerts_calibration.as_deref().unwrap().contains("-photo templates against"));
        assert!(true_matches > 0.9, "{true_matches}");
        // Each stranger group's estimate has its interval; the groups differ, and weighted by their
        // strangers they average back to about the overall estimate (they share its level).
        let strangers: Vec<&GroupRate> = rates.iter().filter(|r| r.false_alerts_per_1000.is_some()).collect();
        assert_eq!(strangers.len(), 10, "race × gender");
        let (mut weighted, mut people) = (0.0, 0.0);
        for r in &strangers {
            let (rate, [low, high]) = (r.false_alerts_per_1000.unwrap(), r.false_alerts_ci95.unwrap());
            assert!(low <= rate && rate <= high && low < high, "{r:?}");
            weighted += rate * r.people as f64;
            people += r.people as f64;
        }
        let mean = weighted / people;
        assert!((mean / false_alerts - 1.0).abs() < 0.1, "groups average {mean}, overall {false_alerts}");
        let spread = strangers.iter().map(|r| r.false_alerts_per_1000.unwrap());
        let (min, max) = spread.fold((f64::MAX, 0f64), |(a, b), x| (a.min(x), b.max(x)));
        assert!(max > 1.2 * min, "the groups' rates differ: {min} – {max}");
        assert!(status.group_rates_calibration.unwrap().contains("relative to all UTKFace fillers"));
        assert_eq!(status.seconds_left, Some(86_400), "an ephemeral watchlist lasts a day");
        assert!(status.notice.is_none());

        // A profile recording the issuer's per-entry estimate: shown beside the kiosk's own.
        let estimate = RecordedEstimate {
            per_1000: 0.34,
            per_1000_ci95: [0.01, 1.74],
            calibration: "per-entry, cohort of 3335 strangers".into(),
        };
        let profile = Profile {
            purpose: "p".into(),
            legal_basis: "l".into(),
            operator: "o".into(),
            location: "here".into(),
            valid_from: "2026-01-01T00:00:00Z".into(),
            valid_until: "2027-01-01T00:00:00Z".into(),
            watchlist_sha256: "ab".repeat(32),
            threshold: header.threshold,
            threshold_floor: header.threshold,
            custody: crate::governance::profile::Custody::Local,
            target_fpir: Some("1/1000".into()),
            false_alert_estimate: Some(estimate.clone()),
            query_rate_per_minute: 60,
            notice: "n".into(),
            contact: "c".into(),
            requires_overseer: false,
            kiosk_keys: Vec::new(),
        };
        let signed = SignedProfile { profile, valid_from: 0, valid_until: i64::MAX, overseer: None };
        let deployed = KioskStatus::new(
            Some(ListSummary::of_header(header)),
            Some(&signed),
            Some(&ExpectedRates::of(header)),
            0,
            1_800_000_000,
        );
        assert_eq!(deployed.issuer_false_alerts, Some(estimate));
        assert_eq!(deployed.expected_false_alerts_per_1000, status.expected_false_alerts_per_1000);
        let json = serde_json::to_value(&deployed).unwrap();
        assert_eq!(json["issuerFalseAlerts"]["per1000Ci95"][1], 1.74, "{json}");
        assert!(status.issuer_false_alerts.is_none());

        let idle = KioskStatus::new(None, None, None, 0, 0);
        assert!(!idle.matching && idle.custody.is_none() && idle.group_rates.is_none());
        assert!(idle.expected_false_alerts_per_1000.is_none());
        let json = serde_json::to_value(&status).unwrap();
        assert!(json.get("expectedFalseAlertsPer1000").is_some() && json.get("pendingReviews").is_some(), "{json}");
    }
}
