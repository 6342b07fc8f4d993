//! Verification metrics: genuine and impostor score distributions, true-accept rate at fixed
//! false-match rates, ROC AUC, and the per-group breakdown that shows whether errors fall
//! unevenly on demographic groups.
//!
//! Conventions: a pair is accepted when its score is strictly above the threshold; the threshold
//! at FMR `f` is the `⌊f·n⌋+1`-th highest impostor score, so the measured FMR never exceeds `f`.
//! With `n` impostor pairs, FMRs below `1/n` cannot be measured and are reported as `null`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

/// The false-match rates every report covers, with the keys they are reported under.
pub const FMR_POINTS: [(&str, f64); 4] = [("1e-3", 1e-3), ("1e-4", 1e-4), ("1e-5", 1e-5), ("1e-6", 1e-6)];

/// Genuine and impostor scores over all pairs of samples.
pub struct PairScores {
    pub genuine: Vec<f32>,
    pub impostor: Vec<f32>,
}

/// Scores every pair `(i, j)` of samples with `score(i, j)`. Pairs of identities listed in
/// `not_impostors` (the same person under two names, known mislabels) are left out of the impostor
/// set, not counted as genuine.
pub fn score_pairs(
    identities: &[usize],
    score: impl Fn(usize, usize) -> f32,
    not_impostors: &HashSet<(usize, usize)>,
) -> PairScores {
    let mut genuine = Vec::new();
    let mut impostor = Vec::with_capacity(identities.len() * identities.len() / 2);
    for (i, &a) in identities.iter().enumerate() {
        for (j, &b) in identities.iter().enumerate().skip(i + 1) {
            if a == b {
                genuine.push(score(i, j));
            } else if !is_excluded(not_impostors, a, b) {
                impostor.push(score(i, j));
            }
        }
    }
    PairScores { genuine, impostor }
}

/// Equal codes between two code lists: the blind matcher's score.
pub fn collisions(a: &[u16], b: &[u16]) -> u16 {
    a.iter().zip(b).map(|(x, y)| u16::from(x == y)).sum()
}

