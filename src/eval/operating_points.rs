//! Operating points per passer-by (DESIGN §7), measured the way NPL measured live facial
//! recognition: a watchlist of templates, mated probes of the watchlisted people, and a large,
//! demographically labelled set of "filler" strangers who are on no watchlist.
//!
//! - Templates: the mean of up to [`TEMPLATE_PHOTOS`] photos of each identity that has a photo
//!   left over for probing.
//! - Probes (only photos that pass the kiosk's quality gates), two protocols: `single` (each remaining photo on its own) and `track` (the mean of up
//!   to [`TRACK_PHOTOS`] remaining photos, as a track fuses frames).
//! - False alerts: the threshold m for a target FPIR is the smallest that meets it for N
//!   templates with the evaluated watchlist's mix of recipes (most people have one or two photos
//!   to enrol from) by the calibration per recipe and stranger population
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

use super::embedding_cache::StillFace;
use super::metrics::threshold_at;
use super::recipes::{calibration_half, NotImpostors, Person};
use crate::calibration::model::{
    binomial_tail, collision_probability, fmr_for_fpir, fpir, poisson_interval, smallest_m, BinTails, CalibrationData,
    RecipeCalibration, ScoreHistogram,
};
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
    /// Photos averaged into the template (its enrolment recipe).
    pub photos: usize,
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
                photos: enrol.len(),
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
    /// Photos averaged into each watchlisted template, in order: the mix of enrolment recipes
    /// whose thresholds the points use (repeated to N entries).
    pub template_photos: Vec<usize>,
    pub points: Vec<OperatingPoint>,
    pub no_significant_differential: Differential,
    /// What the kiosk and the issuer tool read (shipped as data, DESIGN §7).
    pub calibration: CalibrationData,
    /// The levers, each at FPIR 1/6000 with 10 000 entries ([`measure_levers`]).
    pub levers: Vec<Lever>,
}

/// Measures every operating point. `groups` labels the watchlisted identities (LFW gender). The
/// threshold for each target is the one `enroll` would choose for N templates made as these were
/// (their mix of enrolment recipes, repeated to N): from `recipes`, the calibration per enrolment
/// recipe and stranger population (the most pessimistic population), not from these fillers alone.
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
            // A watchlist of `entries` templates made as these were: the same mix of recipes.
            let recipes: Vec<usize> = watchlist.iter().map(|w| w.photos).cycle().take(entries as usize).collect();
            let m = honest.threshold_for_recipes(&recipes, tables, target);
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
                    // The mean per-comparison rate of the mix: the one that gives its FPIR.
                    fmr_per_comparison: m
                        .and_then(|m| honest.estimate(&recipes, tables, m))
                        .map(|e| fmr_for_fpir(e.per_1000 / 1000.0, entries)),
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
        template_photos: watchlist.iter().map(|w| w.photos).collect(),
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

/// One lever of DESIGN §7 / issue 17, measured at FPIR 1/6000 with 10 000 entries on the same
/// watchlisted people as the operating points ([`watchlist_of`]), at an honest threshold: its own m,
/// fitted on impostor pairs of its own templates against the more pessimistic of the two stranger
/// populations (LFW strangers, fillers) on the calibration half of the people, and its FPIR
/// measured on the other half.
#[derive(Debug, Clone, Serialize)]
pub struct Lever {
    pub lever: String,
    /// How each template is built, in words.
    pub template: String,
    /// Photos considered for each template, photos fused into each track probe (at most: as many
    /// as the person has).
    pub template_photos: usize,
    pub track_photos: usize,
    /// The threshold (for per-entry thresholds: the mean of the entries' thresholds).
    pub m: f64,
    /// The FPIR the setting gives on the held-out half of the strangers (the more pessimistic
    /// population), and on the half its threshold was fitted on.
    pub fpir: f64,
    pub fpir_fitted: f64,
    pub tpir_blind: f64,
    pub tpir_blind_ci95: [f64; 2],
    /// What it costs the kiosk per face, in words (the milliseconds come from `veilwatch bench`).
    pub kiosk_cost: &'static str,
}

