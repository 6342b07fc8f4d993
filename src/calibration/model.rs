//! The calibration model of DESIGN §7: the false-match rate of the blind matcher at any L and m,
//! including rates far below what counting pairs can measure.
//!
//! A probe and an entry whose templates have cosine `c` collide in each of L independent tables
//! with the family's probability p(c), so their collision count is Binomial(L, p(c)), and
//!
//! ```text
//! FMR(L, m) = mean over impostor pairs of P[Binom(L, p(cos)) ≥ m]
//! ```
//!
//! The impostor cosines come from measured data (a histogram, [`ScoreHistogram`]); p(c) from the
//! family's tabulated collision probability ([`crate::blind::lsh::COLLISION_TABLE`], interpolated
//! in log space). The same sum over genuine cosines gives the true-match rate at m.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::blind::lsh::COLLISION_TABLE;

/// Width of a histogram bin of cosines.
pub const BIN_WIDTH: f64 = 0.005;
const BINS: usize = 400;

/// One table's collision probability at `cosine` (log-linear between the tabulated points;
/// cosines at or below 0 take p(0), which overstates their tiny share of false matches).
pub fn collision_probability(cosine: f64) -> f64 {
    let t = &COLLISION_TABLE;
    if cosine <= 0.0 {
        return t[0] as f64;
    }
    if cosine >= 1.0 {
        return 1.0;
    }
    let x = cosine / 0.05;
    let i = (x.floor() as usize).min(t.len() - 2);
    let f = x - i as f64;
    let (a, b) = ((t[i] as f64).ln(), (t[i + 1] as f64).ln());
    (a + f * (b - a)).exp()
}

/// `P[X ≥ m]` for `X ~ Binomial(n, p)`, summed in log space so that tails down to 1e-300 stay exact.
pub fn binomial_tail(n: u32, p: f64, m: u32) -> f64 {
    if m == 0 {
        return 1.0;
    }
    if m > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (ln_p, ln_q) = (p.ln(), (1.0 - p).ln());
    // ln C(n, m) by a running product, then each next term by the ratio (n − k)/(k + 1) · p/q.
    let mut ln_choose = 0.0;
    for k in 0..m {
        ln_choose += ((n - k) as f64).ln() - ((k + 1) as f64).ln();
    }
    let mut ln_term = ln_choose + m as f64 * ln_p + (n - m) as f64 * ln_q;
    let first = ln_term;
    let mut sum = 1.0; // terms relative to the first
    for k in m..n {
        ln_term += ((n - k) as f64).ln() - ((k + 1) as f64).ln() + ln_p - ln_q;
        let relative = (ln_term - first).exp();
        sum += relative;
        if relative < 1e-17 * sum && k as f64 > n as f64 * p {
            break;
        }
    }
    (first.exp() * sum).min(1.0)
}

/// The bin of a cosine.
fn bin_of(cosine: f32) -> usize {
    (((cosine as f64 + 1.0) / BIN_WIDTH).floor().max(0.0) as usize).min(BINS - 1)
}

/// The cosine at the centre of bin `b`.
fn bin_centre(b: usize) -> f64 {
    -1.0 + (b as f64 + 0.5) * BIN_WIDTH
}

/// P[Binom(L, p(cos)) ≥ m] at each bin's centre: the weights that turn a histogram into its rate at
/// m ([`BinTails::rate`]). Computed once, they serve every histogram (and every resample) at that m.
#[derive(Debug, Clone)]
pub struct BinTails(Vec<f64>);

impl BinTails {
    /// The weights of every bin.
    pub fn new(tables: u16, m: u16) -> BinTails {
        BinTails(
            (0..BINS).map(|b| binomial_tail(tables as u32, collision_probability(bin_centre(b)), m as u32)).collect(),
        )
    }

