//! Sealed custody's false alerts against the issuer's stranger cohort ([`super::cohort`]): what
//! `enroll --custody sealed --stranger-cohort` records for the profile, and how `--target-fpir`
//! chooses the sealed threshold.
//!
//! Under sealed custody the authority alerts on a passer-by exactly when some entry's quantised
//! inner product reaches the integer threshold, ⟨q, T⟩ ≥ τ ([`crate::sealed::quantise`]): no
//! hashing, no probability. So against a cohort of N strangers the estimate is a count: k strangers
//! whose best entry reaches τ, FPIR = k / N, with the 95% interval of [`poisson_interval`] (about
//! 3.7 / N above a count of zero: a cohort cannot show a rate much below one in its size). Each
//! stranger's best score is computed once, so any threshold then costs one pass.

use rayon::prelude::*;

use crate::calibration::model::{poisson_interval, FalseAlertEstimate};
use crate::sealed::quantise::{threshold, Quantised};

/// Each stranger's best quantised inner product with any entry.
pub struct SealedCohortScores {
    best: Vec<i64>,
}

impl SealedCohortScores {
    pub fn new(templates: &[Quantised], strangers: &[Quantised]) -> SealedCohortScores {
        let best = strangers.par_iter().map(|s| templates.iter().map(|t| t.dot(s)).max().unwrap_or(i64::MIN)).collect();
        SealedCohortScores { best }
    }

    /// Strangers in the cohort.
    pub fn strangers(&self) -> usize {
        self.best.len()
    }

    /// Strangers who would alert at `threshold_milli` (thousandths of cosine).
    pub fn alerts_at(&self, threshold_milli: u16) -> usize {
        let tau = threshold(f32::from(threshold_milli) / 1000.0);
        self.best.iter().filter(|&&score| score >= tau).count()
    }

    /// The expected false alerts per 1 000 passers-by at `threshold_milli`, with its interval.
    pub fn estimate(&self, threshold_milli: u16) -> FalseAlertEstimate {
        let (k, n) = (self.alerts_at(threshold_milli) as f64, self.strangers().max(1) as f64);
        let [low, high] = poisson_interval(k, n);
        FalseAlertEstimate {
            per_1000: 1000.0 * k / n,
            per_1000_ci95: [1000.0 * low, 1000.0 * high.min(1.0)],
            calibration: format!(
                "sealed, exact quantised scores against a cohort of {} strangers ({} alert)",
                self.strangers(),
                k as usize
            ),
        }
    }

    /// The lowest threshold (thousandths, 1–999) at which the cohort *shows* the target: the upper
    /// end of the estimate's 95% interval is at most `target` per passer-by. `None` when no
    /// threshold does, which a cohort smaller than about 3.7 / `target` strangers never can (zero
    /// alerts in N is an upper bound of about 3.7 / N, not a rate of zero).
    pub fn threshold_for_fpir(&self, target: f64) -> Option<u16> {
        (1..1000u16).find(|&t| self.estimate(t).per_1000_ci95[1] / 1000.0 <= target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Embedding, EMBEDDING_DIM};

    /// A unit vector at cosine `c` with the all-equal direction, spread over every component as a
    /// face embedding's is (a unit axis would quantise past the [−63, 63] range).
    fn at_cosine(c: f32) -> Quantised {
        let unit = 1.0 / (EMBEDDING_DIM as f32).sqrt();
        let s = (1.0 - c * c).sqrt();
        let v: Vec<f32> = (0..EMBEDDING_DIM).map(|i| unit * (c + if i % 2 == 0 { s } else { -s })).collect();
        Quantised::of(&Embedding::from_values(&v).unwrap())
    }

    #[test]
    fn the_estimate_counts_the_strangers_whose_best_entry_reaches_the_threshold() {
        let entries = [at_cosine(1.0)];
        let strangers: Vec<Quantised> = [0.1, 0.2, 0.35, 0.55, 0.65].iter().map(|&c| at_cosine(c)).collect();
        let scores = SealedCohortScores::new(&entries, &strangers);
        assert_eq!((scores.alerts_at(270), scores.alerts_at(450), scores.alerts_at(800)), (3, 2, 0));
        let estimate = scores.estimate(450);
        assert_eq!(estimate.per_1000, 400.0);
        let [low, high] = estimate.per_1000_ci95;
        assert!(low < 400.0 && 400.0 < high, "{low} {high}");
        assert!(estimate.calibration.contains("5 strangers (2 alert)"));
        // Zero alerts is not a zero rate: the interval reaches about 3.7 in N.
        assert!(scores.estimate(800).per_1000_ci95[1] > 500.0);
        // Five strangers cannot show a rate below about 3.7 in 5: no threshold meets 1 in 5, and
        // the lowest that shows 0.9 is the one with no alert left.
        assert_eq!(scores.threshold_for_fpir(0.2), None);
        let chosen = scores.threshold_for_fpir(0.9).unwrap();
        assert_eq!(scores.alerts_at(chosen), 0);
        assert!(scores.alerts_at(chosen - 1) > 0);
        assert!(scores.estimate(chosen).per_1000_ci95[1] <= 900.0);
    }
}