/// What the levers that need the photos again use, per face: the mirrored crop's embedding and the
/// face's quality ([`crate::eval::protocol`] computes them).
pub struct FaceExtras {
    pub mirrored: Embedding,
    pub quality: crate::pipeline::quality::Quality,
}

/// A stricter probe gate than the kiosk's ([`crate::pipeline::quality::QualityGates`]): twice the
/// face size and the sharpness, half the head turn.
pub const STRICT_GATES: crate::pipeline::quality::QualityGates = crate::pipeline::quality::QualityGates {
    min_face_px: 80.0,
    max_yaw_deg: 20.0,
    max_pitch_deg: 17.5,
    min_sharpness: 40.0,
};

fn strict_pass(q: &crate::pipeline::quality::Quality) -> bool {
    q.face_px >= STRICT_GATES.min_face_px
        && q.yaw_deg.abs() <= STRICT_GATES.max_yaw_deg
        && q.pitch_deg.abs() <= STRICT_GATES.max_pitch_deg
        && q.sharpness >= STRICT_GATES.min_sharpness
}

/// The photos a person with `p.faces` is enrolled from: the first, up to [`TEMPLATE_PHOTOS`],
/// one left over at least (as [`watchlist_of`] splits them).
fn enrolled(p: &Person) -> usize {
    TEMPLATE_PHOTOS.min(p.faces.len().saturating_sub(1))
}

/// How a lever builds a template from the photos a person is enrolled from (the first
/// [`TEMPLATE_PHOTOS`], or all but one if fewer: as [`watchlist_of`] splits them).
#[derive(Debug, Clone, Copy)]
pub enum TemplateRecipe {
    /// The mean of the first k photos showing a face (what `enroll` does).
    Mean(usize),
    /// The mean of those that pass the kiosk's quality gates (all of them if none does): a
    /// quality-weighted mean with weights 0 and 1.
    GatePassing,
    /// The mean of the five with the one least like the other four left out.
    DropOutlier,
}

impl TemplateRecipe {
    pub fn build(self, enrol: &[StillFace]) -> Option<Embedding> {
        match self {
            TemplateRecipe::Mean(k) => Embedding::mean(enrol.iter().take(k).map(|f| &f.embedding)),
            TemplateRecipe::GatePassing => {
                let passing: Vec<&Embedding> = enrol.iter().filter(|f| f.passed_gates).map(|f| &f.embedding).collect();
                if passing.is_empty() {
                    Embedding::mean(enrol.iter().map(|f| &f.embedding))
                } else {
                    Embedding::mean(passing)
                }
            }
            TemplateRecipe::DropOutlier if enrol.len() < 3 => Embedding::mean(enrol.iter().map(|f| &f.embedding)),
            TemplateRecipe::DropOutlier => {
                let likeness = |i: usize| {
                    let others =
                        Embedding::mean(enrol.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, f)| &f.embedding));
                    others.map_or(f32::MIN, |o| o.cosine(&enrol[i].embedding))
                };
                let outlier = (0..enrol.len()).min_by(|&a, &b| likeness(a).total_cmp(&likeness(b)))?;
                Embedding::mean(enrol.iter().enumerate().filter(|(j, _)| *j != outlier).map(|(_, f)| &f.embedding))
            }
        }
    }

    fn describe(self) -> String {
        match self {
            TemplateRecipe::Mean(1) => "1 photo".into(),
            TemplateRecipe::Mean(k) => format!("mean of up to {k} photos"),
            TemplateRecipe::GatePassing => "mean of those (of up to 5) that pass the gates".into(),
            TemplateRecipe::DropOutlier => "mean of up to 5, the least alike left out (of 3 or more)".into(),
        }
    }
}

