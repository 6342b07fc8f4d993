//! Per-entry false-match estimates at enrolment (issue 17 item 2): each template measured against a
//! stranger cohort ([`super::cohort`]) with the binomial model of [`crate::calibration::model`],
//!
//! ```text
//! FMR_i(m) = mean over the cohort's strangers s of P[Binom(L, p(cos(template_i, s))) ≥ m]
//! FPIR(m)  = 1 − Π_i (1 − FMR_i(m))
//! ```
//!
//! and the entries whose template is unusually close to the crowd (a generic face, a poor or mixed
//! photo) named by [`OUTLIER_FACTOR`].
//!
//! **Intervals.** The uncertainty is that of the cohort's sample of strangers. A stranger s adds
//! to the cohort's expected count of alerts a probability in [0, 1], so over strangers drawn anew
//! the sum of those probabilities varies no more than a Poisson count of the same mean would (its
//! variance, N·Var(q) ≤ N·E[q], is at most the Poisson one). The 95% intervals are therefore
//! [`poisson_interval`] of the expected count N·FMR_i (an entry) or N·FPIR (the list) over the N
//! strangers: conservative where a bootstrap over strangers would be too narrow, and, when the
//! cohort holds no stranger anywhere near a template, an upper bound of about 3.7 alerts in N
//! rather than a confident zero. They do not cover the gap between the cohort and the real crowd:
//! a cohort from another photographic domain than the kiosk's passers-by estimates that domain.

use rayon::prelude::*;

use crate::calibration::model::{
    binomial_tail, collision_probability, poisson_interval, smallest_m, FalseAlertEstimate,
};
use crate::template::Embedding;

/// An entry is named as unusually close to the crowd when its FMR at m is more than this many times
/// the mean FMR of the list's other entries: on its own it raises the false alerts of ten ordinary
/// entries. The per-entry rates are heavy-tailed (30 held-out LFW templates against a cohort of
/// 3 335 strangers: five orders of magnitude between entries, two of them — each with one stranger
/// unusually close — making three quarters of the list's expected alerts), so the rule compares
/// with the mean, which those few dominate, not the median, ten times which a quarter of ordinary
/// entries exceeded. A list of one entry has no such entry.
pub const OUTLIER_FACTOR: f64 = 10.0;

/// Cosine steps of [`TailTable`]'s grid.
const GRID: usize = 4000;

/// P[Binom(L, p(c)) ≥ m] for any cosine c: exact ([`binomial_tail`] of [`collision_probability`])
/// on a grid of 4 001 cosines over [−1, 1], interpolated linearly in the logarithm between them
/// (the log tail is smooth in c; a unit test bounds the error).
pub struct TailTable {
    ln_tail: Vec<f64>,
}

impl TailTable {
    pub fn new(tables: u16, m: u16) -> TailTable {
        let ln_tail = (0..=GRID)
            .into_par_iter()
            .map(|i| {
                let cosine = -1.0 + 2.0 * i as f64 / GRID as f64;
                binomial_tail(tables as u32, collision_probability(cosine), m as u32).ln()
            })
            .collect();
        TailTable { ln_tail }
    }

    pub fn at(&self, cosine: f32) -> f64 {
        let x = ((cosine as f64).clamp(-1.0, 1.0) + 1.0) * GRID as f64 / 2.0;
        let i = (x.floor() as usize).min(GRID - 1);
        let f = x - i as f64;
        let (a, b) = (self.ln_tail[i], self.ln_tail[i + 1]);
        if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
            return (1.0 - f) * a.exp() + f * b.exp();
        }
        (a + f * (b - a)).exp()
    }
}

/// One entry's per-comparison false-match rate against the cohort, with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntryRate {
    pub fmr: f64,
    pub fmr_ci95: [f64; 2],
}

/// A watchlist's per-entry estimate at m of L.
#[derive(Debug, Clone, PartialEq)]
pub struct PerEntryEstimate {
    pub tables: u16,
    pub m: u16,
    /// Strangers in the cohort.
    pub strangers: usize,
    /// Per entry, in the order of the templates.
    pub entries: Vec<EntryRate>,
    /// The list's FPIR, as false alerts per 1 000 passers-by with its 95% interval, and its source
    /// ("per-entry, cohort of N strangers").
    pub list: FalseAlertEstimate,
    /// The entries whose FMR exceeds [`OUTLIER_FACTOR`] × the mean FMR of the others, highest first.
    pub outliers: Vec<usize>,
}

/// Every template's cosine with every stranger of a cohort, computed once: the estimate at any m
/// then costs a table lookup per pair.
pub struct CohortCosines {
    strangers: usize,
    /// Row i: template i against each stranger.
    cosines: Vec<Vec<f32>>,
}

impl CohortCosines {
    pub fn new(templates: &[Embedding], strangers: &[Embedding]) -> CohortCosines {
        let cosines = templates.par_iter().map(|t| strangers.iter().map(|s| t.cosine(s)).collect()).collect();
        CohortCosines { strangers: strangers.len(), cosines }
    }

