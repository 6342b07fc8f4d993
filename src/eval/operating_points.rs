//! Operating points per passer-by (DESIGN §7), measured the way NPL measured live facial
//! recognition: a watchlist of templates, mated probes of the watchlisted people, and a large,
//! demographically labelled set of "filler" strangers who are on no watchlist.
//!
//! - Templates: the mean of up to [`TEMPLATE_PHOTOS`] photos of each identity that has a photo
//!   left over for probing.
//! - Probes (only photos that pass the kiosk's quality gates), two protocols: `single` (each remaining photo on its own) and `track` (the mean of up
//!   to [`TRACK_PHOTOS`] remaining photos, as a track fuses frames).
//! - False alerts: the threshold m for a target FPIR is the smallest that meets it for N
//!   templates of [`TEMPLATE_PHOTOS`] photos by the calibration per recipe and stranger population
//!   ([`super::recipes`], the most pessimistic population), FPIR = 1 − (1 − FMR)^N; every filler
//!   against every template gives the per-group rates at that m; the plain-cosine threshold is counted directly (and is `None` where the
//!   target is below what the pairs can measure).
//! - True alerts: TPIR = the share of mated probes whose collisions reach m (blind, expected over
//!   the LSH family: P[Binom(L, p(cos)) ≥ m]) or whose cosine exceeds the cosine threshold.
//! - Intervals: 95% bootstrap intervals, resampling identities (probes) or fillers (groups).

use std::collections::BTreeMap;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::calibration::{
    binomial_tail, collision_probability, fmr_for_fpir, fpir, poisson_interval, threshold_for_fpir, BinTails,
    CalibrationData, RecipeCalibration, ScoreHistogram,
};
use super::embedding_cache::StillFace;
use super::metrics::threshold_at;
use crate::template::Embedding;

/// Photos averaged into a template, at most.
pub const TEMPLATE_PHOTOS: usize = 5;
/// Photos fused into a `track` probe, at most.
pub const TRACK_PHOTOS: usize = 3;
/// The FPIR targets and watchlist sizes every report covers.
pub const FPIR_TARGETS: [(&str, f64); 3] = [("1/1000", 1e-3), ("1/6000", 1.0 / 6000.0), ("1/60000", 1.0 / 60000.0)];
pub const WATCHLIST_SIZES: [u64; 2] = [1_000, 10_000];
/// Groups with fewer strangers than this are reported but left out of the max/min ratio.
pub const MIN_GROUP_STRANGERS: usize = 300;
const BOOTSTRAP: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Single,
    Track,
}

/// One watchlisted identity: its template, its group (if labelled), its mated probes by protocol.
pub struct Watchlisted {
    pub template: Embedding,
    pub group: Option<String>,
    pub single: Vec<Embedding>,
    pub track: Embedding,
}

/// A labelled stranger.
pub struct Filler {
    pub group: String,
    pub embedding: Embedding,
}

/// Splits each identity's photos (in file order) into a template (every photo showing a face
/// counts, as in `enroll`) and probes (only those passing the kiosk's quality gates, as a kiosk
/// matches); identities left without a probe are left out.
pub fn watchlist_of(identities: Vec<(Option<String>, Vec<StillFace>)>) -> Vec<Watchlisted> {
    identities
        .into_iter()
        .filter(|(_, photos)| photos.len() >= 2)
        .filter_map(|(group, photos)| {
            let enrolled = TEMPLATE_PHOTOS.min(photos.len() - 1);
            let (enrol, probe) = photos.split_at(enrolled);
            let probe: Vec<Embedding> = probe.iter().filter(|f| f.passed_gates).map(|f| f.embedding.clone()).collect();
            Some(Watchlisted {
                template: Embedding::mean(enrol.iter().map(|f| &f.embedding))?,
                group,
                track: Embedding::mean(&probe[..TRACK_PHOTOS.min(probe.len())])?,
                single: probe,
            })
        })
        .collect()
}