    /// The weights of the bins any of `histograms` uses (the others are never read: 0).
    pub fn covering(tables: u16, m: u16, histograms: &[&ScoreHistogram]) -> BinTails {
        let used = |b: usize| histograms.iter().any(|h| h.counts[b] > 0);
        let weight = |b: usize| binomial_tail(tables as u32, collision_probability(bin_centre(b)), m as u32);
        BinTails((0..BINS).map(|b| if used(b) { weight(b) } else { 0.0 }).collect())
    }

    /// The weight of the bin holding `cosine`: the chance that a pair at that cosine reaches m.
    pub fn at(&self, cosine: f32) -> f64 {
        self.0[bin_of(cosine)]
    }

    /// Expected pairs reaching m, and pairs, of `h`.
    pub fn hits(&self, h: &ScoreHistogram) -> (f64, f64) {
        (h.counts.iter().zip(&self.0).map(|(&c, t)| c as f64 * t).sum(), h.total() as f64)
    }

    /// The share of `h`'s pairs expected to reach m (0 for an empty histogram).
    pub fn rate(&self, h: &ScoreHistogram) -> f64 {
        let (hits, pairs) = self.hits(h);
        if pairs > 0.0 {
            hits / pairs
        } else {
            0.0
        }
    }
}

/// A histogram of cosine scores over [-1, 1] in bins of [`BIN_WIDTH`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreHistogram {
    /// Pairs counted per bin, lowest cosine first.
    pub counts: Vec<u64>,
}

impl Default for ScoreHistogram {
    fn default() -> Self {
        ScoreHistogram { counts: vec![0; BINS] }
    }
}

impl ScoreHistogram {
    pub fn from_scores(scores: impl IntoIterator<Item = f32>) -> ScoreHistogram {
        let mut h = ScoreHistogram::default();
        for s in scores {
            h.add(s);
        }
        h
    }

    pub fn add(&mut self, cosine: f32) {
        self.counts[bin_of(cosine)] += 1;
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The mean over the histogram's pairs of P[Binom(L, p(cos)) ≥ m]: the rate at which a pair of
    /// this kind has at least m of L tables colliding.
    pub fn rate_at(&self, tables: u16, m: u16) -> f64 {
        BinTails::covering(tables, m, &[self]).rate(self)
    }

    /// The fraction of pairs with cosine strictly above `threshold` (the plain-cosine matcher).
    pub fn fraction_above(&self, threshold: f64) -> f64 {
        let total = self.total();
        if total == 0 {
            return 0.0;
        }
        let above = self.counts.iter().enumerate().filter(|&(b, _)| bin_centre(b) > threshold).map(|(_, n)| n);
        above.sum::<u64>() as f64 / total as f64
    }
}

/// The histograms, measured by `veilwatch eval --fillers`, that the kiosk and `enroll --target-fpir` compute rates from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CalibrationData {
    /// The embedding model the cosines come from (the caller fills it in).
    pub model_id: String,
    /// Templates each stranger was compared with (a group's strangers = its total / this).
    pub templates: u64,
    /// Strangers (fillers) against templates: the per-comparison false-match model.
    pub strangers: ScoreHistogram,
    /// Mated `track` probes against their own template: the true-match model.
    pub genuine_track: ScoreHistogram,
    /// Per filler group: strangers against templates.
    pub stranger_groups: BTreeMap<String, ScoreHistogram>,
    /// Per watchlisted group (LFW gender): mated `track` probes.
    pub genuine_track_groups: BTreeMap<String, ScoreHistogram>,
    /// Strangers against templates built as `enroll` builds them, per number of photos averaged
    /// and per stranger population ([`RecipeCalibration`]); the false-alert rates come from these
    /// when present (the most pessimistic population that applies), else from `strangers`.
    #[serde(default)]
    pub recipes: Vec<RecipeCalibration>,
}

/// Most photos `enroll` averages into one template; the calibration covers every count up to it.
pub const MAX_TEMPLATE_PHOTOS: usize = 5;