fn is_excluded(set: &HashSet<(usize, usize)>, a: usize, b: usize) -> bool {
    !set.is_empty() && set.contains(&(a.min(b), a.max(b)))
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    pub identities: usize,
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    pub fmr: Option<f64>,
    pub fnmr: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScoreReport {
    pub tar_at_fmr: BTreeMap<String, Option<f64>>,
    pub threshold_at_fmr: BTreeMap<String, Option<f64>>,
    pub auc: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_group: Option<BTreeMap<String, GroupReport>>,
}

/// Threshold such that at most `fmr · n` impostor scores lie strictly above it.
pub fn threshold_at(impostor_desc: &[f32], fmr: f64) -> Option<f32> {
    let k = (fmr * impostor_desc.len() as f64).floor() as usize;
    if fmr * (impostor_desc.len() as f64) < 1.0 {
        return None;
    }
    impostor_desc.get(k).copied()
}

/// Fraction of `scores` strictly above `threshold`.
pub fn rate_above(scores: &[f32], threshold: f32) -> Option<f64> {
    if scores.is_empty() {
        return None;
    }
    Some(scores.iter().filter(|&&s| s > threshold).count() as f64 / scores.len() as f64)
}

/// Probability that a random genuine pair outscores a random impostor pair (ties count half).
pub fn auc(genuine: &[f32], impostor_asc: &[f32]) -> f64 {
    if genuine.is_empty() || impostor_asc.is_empty() {
        return f64::NAN;
    }
    let mut total = 0f64;
    for &g in genuine {
        let below = impostor_asc.partition_point(|&s| s < g);
        let not_above = impostor_asc.partition_point(|&s| s <= g);
        total += below as f64 + (not_above - below) as f64 / 2.0;
    }
    total / (genuine.len() as f64 * impostor_asc.len() as f64)
}

pub fn report(scores: &PairScores) -> ScoreReport {
    let mut impostor = scores.impostor.clone();
    impostor.sort_by(|a, b| a.total_cmp(b));
    let auc = auc(&scores.genuine, &impostor);
    impostor.reverse();
    let mut tar_at_fmr = BTreeMap::new();
    let mut threshold_at_fmr = BTreeMap::new();
    for (key, fmr) in FMR_POINTS {
        let threshold = threshold_at(&impostor, fmr);
        tar_at_fmr.insert(key.to_owned(), threshold.and_then(|t| rate_above(&scores.genuine, t)));
        threshold_at_fmr.insert(key.to_owned(), threshold.map(|t| t as f64));
    }
    ScoreReport { tar_at_fmr, threshold_at_fmr, auc, by_group: None }
}

/// FMR and FNMR per group at `threshold`: genuine pairs of the group's identities, and impostor
/// pairs where both identities belong to the group (the comparisons a watchlist of that group
/// would face). Identities without a group are left out.
pub fn by_group(
    identities: &[usize],
    score: impl Fn(usize, usize) -> f32,
    group_of: &HashMap<usize, String>,
    not_impostors: &HashSet<(usize, usize)>,
    threshold: f32,
) -> BTreeMap<String, GroupReport> {
    #[derive(Default)]
    struct Tally {
        identities: HashSet<usize>,
        genuine: usize,
        genuine_rejected: usize,
        impostor: usize,
        impostor_accepted: usize,
    }
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    for (i, &a) in identities.iter().enumerate() {
        let Some(group) = group_of.get(&a) else { continue };
        let tally = tallies.entry(group).or_default();
        tally.identities.insert(a);
        for (j, &b) in identities.iter().enumerate().skip(i + 1) {
            if group_of.get(&b) != Some(group) {
                continue;
            }
            let accepted = score(i, j) > threshold;
            if a == b {
                tally.genuine += 1;
                tally.genuine_rejected += usize::from(!accepted);
            } else if !is_excluded(not_impostors, a, b) {
                tally.impostor += 1;
                tally.impostor_accepted += usize::from(accepted);
            }
        }
    }
    let ratio = |num: usize, den: usize| (den > 0).then(|| num as f64 / den as f64);
    tallies
        .into_iter()
        .map(|(group, t)| {
            let report = GroupReport {
                identities: t.identities.len(),
                genuine_pairs: t.genuine,
                impostor_pairs: t.impostor,
                fmr: ratio(t.impostor_accepted, t.impostor),
                fnmr: ratio(t.genuine_rejected, t.genuine),
            };
            (group.to_owned(), report)
        })
        .collect()
}

/// The false-positive identification rates an identification report covers.
pub const FPIR_POINTS: [(&str, f64); 2] = [("1/1000", 1e-3), ("1/6000", 1.0 / 6000.0)];

#[derive(Debug, Clone, Serialize)]
pub struct IdentificationReport {
    pub gallery: usize,
    pub mated_searches: usize,
    pub non_mated_searches: usize,
    /// `null` where the FPIR is below 1 / non-mated searches and so cannot be measured.
    pub fnir_at_fpir: BTreeMap<String, Option<f64>>,
    pub threshold_at_fpir: BTreeMap<String, Option<f64>>,
}

/// Open-set 1:N identification. The gallery holds one sample per identity that has at least
/// two; the others of those identities are mated searches (a miss when the mate scores at or
/// below the threshold); samples of identities not in the gallery are non-mated searches, and so
/// is every mated probe searched against the gallery without its mate (a false positive when any
/// entry scores above the threshold).
pub fn identification(identities: &[usize], score: impl Fn(usize, usize) -> f32) -> IdentificationReport {
    let mut count: HashMap<usize, usize> = HashMap::new();
    for &id in identities {
        *count.entry(id).or_default() += 1;
    }
    let mut gallery: HashMap<usize, usize> = HashMap::new();
    for (i, &id) in identities.iter().enumerate() {
        if count[&id] >= 2 {
            gallery.entry(id).or_insert(i);
        }
    }
    let mut mated = Vec::new();
    let mut non_mated = Vec::new();
    for (i, &id) in identities.iter().enumerate() {
        if gallery.get(&id) == Some(&i) {
            continue;
        }
        let best_other = gallery.iter().filter(|&(&g, _)| g != id).map(|(_, &j)| score(i, j)).fold(f32::MIN, f32::max);
        non_mated.push(best_other);
        if let Some(&mate) = gallery.get(&id) {
            mated.push(score(i, mate));
        }
    }
    non_mated.sort_by(|a, b| b.total_cmp(a));
    let mut fnir_at_fpir = BTreeMap::new();
    let mut threshold_at_fpir = BTreeMap::new();
    for (key, fpir) in FPIR_POINTS {
        let threshold = threshold_at(&non_mated, fpir);
        fnir_at_fpir.insert(key.to_owned(), threshold.and_then(|t| rate_above(&mated, t)).map(|hit| 1.0 - hit));
        threshold_at_fpir.insert(key.to_owned(), threshold.map(f64::from));
    }
    IdentificationReport {
        gallery: gallery.len(),
        mated_searches: mated.len(),
        non_mated_searches: non_mated.len(),
        fnir_at_fpir,
        threshold_at_fpir,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_keeps_measured_fmr_at_or_below_target() {
        let impostor_desc: Vec<f32> = (0..1000).rev().map(|i| i as f32 / 1000.0).collect();
        let t = threshold_at(&impostor_desc, 1e-2).unwrap();
        assert!(rate_above(&impostor_desc, t).unwrap() <= 1e-2);
        assert_eq!(rate_above(&impostor_desc, t), Some(0.01));
        assert_eq!(threshold_at(&impostor_desc, 1e-4), None, "1e-4 is not measurable with 1000 pairs");
    }

    #[test]
    fn identification_finds_mates_and_counts_false_positives() {
        // Identities 0 and 1 have two samples each, 2 has one. Score = 1 for the same identity.
        let ids = [0, 0, 1, 1, 2];
        let score = |i: usize, j: usize| if ids[i] == ids[j] { 1.0 } else { 0.0 };
        let report = identification(&ids, score);
        assert_eq!((report.gallery, report.mated_searches, report.non_mated_searches), (2, 2, 3));
        assert_eq!(report.fnir_at_fpir["1/1000"], None, "3 non-mated searches cannot measure 1/1000");
    }

    #[test]
    fn collisions_count_equal_codes() {
        assert_eq!(collisions(&[1, 2, 3, 4], &[1, 0, 3, 0]), 2);
    }

    #[test]
    fn auc_counts_ties_as_half() {
        assert_eq!(auc(&[1.0], &[0.0, 0.5]), 1.0);
        assert_eq!(auc(&[0.5], &[0.5]), 0.5);
        assert_eq!(auc(&[0.0], &[0.5, 1.0]), 0.0);
    }
}
