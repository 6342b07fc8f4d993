//! The calibration the kiosk and the issuer tool use (DESIGN §7), shipped as data: the cosine
//! histograms `veilwatch eval --fillers … --calibration-out` measured for the model on the
//! development data (LFW watchlisted people, UTKFace strangers), read from
//! `models/sface-2021dec-int8bq.calibration.json`. `tests/accuracy.rs` re-measures it, so a change
//! to the pipeline that moves it fails there, not silently on a kiosk's screen.

use std::sync::OnceLock;

use serde::Serialize;

use super::calibration::{fpir, BinTails, CalibrationData};

const SHIPPED: &str = include_str!("../../models/sface-2021dec-int8bq.calibration.json");

/// The shipped calibration of the model this build runs.
pub fn calibration() -> &'static CalibrationData {
    static PARSED: OnceLock<CalibrationData> = OnceLock::new();
    PARSED.get_or_init(|| {
        serde_json::from_str(SHIPPED).expect("the shipped calibration is valid JSON (checked by a test)")
    })
}

/// What the kiosk shows for one demographic group at its threshold.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct GroupRate {
    pub group: String,
    /// People the rate was measured on.
    pub people: u64,
    /// Strangers' groups: expected false alerts per 1 000 passers-by of this group.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub false_alerts_per_1000: Option<f64>,
    /// Watchlisted people's groups: the estimated share of their tracks that would alert.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub true_match_rate: Option<f64>,
}

impl CalibrationData {
    /// Per group, at m of L for a watchlist of `entries`: strangers' false alerts, watchlisted
    /// people's true matches.
    pub fn group_rates(&self, entries: u64, tables: u16, m: u16) -> Vec<GroupRate> {
        let tails = BinTails::new(tables, m);
        let strangers = self.stranger_groups.iter().map(|(group, h)| GroupRate {
            group: group.clone(),
            people: h.total() / self.templates.max(1),
            false_alerts_per_1000: Some(1000.0 * fpir(tails.rate(h), entries)),
            true_match_rate: None,
        });
        let watchlisted = self.genuine_track_groups.iter().map(|(group, h)| GroupRate {
            group: group.clone(),
            people: h.total(),
            false_alerts_per_1000: None,
            true_match_rate: Some(tails.rate(h)),
        });
        strangers.chain(watchlisted).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_calibration_is_for_this_model_and_gives_sane_rates() {
        let c = calibration();
        #[cfg(feature = "pipeline")]
        assert_eq!(c.model_id, crate::pipeline::embed::MODEL_ID);
        let (low, high) = (c.fmr(1024, 53), c.fmr(1024, 150));
        assert!(low > high && high > 0.0, "{low} {high}");
        assert!(c.true_match_rate(1024, 53) > c.true_match_rate(1024, 150));
        let groups = c.group_rates(1000, 1024, 150);
        assert!(
            groups.iter().any(|g| g.true_match_rate.is_some())
                && groups.iter().any(|g| g.false_alerts_per_1000.is_some())
        );
    }
}