/// Impostor cosines of one enrolment recipe against one stranger population: templates that are
/// the mean of `photos` photos of a person, probes that are single photos of other people that
/// pass the kiosk's quality gates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecipeCalibration {
    /// Photos averaged into each template.
    pub photos: usize,
    /// `lfw` (development identities other than the template's, look-alikes included) or
    /// `utkface` (the demographically labelled fillers: another photographic domain).
    pub population: String,
    pub templates: u64,
    /// Stranger photos (each one passer-by's face).
    pub strangers: u64,
    pub impostors: ScoreHistogram,
}

/// A per-comparison false-match rate with its 95% interval and the calibration it comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecipeRate {
    pub fmr: f64,
    pub fmr_ci95: [f64; 2],
    pub photos: usize,
    pub population: String,
}

/// What a watchlist's issuer and its kiosk show: expected false alerts per 1 000 passers-by, its
/// 95% interval, and which calibrations it comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FalseAlertEstimate {
    pub per_1000: f64,
    pub per_1000_ci95: [f64; 2],
    /// E.g. "5-photo templates against lfw strangers".
    pub calibration: String,
}

impl FalseAlertEstimate {
    /// The per-passer-by rate (FPIR) and its interval.
    pub fn fpir(&self) -> (f64, [f64; 2]) {
        (self.per_1000 / 1000.0, [self.per_1000_ci95[0] / 1000.0, self.per_1000_ci95[1] / 1000.0])
    }
}

/// A 95% interval for a rate from an (expected) count of `events` in `trials`: Garwood's Poisson
/// bounds in the Wilson–Hilferty approximation. With few events the lower bound is 0 and the
/// upper one about 3.7 events: below that, no amount of modelling makes a rate measured.
pub fn poisson_interval(events: f64, trials: f64) -> [f64; 2] {
    let z = 1.96;
    let lower = if events < 1e-9 {
        0.0
    } else {
        (events * (1.0 - 1.0 / (9.0 * events) - z / (3.0 * events.sqrt())).powi(3)).max(0.0)
    };
    let e = events + 1.0;
    let upper = e * (1.0 - 1.0 / (9.0 * e) + z / (3.0 * e.sqrt())).powi(3);
    [lower / trials, upper / trials]
}

impl CalibrationData {
    /// The per-comparison false-match rate at m of L for a template of unknown recipe: the most
    /// pessimistic recipe and population calibrated (or, for a calibration without recipes, the
    /// fillers against the evaluation's templates; 0 for an empty calibration).
    pub fn fmr(&self, tables: u16, m: u16) -> f64 {
        self.worst_rate(tables, m, 1..=MAX_TEMPLATE_PHOTOS).map_or(0.0, |rate| rate.fmr)
    }

    /// The most pessimistic calibrated rate at m of L over templates of `photos` photos (clamped
    /// to what is calibrated), with its interval; `None` for an empty calibration.
    pub fn recipe_rate(&self, photos: usize, tables: u16, m: u16) -> Option<RecipeRate> {
        let photos = photos.clamp(1, MAX_TEMPLATE_PHOTOS);
        self.worst_rate(tables, m, photos..=photos)
    }

    fn worst_rate(&self, tables: u16, m: u16, photos: std::ops::RangeInclusive<usize>) -> Option<RecipeRate> {
        if self.recipes.is_empty() {
            // A calibration from before recipes: the fillers against the evaluation's templates.
            let (hits, pairs) = BinTails::covering(tables, m, &[&self.strangers]).hits(&self.strangers);
            return (pairs > 0.0).then(|| RecipeRate {
                fmr: hits / pairs,
                fmr_ci95: poisson_interval(hits, pairs),
                photos: MAX_TEMPLATE_PHOTOS,
                population: "utkface".to_owned(),
            });
        }
        let tails = BinTails::covering(
            tables,
            m,
            &self.recipes.iter().filter(|r| photos.contains(&r.photos)).map(|r| &r.impostors).collect::<Vec<_>>(),
        );
        self.recipes
            .iter()
            .filter(|r| photos.contains(&r.photos) && r.impostors.total() > 0)
            .map(|r| {
                let (hits, pairs) = tails.hits(&r.impostors);
                RecipeRate {
                    fmr: hits / pairs,
                    fmr_ci95: poisson_interval(hits, pairs),
                    photos: r.photos,
                    population: r.population.clone(),
                }
            })
            .max_by(|a, b| a.fmr.total_cmp(&b.fmr))
    }