    /// The per-entry estimate at m of L (the module doc gives the model and the intervals).
    pub fn estimate(&self, tables: u16, m: u16) -> PerEntryEstimate {
        let tails = TailTable::new(tables, m);
        let n = self.strangers.max(1) as f64;
        let entries: Vec<EntryRate> = self
            .cosines
            .par_iter()
            .map(|row| {
                let events: f64 = row.iter().map(|&c| tails.at(c)).sum();
                EntryRate { fmr: events / n, fmr_ci95: poisson_interval(events, n) }
            })
            .collect();
        let fpir = -f64::exp_m1(entries.iter().map(|e| (-e.fmr).ln_1p()).sum());
        let [low, high] = poisson_interval(n * fpir, n);
        let list = FalseAlertEstimate {
            per_1000: 1000.0 * fpir,
            per_1000_ci95: [1000.0 * low, 1000.0 * high.min(1.0)],
            calibration: format!("per-entry, cohort of {} strangers", self.strangers),
        };
        let total: f64 = entries.iter().map(|e| e.fmr).sum();
        let others = entries.len().saturating_sub(1) as f64;
        let mut outliers: Vec<usize> = (0..entries.len())
            .filter(|&i| others > 0.0 && entries[i].fmr > OUTLIER_FACTOR * (total - entries[i].fmr) / others)
            .collect();
        outliers.sort_by(|&a, &b| entries[b].fmr.total_cmp(&entries[a].fmr));
        PerEntryEstimate { tables, m, strangers: self.strangers, entries, list, outliers }
    }

    /// The smallest m whose per-entry FPIR (the point estimate) meets `target`; `None` when even
    /// m = L does not.
    pub fn threshold_for_fpir(&self, tables: u16, target: f64) -> Option<u16> {
        smallest_m(tables, |m| self.estimate(tables, m).list.per_1000 / 1000.0 <= target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::EMBEDDING_DIM;

    /// A unit vector at cosine `c` with the first axis (in the plane of the first two axes).
    fn at_cosine(c: f32) -> Embedding {
        let mut v = vec![0f32; EMBEDDING_DIM];
        v[0] = c;
        v[1] = (1.0 - c * c).sqrt();
        Embedding::from_values(&v).unwrap()
    }

    #[test]
    fn the_tail_table_matches_the_exact_tail() {
        for m in [40u16, 60, 90] {
            let table = TailTable::new(1024, m);
            for k in 0..=400 {
                let c = -0.2 + k as f64 * 0.002 + 0.0007;
                let exact = binomial_tail(1024, collision_probability(c), m as u32);
                let ratio = table.at(c as f32) / exact;
                assert!((ratio - 1.0).abs() < 2e-3, "m = {m}, cosine {c}: {ratio}");
            }
        }
    }

    #[test]
    fn the_per_entry_estimate_is_the_binomial_model_summed_by_hand() {
        // Two templates on the first axis and one orthogonal; three strangers at known cosines.
        let axis = at_cosine(1.0);
        let templates = [axis.clone(), at_cosine(0.3), axis];
        let strangers = [at_cosine(0.1), at_cosine(0.35), at_cosine(0.5)];
        let (tables, m) = (1024u16, 60u16);
        let tail = |c: f32| binomial_tail(tables as u32, collision_probability(c as f64), m as u32);
        let estimate = CohortCosines::new(&templates, &strangers).estimate(tables, m);
        let by_hand: Vec<f64> =
            templates.iter().map(|t| strangers.iter().map(|s| tail(t.cosine(s))).sum::<f64>() / 3.0).collect();
        for (got, want) in estimate.entries.iter().zip(&by_hand) {
            assert!((got.fmr / want - 1.0).abs() < 2e-3, "{} vs {want}", got.fmr);
            let [low, high] = got.fmr_ci95;
            let [want_low, want_high] = poisson_interval(3.0 * got.fmr, 3.0);
            assert!((low - want_low).abs() <= 1e-12 * want_high && (high / want_high - 1.0).abs() < 1e-12);
            assert!(low <= got.fmr && got.fmr < high);
        }
        let fpir = 1.0 - by_hand.iter().map(|f| 1.0 - f).product::<f64>();
        assert!((estimate.list.per_1000 / (1000.0 * fpir) - 1.0).abs() < 2e-3);
        assert_eq!(estimate.list.calibration, "per-entry, cohort of 3 strangers");
        // The rate falls as m rises, and the threshold for a target is the smallest m meeting it.
        let cosines = CohortCosines::new(&templates, &strangers);
        let target = 1e-3;
        let chosen = cosines.threshold_for_fpir(tables, target).unwrap();
        assert!(cosines.estimate(tables, chosen).list.per_1000 <= 1000.0 * target);
        assert!(cosines.estimate(tables, chosen - 1).list.per_1000 > 1000.0 * target);
    }

    #[test]
    fn an_entry_far_closer_to_the_crowd_than_the_rest_is_named() {
        // Nine ordinary templates (each at cosine 0.2 from the stranger) and one generic one (0.45).
        let strangers = [at_cosine(1.0)];
        let mut templates: Vec<Embedding> = (0..9).map(|_| at_cosine(0.2)).collect();
        templates.insert(4, at_cosine(0.45));
        let estimate = CohortCosines::new(&templates, &strangers).estimate(1024, 60);
        assert_eq!(estimate.outliers, vec![4], "{:?}", estimate.entries);
        // Identical templates: nobody stands out; nor does a list of one.
        let same = CohortCosines::new(&vec![at_cosine(0.3); 5], &strangers).estimate(1024, 60);
        assert!(same.outliers.is_empty());
        let one = CohortCosines::new(&[at_cosine(0.45)], &strangers).estimate(1024, 60);
        assert!(one.outliers.is_empty());
        // Just above ten times the others' mean, and just below.
        let tails = TailTable::new(1024, 60);
        let at = |c: f32| tails.at(c);
        let (ordinary, high) = (at(0.2), at(0.25));
        assert!(high > 10.0 * ordinary, "the test needs a steeper tail");
        let pair = CohortCosines::new(&[at_cosine(0.2), at_cosine(0.25)], &strangers).estimate(1024, 60);
        assert_eq!(pair.outliers, vec![1]);
    }
}