/// Stranger probes for the levers: single gate-passing photos, by population, each with the
/// person it shows and whether that person is in the calibration half.
struct LeverStrangers<'a> {
    /// (stranger's name, fitted half?, probe) of LFW people.
    lfw: Vec<(&'a str, bool, &'a Embedding)>,
    /// (fitted half?, probe) of the fillers.
    fillers: Vec<(bool, &'a Embedding)>,
}

/// Impostor histograms of a set of templates: [population][fitted half, held-out half].
type HalfHistograms = [[ScoreHistogram; 2]; 2];

impl LeverStrangers<'_> {
    fn impostors(&self, templates: &[(&str, Embedding)], not_impostors: &NotImpostors) -> HalfHistograms {
        let half = |fitted: bool| usize::from(!fitted);
        let lfw = self
            .lfw
            .par_iter()
            .fold(
                || [ScoreHistogram::default(), ScoreHistogram::default()],
                |mut h, &(stranger, fitted, probe)| {
                    for (name, template) in templates {
                        if *name != stranger && !not_impostors.contains(&(stranger.to_owned(), name.to_string())) {
                            h[half(fitted)].add(probe.cosine(template));
                        }
                    }
                    h
                },
            )
            .reduce(|| [ScoreHistogram::default(), ScoreHistogram::default()], merge_halves);
        let fillers = self
            .fillers
            .par_iter()
            .fold(
                || [ScoreHistogram::default(), ScoreHistogram::default()],
                |mut h, &(fitted, probe)| {
                    for (_, template) in templates {
                        h[half(fitted)].add(probe.cosine(template));
                    }
                    h
                },
            )
            .reduce(|| [ScoreHistogram::default(), ScoreHistogram::default()], merge_halves);
        [lfw, fillers]
    }
}

fn merge_halves(mut a: [ScoreHistogram; 2], b: [ScoreHistogram; 2]) -> [ScoreHistogram; 2] {
    for (x, y) in a.iter_mut().zip(&b) {
        for (c, d) in x.counts.iter_mut().zip(&y.counts) {
            *c += d;
        }
    }
    a
}

/// The more pessimistic population's rate at m on one half (0: fitted, 1: held out).
fn worse_rate(histograms: &HalfHistograms, half: usize, tables: u16, m: u16) -> f64 {
    histograms.iter().map(|population| population[half].rate_at(tables, m)).fold(0.0, f64::max)
}