    /// Expected false alerts per 1 000 passers-by of a watchlist whose entries' templates average
    /// `photos_per_entry[i]` photos each: FPIR = 1 − Π(1 − FMR_i), each FMR_i from the most
    /// pessimistic population calibrated for its recipe; the interval combines the entries'
    /// lower bounds, and their upper bounds. `None` for an empty calibration.
    pub fn estimate(&self, photos_per_entry: &[usize], tables: u16, m: u16) -> Option<FalseAlertEstimate> {
        let mut counts = [0u64; MAX_TEMPLATE_PHOTOS + 1];
        for &k in photos_per_entry {
            counts[k.clamp(1, MAX_TEMPLATE_PHOTOS)] += 1;
        }
        let (mut log_pass, mut log_pass_low, mut log_pass_high) = (0.0, 0.0, 0.0);
        let mut sources = Vec::new();
        for (k, &n) in counts.iter().enumerate().filter(|(_, &n)| n > 0) {
            let rate = self.recipe_rate(k, tables, m)?;
            log_pass += n as f64 * (-rate.fmr).ln_1p();
            log_pass_low += n as f64 * (-rate.fmr_ci95[0]).ln_1p();
            log_pass_high += n as f64 * (-rate.fmr_ci95[1].min(1.0)).ln_1p();
            sources.push(format!("{k}-photo templates against {} strangers", rate.population));
        }
        let per_1000 = |log_pass: f64| -1000.0 * f64::exp_m1(log_pass);
        Some(FalseAlertEstimate {
            per_1000: per_1000(log_pass),
            per_1000_ci95: [per_1000(log_pass_low), per_1000(log_pass_high)],
            calibration: sources.join("; "),
        })
    }

    /// The estimate for a watchlist of `entries` templates of unknown recipe (what a kiosk knows):
    /// every entry at the most pessimistic recipe calibrated.
    pub fn estimate_any_recipe(&self, entries: u64, tables: u16, m: u16) -> Option<FalseAlertEstimate> {
        let worst = self.worst_rate(tables, m, 1..=MAX_TEMPLATE_PHOTOS)?;
        self.estimate(&vec![worst.photos; entries as usize], tables, m)
    }

    /// The smallest m whose estimated FPIR for entries of `photos_per_entry` photos meets `target`.
    pub fn threshold_for_recipes(&self, photos_per_entry: &[usize], tables: u16, target: f64) -> Option<u16> {
        smallest_m(tables, |m| {
            self.estimate(photos_per_entry, tables, m).is_some_and(|e| e.per_1000 / 1000.0 <= target)
        })
    }

    /// Expected false alerts per 1 000 passers-by for a watchlist of `entries` at m of L.
    pub fn false_alerts_per_1000(&self, entries: u64, tables: u16, m: u16) -> f64 {
        1000.0 * fpir(self.fmr(tables, m), entries)
    }

    /// The estimated true-match rate of a track of a watchlisted person at m of L.
    pub fn true_match_rate(&self, tables: u16, m: u16) -> f64 {
        self.genuine_track.rate_at(tables, m)
    }

    /// The smallest m meeting `target` false alerts per passer-by for `entries`.
    pub fn threshold_for_fpir(&self, tables: u16, entries: u64, target: f64) -> Option<u16> {
        smallest_m(tables, |m| fpir(self.fmr(tables, m), entries) <= target)
    }
}

