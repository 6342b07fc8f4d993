//! The calibration the kiosk and the issuer tool use (DESIGN §7), shipped as data: the cosine
//! histograms `veilwatch eval --fillers … --calibration-out` measured for the model on the
//! development data (LFW watchlisted people, UTKFace strangers), read from
//! `models/sface-2021dec-int8bq.calibration.json`. `tests/accuracy.rs` re-measures it, so a change
//! to the pipeline that moves it fails there, not silently on a kiosk's screen.

use std::sync::OnceLock;

use serde::Serialize;

use super::model::{poisson_interval, BinTails, CalibrationData, FalseAlertEstimate, ScoreHistogram};

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
    /// Strangers' groups: the 95% interval of `false_alerts_per_1000`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub false_alerts_ci95: Option<[f64; 2]>,
    /// Watchlisted people's groups: the estimated share of their tracks that would alert.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub true_match_rate: Option<f64>,
}

/// Where the per-group false-alert estimates come from, in words (the kiosk and the report say it).
pub const GROUP_CALIBRATION: &str = "the overall estimate times the group's false-match rate relative to all \
                                     UTKFace fillers (labelled by race and gender)";

impl CalibrationData {
    /// Per group, at m of L for a watchlist of `entries` of unknown recipe (what a kiosk knows):
    /// strangers' false alerts with their intervals ([`CalibrationData::stranger_group_estimates`]
    /// of [`CalibrationData::estimate_any_recipe`]), watchlisted people's true matches.
    pub fn group_rates(&self, entries: u64, tables: u16, m: u16) -> Vec<GroupRate> {
        let tails = BinTails::new(tables, m);
        let strangers = self.estimate_any_recipe(entries, tables, m).into_iter().flat_map(|overall| {
            self.stranger_group_estimates(&overall, tables, m).into_iter().map(|(group, people, e)| GroupRate {
                group,
                people,
                false_alerts_per_1000: Some(e.per_1000),
                false_alerts_ci95: Some(e.per_1000_ci95),
                true_match_rate: None,
            })
        });
        let watchlisted = self.genuine_track_groups.iter().map(|(group, h)| GroupRate {
            group: group.clone(),
            people: h.total(),
            false_alerts_per_1000: None,
            false_alerts_ci95: None,
            true_match_rate: Some(tails.rate(h)),
        });
        strangers.chain(watchlisted).collect()
    }

    /// Per stranger group (the fillers' race × gender), with how many strangers were measured:
    /// `overall` (the most pessimistic calibration's estimate for a watchlist) scaled by the
    /// group's false-match rate at m relative to all fillers'. The recipe calibrations set the level
    /// (the fillers alone are the flattering population, issue 17); the labelled fillers, the only
    /// strangers with groups, set how the groups differ. The interval multiplies `overall`'s bounds
    /// by the bounds of the group's ratio (its Poisson interval over the all-filler rate, which
    /// rests on ten times the pairs), so it holds both uncertainties.
    pub fn stranger_group_estimates(
        &self,
        overall: &FalseAlertEstimate,
        tables: u16,
        m: u16,
    ) -> Vec<(String, u64, FalseAlertEstimate)> {
        let mut histograms: Vec<&ScoreHistogram> = self.stranger_groups.values().collect();
        histograms.push(&self.strangers);
        let tails = BinTails::covering(tables, m, &histograms);
        let all = tails.rate(&self.strangers);
        self.stranger_groups
            .iter()
            .map(|(group, h)| {
                let (hits, pairs) = tails.hits(h);
                let (ratio, [low, high]) = if all > 0.0 && pairs > 0.0 {
                    let [low, high] = poisson_interval(hits, pairs);
                    (hits / pairs / all, [low / all, high / all])
                } else {
                    (1.0, [1.0, 1.0])
                };
                let capped = |x: f64| x.min(1000.0);
                let estimate = FalseAlertEstimate {
                    per_1000: capped(overall.per_1000 * ratio),
                    per_1000_ci95: [capped(overall.per_1000_ci95[0] * low), capped(overall.per_1000_ci95[1] * high)],
                    calibration: format!("{}; {GROUP_CALIBRATION}", overall.calibration),
                };
                (group.clone(), h.total() / self.templates.max(1), estimate)
            })
            .collect()
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