/// Per-comparison rates of one kind of pair, kept per stranger so they can be resampled.
struct PerUnit {
    /// One histogram of cosines per unit (a filler, or an identity's probes), against the templates.
    histograms: Vec<ScoreHistogram>,
}

impl PerUnit {
    /// Each unit's expected false matches and comparisons at the threshold whose tails are given.
    fn hits(&self, tails: &BinTails) -> Vec<(f64, f64)> {
        self.histograms.par_iter().map(|h| tails.hits(h)).collect()
    }

    fn merged(&self, members: impl Iterator<Item = usize>) -> ScoreHistogram {
        let mut out = ScoreHistogram::default();
        for i in members {
            for (o, c) in out.counts.iter_mut().zip(&self.histograms[i].counts) {
                *o += c;
            }
        }
        out
    }
}

/// The pooled rate of a sample of units (with repeats), from [`PerUnit::hits`].
fn pooled(hits: &[(f64, f64)], sample: &[usize]) -> f64 {
    let (h, n) = sample.iter().fold((0.0, 0.0), |(h, n), &i| (h + hits[i].0, n + hits[i].1));
    if n > 0.0 {
        h / n
    } else {
        0.0
    }
}

/// The 2.5% and 97.5% points of `values`.
fn interval(mut values: Vec<f64>) -> [f64; 2] {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    [at(0.025), at(0.975)]
}

/// The wider of the bootstrap interval (variation between people) and the Poisson interval
/// (the number of false matches the data could actually show) for a group's pooled rate.
fn group_interval(hits: &[(f64, f64)], units: &[usize], seed: u64) -> [f64; 2] {
    let boot = bootstrap(units, seed, |s| pooled(hits, s));
    let (events, trials) = units.iter().fold((0.0, 0.0), |(e, n), &i| (e + hits[i].0, n + hits[i].1));
    let poisson = poisson_interval(events, trials);
    [boot[0].min(poisson[0]), boot[1].max(poisson[1])]
}