/// The per-passer-by false-alert rate of a watchlist of `entries` at per-comparison rate `fmr`:
/// `1 − (1 − fmr)^entries`.
pub fn fpir(fmr: f64, entries: u64) -> f64 {
    -(entries as f64 * (-fmr).ln_1p()).exp_m1()
}

/// The per-comparison false-match rate at which a watchlist of `entries` alerts on a passer-by
/// with probability `fpir` (the inverse of [`fpir`]): `1 − (1 − fpir)^(1/entries)`.
pub fn fmr_for_fpir(fpir: f64, entries: u64) -> f64 {
    -((-fpir).ln_1p() / entries as f64).exp_m1()
}

/// The smallest m (collision threshold) whose FPIR for a watchlist of `entries` is at most
/// `target`, from the impostor histogram; `None` when even m = L does not get there.
pub fn threshold_for_fpir(impostors: &ScoreHistogram, tables: u16, entries: u64, target: f64) -> Option<u16> {
    smallest_m(tables, |m| fpir(impostors.rate_at(tables, m), entries) <= target)
}

/// The smallest m in 1..=tables that `fits`, which holds from some m on (rates fall as m grows):
/// bisection; `None` when even m = tables does not fit.
pub fn smallest_m(tables: u16, fits: impl Fn(u16) -> bool) -> Option<u16> {
    let (mut low, mut high) = (1u16, tables);
    if !fits(high) {
        return None;
    }
    while low < high {
        let mid = low + (high - low) / 2;
        if fits(mid) {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    Some(low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binomial_tail_matches_direct_sums() {
        // Small n: the sum of the pmf directly.
        let (n, p) = (20u32, 0.3f64);
        let pmf = |k: u32| {
            let choose: f64 = (0..k).map(|i| (n - i) as f64 / (i + 1) as f64).product();
            choose * p.powi(k as i32) * (1.0 - p).powi((n - k) as i32)
        };
        for m in [0, 1, 5, 6, 12, 20] {
            let direct: f64 = (m..=n).map(pmf).sum();
            assert!((binomial_tail(n, p, m) - direct).abs() < 1e-12, "m = {m}");
        }
        assert_eq!(binomial_tail(20, 0.3, 21), 0.0);
        // Deep tails stay positive and fall monotonically.
        let (a, b) = (binomial_tail(1024, 0.01, 60), binomial_tail(1024, 0.01, 120));
        assert!(a > b && b > 0.0 && a < 1e-15, "{a} {b}");
    }

    #[test]
    fn collision_probability_follows_the_table_and_rises_with_cosine() {
        for (i, &p) in COLLISION_TABLE.iter().enumerate().take(20) {
            assert!((collision_probability(i as f64 * 0.05) - p as f64).abs() < 1e-9);
        }
        let mut last = 0.0;
        for k in 0..=100 {
            let p = collision_probability(k as f64 / 100.0);
            assert!(p >= last);
            last = p;
        }
        assert_eq!(collision_probability(-0.3), COLLISION_TABLE[0] as f64);
    }

    #[test]
    fn the_threshold_for_an_fpir_is_the_smallest_m_that_meets_it() {
        let impostors = ScoreHistogram::from_scores((0..10_000).map(|i| (i % 100) as f32 / 250.0 - 0.1));
        let m = threshold_for_fpir(&impostors, 1024, 1000, 1.0 / 6000.0).unwrap();
        assert!(fpir(impostors.rate_at(1024, m), 1000) <= 1.0 / 6000.0);
        assert!(fpir(impostors.rate_at(1024, m - 1), 1000) > 1.0 / 6000.0);
        assert!((fpir(1e-4, 10_000) - (1.0 - (1.0f64 - 1e-4).powi(10_000))).abs() < 1e-12);
        assert!((fpir(fmr_for_fpir(1.0 / 6000.0, 10_000), 10_000) - 1.0 / 6000.0).abs() < 1e-15);
    }
}