/// Measures the levers at an honest FPIR (issue 17, item 6): more or fewer enrolment photos (their
/// FPIR cost shows as their own threshold), templates from the photos that pass the quality gates,
/// templates with their least typical photo left out, more or fewer frames per track, and
/// per-entry thresholds set against a cohort of strangers. Each template setting gets its own m,
/// fitted on its own impostor pairs from the calibration half of both stranger populations (the
/// more pessimistic one), as `enroll`'s recipe calibration is; its FPIR is then measured on the
/// held-out half.
pub fn measure_levers(
    people: &[Person],
    extras: &[Vec<FaceExtras>],
    filler_people: &[Person],
    not_impostors: &NotImpostors,
    tables: u16,
) -> Vec<Lever> {
    let (target, entries) = (1.0 / 6000.0, 10_000u64);
    // The watchlisted people of the operating points: enrolled from their first photos (up to 5,
    // one left over at least), probed with the gate-passing photos after those.
    let rich: Vec<(&Person, &[StillFace], Vec<&Embedding>)> = people
        .iter()
        .filter(|p| p.faces.len() >= 2)
        .map(|p| {
            let (enrol, rest) = p.faces.split_at(enrolled(p));
            (p, enrol, rest.iter().filter(|f| f.passed_gates).map(|f| &f.embedding).collect())
        })
        .filter(|(_, _, probes): &(&Person, &[StillFace], Vec<&Embedding>)| !probes.is_empty())
        .collect();
    let extras_of: std::collections::HashMap<&str, &Vec<FaceExtras>> = people
        .iter()
        .zip(extras)
        .filter(|(p, e)| e.len() == p.faces.len())
        .map(|(p, e)| (p.name.as_str(), e))
        .collect();
    let identities: Vec<usize> = (0..rich.len()).collect();
    let strangers = LeverStrangers {
        lfw: people
            .iter()
            .flat_map(|p| p.probes().map(move |probe| (p.name.as_str(), calibration_half(&p.name), probe)))
            .collect(),
        fillers: filler_people
            .iter()
            .flat_map(|p| p.probes().take(1).map(move |probe| (calibration_half(&p.name), probe)))
            .collect(),
    };
    let templates_of = |recipe: TemplateRecipe| -> Option<Vec<(&str, Embedding)>> {
        rich.iter().map(|(p, enrol, _)| Some((p.name.as_str(), recipe.build(enrol)?))).collect()
    };
    let track_probes = |j: usize| -> Option<Vec<Embedding>> {
        rich.iter().map(|(_, _, probes)| Embedding::mean(probes[..j.min(probes.len())].iter().copied())).collect()
    };
    let tpir_with = |probes: &[Embedding], templates: &[(&str, Embedding)], m_of: &dyn Fn(usize) -> u16| {
        let hits: Vec<f64> = (0..probes.len())
            .map(|i| {
                let cosine = probes[i].cosine(&templates[i].1) as f64;
                binomial_tail(tables as u32, collision_probability(cosine), m_of(i) as u32)
            })
            .collect();
        let mean = |sample: &[usize]| sample.iter().map(|&i| hits[i]).sum::<f64>() / sample.len().max(1) as f64;
        (mean(&identities), bootstrap(&identities, 11, mean))
    };

    let mut levers = Vec::new();
    let settings = [
        ("baseline (what enroll and the kiosk do)", TemplateRecipe::Mean(TEMPLATE_PHOTOS), TRACK_PHOTOS, "none"),
        ("enrolment photos", TemplateRecipe::Mean(1), TRACK_PHOTOS, "none (issuer side)"),
        ("enrolment photos", TemplateRecipe::Mean(3), TRACK_PHOTOS, "none (issuer side)"),
        ("template: quality-gated photos", TemplateRecipe::GatePassing, TRACK_PHOTOS, "none (issuer side)"),
        ("template: least alike left out", TemplateRecipe::DropOutlier, TRACK_PHOTOS, "none (issuer side)"),
        ("frames per track", TemplateRecipe::Mean(TEMPLATE_PHOTOS), 1, "none"),
        ("frames per track", TemplateRecipe::Mean(TEMPLATE_PHOTOS), 2, "none"),
        (
            "frames per track",
            TemplateRecipe::Mean(TEMPLATE_PHOTOS),
            4,
            "none: the person stays in view for more good frames",
        ),
    ];
    let mut impostors_of: Vec<(String, HalfHistograms)> = Vec::new();
    for (lever, recipe, j, kiosk_cost) in settings {
        let (Some(templates), Some(probes)) = (templates_of(recipe), track_probes(j)) else { continue };
        let key = recipe.describe();
        if !impostors_of.iter().any(|(k, _)| *k == key) {
            impostors_of.push((key.clone(), strangers.impostors(&templates, not_impostors)));
        }
        let histograms = &impostors_of.iter().find(|(k, _)| *k == key).expect("just added").1;
        let Some(m) = smallest_m(tables, |m| fpir(worse_rate(histograms, 0, tables, m), entries) <= target) else {
            continue;
        };
        let (tpir_blind, tpir_blind_ci95) = tpir_with(&probes, &templates, &|_| m);
        levers.push(Lever {
            lever: lever.into(),
            template: key,
            template_photos: match recipe {
                TemplateRecipe::Mean(k) => k,
                _ => TEMPLATE_PHOTOS,
            },
            track_photos: j,
            m: m as f64,
            fpir: fpir(worse_rate(histograms, 1, tables, m), entries),
            fpir_fitted: fpir(worse_rate(histograms, 0, tables, m), entries),
            tpir_blind,
            tpir_blind_ci95,
            kiosk_cost,
        });
    }

    // Flipped-crop templates at enrolment only: each enrolment photo's embedding is the mean of the
    // crop's and its mirror image's (as `Engine::flip_augmentation` makes it); probes unchanged, so
    // the kiosk pays nothing.
    let flipped: Option<Vec<(&str, Embedding)>> = rich
        .iter()
        .map(|(p, enrol, _)| {
            let extra = extras_of.get(p.name.as_str())?;
            let photos: Vec<Embedding> = enrol
                .iter()
                .zip(extra.iter())
                .map(|(f, x)| Embedding::mean([&f.embedding, &x.mirrored]))
                .collect::<Option<_>>()?;
            Some((p.name.as_str(), Embedding::mean(&photos)?))
        })
        .collect();
    if let (Some(templates), Some(probes)) = (flipped, track_probes(TRACK_PHOTOS)) {
        let histograms = strangers.impostors(&templates, not_impostors);
        if let Some(m) = smallest_m(tables, |m| fpir(worse_rate(&histograms, 0, tables, m), entries) <= target) {
            let (tpir_blind, tpir_blind_ci95) = tpir_with(&probes, &templates, &|_| m);
            levers.push(Lever {
                lever: "flipped-crop templates, enrolment only".into(),
                template: "mean of up to 5, each photo with its mirror image".into(),
                template_photos: TEMPLATE_PHOTOS,
                track_photos: TRACK_PHOTOS,
                m: m as f64,
                fpir: fpir(worse_rate(&histograms, 1, tables, m), entries),
                fpir_fitted: fpir(worse_rate(&histograms, 0, tables, m), entries),
                tpir_blind,
                tpir_blind_ci95,
                kiosk_cost: "none (a second recogniser run per enrolment photo, issuer side)",
            });
        }
    }

    // Stricter probe quality: the kiosk matches only faces that pass [`STRICT_GATES`] (LFW
    // strangers' probes too; the fillers stay as they are, the more pessimistic choice). Its TPIR
    // is over the people who have such a probe; `lever` names how many and their baseline TPIR.
    let strict_probes: Vec<Option<Embedding>> = rich
        .iter()
        .map(|(p, enrol, _)| {
            let extra = extras_of.get(p.name.as_str())?;
            let strict: Vec<&Embedding> = p.faces[enrol.len()..]
                .iter()
                .zip(&extra[enrol.len()..])
                .filter(|(f, x)| f.passed_gates && strict_pass(&x.quality))
                .map(|(f, _)| &f.embedding)
                .take(TRACK_PHOTOS)
                .collect();
            Embedding::mean(strict)
        })
        .collect();
    let with_strict: Vec<usize> = (0..rich.len()).filter(|&i| strict_probes[i].is_some()).collect();
    if let (Some(templates), false) = (templates_of(TemplateRecipe::Mean(TEMPLATE_PHOTOS)), with_strict.is_empty()) {
        let strict_strangers = LeverStrangers {
            lfw: people
                .iter()
                .filter_map(|p| Some((p, extras_of.get(p.name.as_str())?)))
                .flat_map(|(p, extra)| {
                    p.faces
                        .iter()
                        .zip(extra.iter())
                        .filter(|(f, x)| f.passed_gates && strict_pass(&x.quality))
                        .map(move |(f, _)| (p.name.as_str(), calibration_half(&p.name), &f.embedding))
                })
                .collect(),
            fillers: strangers.fillers.clone(),
        };
        let histograms = strict_strangers.impostors(&templates, not_impostors);
        let baseline = impostors_of.first().map(|(_, h)| h);
        let m_of = |h: &HalfHistograms| smallest_m(tables, |m| fpir(worse_rate(h, 0, tables, m), entries) <= target);
        if let (Some(m), Some(base_m)) = (m_of(&histograms), baseline.and_then(m_of)) {
            let tpir_over = |m: u16, probe_of: &dyn Fn(usize) -> Embedding| {
                let hits: Vec<f64> = with_strict
                    .iter()
                    .map(|&i| {
                        let cosine = probe_of(i).cosine(&templates[i].1) as f64;
                        binomial_tail(tables as u32, collision_probability(cosine), m as u32)
                    })
                    .collect();
                let units: Vec<usize> = (0..hits.len()).collect();
                let mean = |sample: &[usize]| sample.iter().map(|&k| hits[k]).sum::<f64>() / sample.len().max(1) as f64;
                (mean(&units), bootstrap(&units, 13, mean))
            };
            let gated = track_probes(TRACK_PHOTOS).unwrap_or_default();
            let (tpir_blind, tpir_blind_ci95) =
                tpir_over(m, &|i| strict_probes[i].clone().expect("people with a strict probe"));
            let (base_tpir, _) = tpir_over(base_m, &|i| gated[i].clone());
            levers.push(Lever {
                lever: format!(
                    "stricter probe quality ({} of {} people have such a probe; their baseline TPIR {base_tpir:.3})",
                    with_strict.len(),
                    rich.len()
                ),
                template: TemplateRecipe::Mean(TEMPLATE_PHOTOS).describe(),
                template_photos: TEMPLATE_PHOTOS,
                track_photos: TRACK_PHOTOS,
                m: m as f64,
                fpir: fpir(worse_rate(&histograms, 1, tables, m), entries),
                fpir_fitted: fpir(worse_rate(&histograms, 0, tables, m), entries),
                tpir_blind,
                tpir_blind_ci95,
                kiosk_cost: "none per face; a passer-by waits for a better frame, or is never matched",
            });
        }
    }

    // Per-entry thresholds: each entry's m_i is the smallest whose false-match rate against the
    // cohort (the calibration half of both populations, the worse one) meets the per-comparison
    // rate the target allows; their FPIR is 1 − Π(1 − FMR_i) on the held-out half.
    if let (Some(templates), Some(probes)) =
        (templates_of(TemplateRecipe::Mean(TEMPLATE_PHOTOS)), track_probes(TRACK_PHOTOS))
    {
        let allowed = fmr_for_fpir(target, entries);
        let per_entry: Vec<HalfHistograms> =
            templates.iter().map(|t| strangers.impostors(std::slice::from_ref(t), not_impostors)).collect();
        let m_i: Vec<u16> = per_entry
            .par_iter()
            .map(|h| smallest_m(tables, |m| worse_rate(h, 0, tables, m) <= allowed).unwrap_or(tables))
            .collect();
        let fpir_of = |half: usize| {
            let log_pass: f64 =
                per_entry.iter().zip(&m_i).map(|(h, &m)| (-worse_rate(h, half, tables, m)).ln_1p()).sum();
            // The 10 000 entries are these templates' rates repeated.
            -f64::exp_m1(log_pass * entries as f64 / templates.len() as f64)
        };
        let (tpir_blind, tpir_blind_ci95) = tpir_with(&probes, &templates, &|i| m_i[i]);
        levers.push(Lever {
            lever: "per-entry thresholds".into(),
            template: TemplateRecipe::Mean(TEMPLATE_PHOTOS).describe(),
            template_photos: TEMPLATE_PHOTOS,
            track_photos: TRACK_PHOTOS,
            m: m_i.iter().map(|&m| m as f64).sum::<f64>() / m_i.len().max(1) as f64,
            fpir: fpir_of(1),
            fpir_fitted: fpir_of(0),
            tpir_blind,
            tpir_blind_ci95,
            kiosk_cost: "none (thresholds are set at enrolment; the file stores m_i per entry)",
        });
    }
    levers
}