/// A bootstrap interval of `statistic` over resamples (with replacement) of `units` indices.
fn bootstrap(units: &[usize], seed: u64, statistic: impl Fn(&[usize]) -> f64) -> [f64; 2] {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let values = (0..BOOTSTRAP)
        .map(|_| {
            let sample: Vec<usize> = (0..units.len()).map(|_| units[rng.next_u64() as usize % units.len()]).collect();
            statistic(&sample)
        })
        .collect();
    interval(values)
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupRate {
    pub group: String,
    /// `fillers` (strangers, race × gender) or `lfw` (watchlisted people's other photos as
    /// non-mated probes, by gender).
    pub source: &'static str,
    /// Strangers (fillers) or identities (LFW) in the group.
    pub people: usize,
    pub fpir: f64,
    pub fpir_ci95: [f64; 2],
}

#[derive(Debug, Clone, Serialize)]
pub struct GroupBreakdown {
    pub groups: Vec<GroupRate>,
    /// Highest over lowest FPIR among the filler groups with at least [`MIN_GROUP_STRANGERS`].
    pub max_min_ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OperatingPoint {
    pub fpir: String,
    pub watchlist_size: u64,
    pub protocol: Protocol,
    /// The collision threshold: the smallest m whose FPIR meets the target.
    pub m: Option<u16>,
    /// The plain-cosine threshold meeting the same target (`None` below what the pairs measure).
    pub cosine_threshold: Option<f64>,
    pub fmr_per_comparison: Option<f64>,
    pub tpir_blind: Option<f64>,
    pub tpir_cosine: Option<f64>,
    pub tpir_blind_ci95: Option<[f64; 2]>,
    pub by_group: Option<GroupBreakdown>,
}

/// The lowest m from which on no group's FPIR is significantly above another's (95% bootstrap
/// intervals that do not overlap), among filler groups with enough strangers: NPL's criterion.
#[derive(Debug, Clone, Serialize)]
pub struct Differential {
    pub lowest_m: Option<u16>,
    /// The cosine that m collisions of L imply.
    pub implied_cosine: Option<f32>,
    pub checked_m: [u16; 2],
}

#[derive(Debug, Clone, Serialize)]
pub struct OperatingPoints {
    pub tables: u16,
    pub templates: usize,
    pub fillers: usize,
    pub single_probes: usize,
    pub track_probes: usize,
    pub points: Vec<OperatingPoint>,
    pub no_significant_differential: Differential,
    /// What the kiosk and the issuer tool read (shipped as data, DESIGN §7).
    pub calibration: CalibrationData,
    /// The levers, each at FPIR 1/6000 with 10 000 entries ([`measure_levers`]).
    pub levers: Vec<Lever>,
}

/// Measures every operating point. `groups` labels the watchlisted identities (LFW gender). The
/// threshold for each target is the one `enroll` would choose for N templates of
/// [`TEMPLATE_PHOTOS`] photos: from `recipes`, the calibration per enrolment recipe and stranger
/// population (the most pessimistic population), not from these fillers alone.
pub fn measure(
    watchlist: &[Watchlisted],
    fillers: &[Filler],
    tables: u16,
    recipes: Vec<RecipeCalibration>,
) -> OperatingPoints {
    let honest = CalibrationData { recipes, ..CalibrationData::default() };
    let templates: Vec<&Embedding> = watchlist.iter().map(|w| &w.template).collect();
    let against_templates = |probe: &Embedding| {
        let mut h = ScoreHistogram::default();
        for t in &templates {
            h.add(probe.cosine(t));
        }
        h
    };
    // Strangers: one histogram each, and every cosine for the plain-cosine thresholds.
    let strangers = PerUnit { histograms: fillers.par_iter().map(|f| against_templates(&f.embedding)).collect() };
    let mut stranger_cosines: Vec<f32> =
        fillers.par_iter().flat_map_iter(|f| templates.iter().map(move |t| f.embedding.cosine(t))).collect();
    stranger_cosines.par_sort_unstable_by(|a, b| b.total_cmp(a));
    let all_strangers = strangers.merged(0..fillers.len());

    // LFW non-mated probes: each identity's single probes against the other identities' templates.
    let lfw_non_mated = PerUnit {
        histograms: watchlist
            .par_iter()
            .enumerate()
            .map(|(own, w)| {
                let mut h = ScoreHistogram::default();
                for probe in &w.single {
                    for (j, t) in templates.iter().enumerate() {
                        if j != own {
                            h.add(probe.cosine(t));
                        }
                    }
                }
                h
            })
            .collect(),
    };

    let genuine = |protocol: Protocol| -> Vec<Vec<f32>> {
        watchlist
            .iter()
            .map(|w| match protocol {
                Protocol::Single => w.single.iter().map(|p| p.cosine(&w.template)).collect(),
                Protocol::Track => vec![w.track.cosine(&w.template)],
            })
            .collect()
    };
    let genuine_single = genuine(Protocol::Single);
    let genuine_track = genuine(Protocol::Track);

    let filler_groups: BTreeMap<&str, Vec<usize>> =
        fillers.iter().enumerate().fold(BTreeMap::new(), |mut g, (i, f)| {
            g.entry(f.group.as_str()).or_default().push(i);
            g
        });
    let lfw_groups: BTreeMap<&str, Vec<usize>> = watchlist.iter().enumerate().fold(BTreeMap::new(), |mut g, (i, w)| {
        if let Some(group) = &w.group {
            g.entry(group.as_str()).or_default().push(i);
        }
        g
    });

    let by_group = |m: u16, entries: u64| -> GroupBreakdown {
        let tails = BinTails::new(tables, m);
        let mut groups = Vec::new();
        for (source, per_unit, members) in
            [("fillers", &strangers, &filler_groups), ("lfw", &lfw_non_mated, &lfw_groups)]
        {
            let hits = per_unit.hits(&tails);
            for (name, units) in members {
                let [low, high] = group_interval(&hits, units, m as u64);
                groups.push(GroupRate {
                    group: name.to_string(),
                    source,
                    people: units.len(),
                    fpir: fpir(pooled(&hits, units), entries),
                    fpir_ci95: [fpir(low, entries), fpir(high, entries)],
                });
            }
        }
        let eligible: Vec<f64> = groups
            .iter()
            .filter(|g| g.source == "fillers" && g.people >= MIN_GROUP_STRANGERS)
            .map(|g| g.fpir)
            .collect();
        let max_min_ratio = (eligible.len() >= 2).then(|| {
            let (lo, hi) = eligible.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            hi / lo
        });
        GroupBreakdown { groups, max_min_ratio }
    };

    let identities: Vec<usize> = (0..watchlist.len()).collect();
    let mut points = Vec::new();
    for &entries in &WATCHLIST_SIZES {
        for (label, target) in FPIR_TARGETS {
            let m = honest.threshold_for_recipes(&vec![TEMPLATE_PHOTOS; entries as usize], tables, target);
            // The per-comparison rate the target allows: 1 − (1 − target)^(1/N).
            let allowed = fmr_for_fpir(target, entries);
            let cosine_threshold = threshold_at(&stranger_cosines, allowed).map(f64::from);
            let tails = m.map(|m| BinTails::new(tables, m));
            let group_breakdown = m.map(|m| by_group(m, entries));
            for (protocol, cosines) in [(Protocol::Single, &genuine_single), (Protocol::Track, &genuine_track)] {
                // Each watchlisted person counts once: the mean over their probes, then over people.
                let per_person = |i: usize, hit: &dyn Fn(f32) -> f64| {
                    cosines[i].iter().map(|&c| hit(c)).sum::<f64>() / cosines[i].len().max(1) as f64
                };
                let tpir_blind_of = |sample: &[usize]| {
                    let tails = tails.as_ref().expect("m is set");
                    let hit = |c: f32| tails.at(c);
                    sample.iter().map(|&i| per_person(i, &hit)).sum::<f64>() / sample.len().max(1) as f64
                };
                let tpir_cosine = cosine_threshold.map(|t| {
                    let hit = |c: f32| f64::from(u8::from(c as f64 > t));
                    identities.iter().map(|&i| per_person(i, &hit)).sum::<f64>() / identities.len().max(1) as f64
                });
                points.push(OperatingPoint {
                    fpir: label.to_owned(),
                    watchlist_size: entries,
                    protocol,
                    m,
                    cosine_threshold,
                    fmr_per_comparison: m.and_then(|m| honest.recipe_rate(TEMPLATE_PHOTOS, tables, m)).map(|r| r.fmr),
                    tpir_blind: m.map(|_| tpir_blind_of(&identities)),
                    tpir_cosine,
                    tpir_blind_ci95: m.map(|m| bootstrap(&identities, 7 + m as u64, tpir_blind_of)),
                    by_group: group_breakdown.clone(),
                });
            }
        }
    }

    let no_significant_differential = differential(&strangers, &filler_groups, tables);
    let histogram_of = |cosines: &[Vec<f32>], members: &mut dyn Iterator<Item = usize>| {
        ScoreHistogram::from_scores(members.flat_map(|i| cosines[i].iter().copied()))
    };
    let calibration = CalibrationData {
        model_id: String::new(),
        templates: watchlist.len() as u64,
        strangers: all_strangers.clone(),
        genuine_track: histogram_of(&genuine_track, &mut (0..watchlist.len())),
        stranger_groups: filler_groups
            .iter()
            .map(|(name, units)| (name.to_string(), strangers.merged(units.iter().copied())))
            .collect(),
        genuine_track_groups: lfw_groups
            .iter()
            .map(|(name, units)| (name.to_string(), histogram_of(&genuine_track, &mut units.iter().copied())))
            .collect(),
        recipes: honest.recipes,
    };
    OperatingPoints {
        tables,
        templates: watchlist.len(),
        fillers: fillers.len(),
        single_probes: genuine_single.iter().map(Vec::len).sum(),
        track_probes: watchlist.len(),
        points,
        no_significant_differential,
        calibration,
        levers: Vec::new(),
    }
}

/// NPL's criterion over m from 20 (FMR ~1e-2 at L = 1024) up to L / 4.
fn differential(strangers: &PerUnit, groups: &BTreeMap<&str, Vec<usize>>, tables: u16) -> Differential {
    let from = 20.min(tables);
    let to = tables / 4;
    let eligible: Vec<&Vec<usize>> = groups.values().filter(|u| u.len() >= MIN_GROUP_STRANGERS).collect();
    let significant_at = |m: u16| {
        let hits = strangers.hits(&BinTails::new(tables, m));
        let intervals: Vec<[f64; 2]> = eligible.iter().map(|units| group_interval(&hits, units, m as u64)).collect();
        intervals.iter().any(|a| intervals.iter().any(|b| a[0] > b[1]))
    };
    // The lowest m above the highest m that still shows a significant differential.
    let last_significant = (from..=to).rev().step_by(2).find(|&m| significant_at(m));
    let lowest_m = match last_significant {
        None => Some(from),
        Some(m) if m + 2 <= to => Some(m + 1),
        Some(_) => None,
    };
    Differential {
        lowest_m,
        implied_cosine: lowest_m.map(|m| crate::blind::lsh::implied_cosine(m as f32 / tables as f32)),
        checked_m: [from, to],
    }
}

/// One lever of DESIGN §7 / the operating-point issue, measured at FPIR 1/6000 with 10 000
/// entries on the watchlisted people with enough photos for every variant.
#[derive(Debug, Clone, Serialize)]
pub struct Lever {
    pub lever: String,
    /// Photos averaged into each template, photos fused into each track probe.
    pub template_photos: usize,
    pub track_photos: usize,
    /// The threshold (for per-entry thresholds: the mean of the entries' thresholds).
    pub m: f64,
    /// The FPIR the setting actually gives (per-entry thresholds: on strangers not used to set them).
    pub fpir: f64,
    pub tpir_blind: f64,
    pub tpir_blind_ci95: [f64; 2],
    /// What it costs the kiosk per face, in words (the milliseconds come from `veilwatch bench`).
    pub kiosk_cost: &'static str,
}

/// Identities need this many photos: up to 5 for the template, 4 more for the probes.
pub const LEVER_PHOTOS: usize = 9;

/// Measures the levers that need no new embeddings: more enrolment photos, more frames per track,
/// and per-entry thresholds calibrated at enrolment against a cohort of strangers (half the
/// fillers; the other half measures the FPIR they give).
pub fn measure_levers(people: &[Vec<Embedding>], fillers: &[Filler], tables: u16) -> Vec<Lever> {
    let (target, entries) = (1.0 / 6000.0, 10_000u64);
    let rich: Vec<&Vec<Embedding>> = people.iter().filter(|p| p.len() >= LEVER_PHOTOS).collect();
    let identities: Vec<usize> = (0..rich.len()).collect();
    let setting = |k: usize, j: usize| -> Option<(Vec<Embedding>, Vec<Embedding>)> {
        let templates = rich.iter().map(|p| Embedding::mean(&p[..k])).collect::<Option<Vec<_>>>()?;
        let probes = rich
            .iter()
            .map(|p| Embedding::mean(&p[TEMPLATE_PHOTOS..TEMPLATE_PHOTOS + j]))
            .collect::<Option<Vec<_>>>()?;
        Some((templates, probes))
    };
    let tpir_with = |probes: &[Embedding], templates: &[Embedding], m_of: &dyn Fn(usize) -> u16| {
        let hit = |i: usize| {
            binomial_tail(tables as u32, collision_probability(probes[i].cosine(&templates[i]) as f64), m_of(i) as u32)
        };
        let hits: Vec<f64> = (0..probes.len()).map(hit).collect();
        let mean = |sample: &[usize]| sample.iter().map(|&i| hits[i]).sum::<f64>() / sample.len().max(1) as f64;
        (mean(&identities), bootstrap(&identities, 11, mean))
    };
    let strangers_of = |templates: &[Embedding], which: &dyn Fn(usize) -> bool| {
        ScoreHistogram::from_scores(
            fillers
                .iter()
                .enumerate()
                .filter(|(i, _)| which(*i))
                .flat_map(|(_, f)| templates.iter().map(|t| f.embedding.cosine(t))),
        )
    };

    let mut levers = Vec::new();
    for (lever, k, j, kiosk_cost) in [
        ("baseline", TEMPLATE_PHOTOS, TRACK_PHOTOS, "none"),
        ("enrolment photos", 1, TRACK_PHOTOS, "none (issuer side)"),
        ("enrolment photos", 3, TRACK_PHOTOS, "none (issuer side)"),
        ("frames per track", TEMPLATE_PHOTOS, 1, "none"),
        ("frames per track", TEMPLATE_PHOTOS, 2, "none"),
        ("frames per track", TEMPLATE_PHOTOS, 4, "none: the person stays in view for more good frames"),
    ] {
        let Some((templates, probes)) = setting(k, j) else { continue };
        let strangers = strangers_of(&templates, &|_| true);
        let Some(m) = threshold_for_fpir(&strangers, tables, entries, target) else { continue };
        let (tpir_blind, tpir_blind_ci95) = tpir_with(&probes, &templates, &|_| m);
        levers.push(Lever {
            lever: lever.into(),
            template_photos: k,
            track_photos: j,
            m: m as f64,
            fpir: fpir(strangers.rate_at(tables, m), entries),
            tpir_blind,
            tpir_blind_ci95,
            kiosk_cost,
        });
    }

    // Per-entry thresholds: each entry's m_i is the smallest whose false-match rate against the
    // cohort meets the per-comparison rate the target allows (Shamir allows m_i per entry).
    if let Some((templates, probes)) = setting(TEMPLATE_PHOTOS, TRACK_PHOTOS) {
        let allowed = fmr_for_fpir(target, entries);
        let m_i: Vec<u16> = templates
            .par_iter()
            .map(|t| {
                let cohort = strangers_of(std::slice::from_ref(t), &|i| i % 2 == 0);
                let (mut low, mut high) = (1u16, tables);
                while low < high {
                    let mid = low + (high - low) / 2;
                    if cohort.rate_at(tables, mid) <= allowed {
                        high = mid;
                    } else {
                        low = mid + 1;
                    }
                }
                low
            })
            .collect();
        let held_out: f64 = templates
            .iter()
            .zip(&m_i)
            .map(|(t, &m)| strangers_of(std::slice::from_ref(t), &|i| i % 2 == 1).rate_at(tables, m))
            .sum::<f64>()
            / templates.len() as f64;
        let (tpir_blind, tpir_blind_ci95) = tpir_with(&probes, &templates, &|i| m_i[i]);
        levers.push(Lever {
            lever: "per-entry thresholds".into(),
            template_photos: TEMPLATE_PHOTOS,
            track_photos: TRACK_PHOTOS,
            m: m_i.iter().map(|&m| m as f64).sum::<f64>() / m_i.len() as f64,
            fpir: fpir(held_out, entries),
            tpir_blind,
            tpir_blind_ci95,
            kiosk_cost: "none (thresholds are set at enrolment; the file stores m_i per entry)",
        });
    }
    levers
}
