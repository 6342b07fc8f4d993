//! The evaluation protocol behind `veilwatch eval` and `tests/accuracy.rs`: verification accuracy
//! on a folder in LFW layout.
//!
//! Every image is embedded (the face a still photo is about: nearest its centre), at most
//! `per_identity` images per identity (by file name), and every pair is scored twice: by cosine,
//! and by collision count over `tables` cross-polytope LSH tables (what the blind matcher counts).
//! Pairs of identities named in the label-noise CSV (one person under two names, mislabels) are
//! left out of the impostor set.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::dataset::{list_identities, read_pairs_csv, DatasetError, Identity};
use super::embedding_cache::{EmbeddingCache, StillFace};
use super::metrics::{self, IdentificationReport, ScoreReport};
use super::operating_points::{self, FaceExtras, Filler, OperatingPoints};
use super::recipes::{self, NotImpostors, Person};
use crate::blind::lsh::CrossPolytope;
use crate::calibration::model::ScoreHistogram;
use crate::pipeline::{Engine, Frame};
use crate::template::{Embedding, EMBEDDING_DIM};

/// The rotation seed of the evaluation's LSH family: fixed, so that reports are reproducible.
const EVAL_SEED: [u8; 32] = *b"veilwatch/eval/rotation-seed/v1\0";

/// What to evaluate, and how.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Folder with one sub-folder per identity holding its JPEG/PNG images.
    pub dataset: PathBuf,
    /// CSV `identity,group` for the per-group breakdown.
    pub groups: Option<PathBuf>,
    /// CSV whose first two columns name identity pairs that are not true impostors.
    pub label_noise: Option<PathBuf>,
    /// Images used per identity, the first ones by file name.
    pub per_identity: usize,
    /// LSH tables L for the blind (collision-count) scores.
    pub tables: u16,
    /// Strangers on no watchlist (one photo per folder) and their `identity,group` labels: with
    /// them the report adds the operating points per passer-by (DESIGN §7) and the calibration
    /// per enrolment recipe ([`super::recipes`]).
    pub fillers: Option<Fillers>,
    /// A file of embeddings computed before ([`EmbeddingCache`]): read, and written back with what
    /// this run adds. Keep it in a cache folder outside the clone, never in the repository.
    pub embedding_cache: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Fillers {
    pub dataset: PathBuf,
    pub groups: PathBuf,
    /// CSV `filler,lfw_identity,…` of fillers who are people of the LFW set (UTKFace was collected
    /// from the web and has celebrities in it): left out, since they are no strangers to the
    /// watchlist. The repository's reviewed list is `labels/utkface_same_person_as_lfw.csv`.
    pub same_person: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{path}: {source}")]
    Image { path: PathBuf, source: crate::pipeline::Error },
    #[error("too few impostor pairs to set a threshold at FMR 1e-4 for the per-group breakdown")]
    TooFewImpostors,
}

#[derive(Debug, Serialize)]
pub struct EvalReport {
    pub dataset: String,
    pub images: usize,
    pub identities: usize,
    pub detection_failures: usize,
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    pub excluded_identity_pairs: usize,
    pub cosine: ScoreReport,
    /// Collision counts over `tables` cross-polytope tables; thresholds are the count m
    /// (a pair matches when at least m tables collide).
    pub blind: BlindReport,
    pub identification: IdentificationSection,
    /// The calibration model (DESIGN §7) against direct counts on this data.
    pub calibration: CalibrationCheck,
    /// Per passer-by, with fillers (DESIGN §7): templates from up to 5 photos, probes from others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operating_points: Option<OperatingPoints>,
    /// Sealed custody's scores (DESIGN §3.4; with the feature `sealed`): the quantised
    /// similarity ⟨q, T⟩/S² the authority compares under encryption.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealed: Option<SealedSection>,
}

/// Sealed custody's column: the similarity of quantised templates (components in [−63, 63],
/// S = 128). The scheme computes it exactly — BFV arithmetic modulo t has no rounding and the
/// masked score never wraps (`sealed::params`; `tests/sealed.rs` decrypts every slot of a real
/// answer to it) — so these are the TAR and FNIR that sealed custody's answers reach; thresholds
/// are cosines.
#[derive(Debug, Serialize)]
pub struct SealedSection {
    #[serde(flatten)]
    pub scores: ScoreReport,
    /// TAR at each FMR minus float cosine's, in percentage points (negative: quantising costs).
    pub tar_change_pp: BTreeMap<String, Option<f64>>,
    pub identification: IdentificationReport,
}

/// The calibration model's FMR next to the directly counted one, at every m where at least one
/// impostor pair reaches m collisions; and the cosine histograms the model was computed from.
#[derive(Debug, Serialize)]
pub struct CalibrationCheck {
    pub tables: u16,
    pub points: Vec<CalibrationPoint>,
    pub impostor_cosines: ScoreHistogram,
    pub genuine_cosines: ScoreHistogram,
}

#[derive(Debug, Serialize)]
pub struct CalibrationPoint {
    pub m: u16,
    /// Impostor pairs with at least m collisions.
    pub pairs: usize,
    pub fmr_direct: f64,
    pub fmr_model: f64,
}

#[derive(Debug, Serialize)]
pub struct BlindReport {
    pub tables: u16,
    #[serde(flatten)]
    pub scores: ScoreReport,
}

#[derive(Debug, Serialize)]
pub struct IdentificationSection {
    pub cosine: IdentificationReport,
    pub blind: IdentificationReport,
}

/// Count thresholds come back as "accept above t"; the matcher's threshold is m = t + 1.
fn as_count_thresholds(report: &mut ScoreReport) {
    for t in report.threshold_at_fmr.values_mut().flatten() {
        *t += 1.0;
    }
}

/// The face a still photo is about, from the cache or embedded now (and then cached).
fn embed_still(engine: &Engine, cache: &EmbeddingCache, path: &Path) -> Result<Option<StillFace>, EvalError> {
    let bytes = std::fs::read(path).map_err(|source| DatasetError::Io { path: path.to_owned(), source })?;
    if let Some(cached) = cache.get(&bytes) {
        return Ok(cached);
    }
    let image = |source| EvalError::Image { path: path.to_owned(), source };
    let photo = Frame::decode(&bytes).map_err(image)?;
    let face = engine
        .analyse_still(&photo)
        .map_err(image)?
        .map(|analysed| StillFace { passed_gates: analysed.quality.passed(), embedding: analysed.embedding });
    cache.put(&bytes, face.as_ref());
    Ok(face)
}

/// For the levers that need the photos again: per person of `people` (listed from `dataset` as
/// [`embed_people`] lists them) and per face, in the same order, the mirrored crop's embedding and
/// the face's quality. Not cached: the accuracy test computes them every run (~5 000 photos:
/// detection, alignment and one recogniser run each).
fn face_extras(
    engine: &Engine,
    dataset: &Path,
    per_identity: usize,
    people: &[Person],
) -> Result<Vec<Vec<FaceExtras>>, EvalError> {
    let identities: HashMap<String, Identity> =
        list_identities(dataset, per_identity)?.into_iter().map(|id| (id.name.clone(), id)).collect();
    people
        .par_iter()
        .map(|person| {
            let mut extras = Vec::with_capacity(person.faces.len());
            for path in identities.get(&person.name).map_or(&[][..], |id| &id.images[..]) {
                let bytes = std::fs::read(path).map_err(|source| DatasetError::Io { path: path.to_owned(), source })?;
                let image = |source| EvalError::Image { path: path.to_owned(), source };
                let photo = Frame::decode(&bytes).map_err(image)?;
                let faces = engine.detect(&photo).map_err(image)?;
                let Some(face) = crate::pipeline::nearest_centre(&faces, photo.width(), photo.height()) else {
                    continue;
                };
                let (crop, quality) = engine.align_and_assess(&photo, face).map_err(image)?;
                extras.push(FaceExtras { mirrored: engine.embed_mirrored(&crop).map_err(image)?, quality });
            }
            // The same photos showed a face as when the person was embedded (or the levers skip them).
            if extras.len() != person.faces.len() {
                extras.clear();
            }
            Ok(extras)
        })
        .collect()
}

/// Every person of a folder in LFW layout with the faces of up to `per_identity` photos (photos
/// without a face left out, people without any kept, with none), and the number of photos
/// without a face.
pub fn embed_people(
    engine: &Engine,
    dataset: &Path,
    per_identity: usize,
    cache: &EmbeddingCache,
    progress: &dyn EvalProgress,
) -> Result<(Vec<Person>, usize), EvalError> {
    embed_identities(engine, &list_identities(dataset, per_identity)?, cache, progress)
}

/// [`embed_people`] for identities already listed (a subset of a folder, say).
pub fn embed_identities(
    engine: &Engine,
    identities: &[Identity],
    cache: &EmbeddingCache,
    progress: &dyn EvalProgress,
) -> Result<(Vec<Person>, usize), EvalError> {
    progress.start(identities.iter().map(|id| id.images.len()).sum());
    let people: Vec<Result<(Person, usize), EvalError>> = identities
        .par_iter()
        .map(|id| {
            let mut faces = Vec::new();
            let mut failures = 0;
            for path in &id.images {
                match embed_still(engine, cache, path)? {
                    Some(face) => faces.push(face),
                    None => failures += 1,
                }
                progress.image_done();
            }
            Ok((Person { name: id.name.clone(), faces }, failures))
        })
        .collect();
    let mut out = Vec::with_capacity(people.len());
    let mut failures = 0;
    for person in people {
        let (person, failed) = person?;
        out.push(person);
        failures += failed;
    }
    Ok((out, failures))
}

/// What a long evaluation tells its caller as it goes (a progress bar, or nothing: `&()`).
pub trait EvalProgress: Sync {
    /// Called once, with the number of images about to be embedded.
    fn start(&self, _images: usize) {}
    /// Called once per image embedded, from several threads.
    fn image_done(&self) {}
}

impl EvalProgress for () {}

/// Runs the protocol.
pub fn evaluate(engine: &Engine, options: &EvalOptions, progress: &dyn EvalProgress) -> Result<EvalReport, EvalError> {
    let cache = EmbeddingCache::open(options.embedding_cache.as_deref(), engine);
    let (people, detection_failures) = embed_people(engine, &options.dataset, options.per_identity, &cache, progress)?;
    let fillers = match &options.fillers {
        Some(fillers) => Some(embed_fillers(engine, fillers, &cache, progress)?),
        None => None,
    };
    cache
        .save()
        .map_err(|source| DatasetError::Io { path: options.embedding_cache.clone().unwrap_or_default(), source })?;
    let images = people.iter().map(|p| p.faces.len()).sum::<usize>() + detection_failures;
    let index: HashMap<&str, usize> = people.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
    let samples: Vec<(usize, Embedding)> =
        people.iter().enumerate().flat_map(|(i, p)| p.faces.iter().map(move |f| (i, f.embedding.clone()))).collect();

    let mut not_impostors = HashSet::new();
    if let Some(path) = &options.label_noise {
        for (a, b) in read_pairs_csv(path)? {
            if let (Some(&a), Some(&b)) = (index.get(a.as_str()), index.get(b.as_str())) {
                not_impostors.insert((a.min(b), a.max(b)));
            }
        }
    }
    let ids: Vec<usize> = samples.iter().map(|(id, _)| *id).collect();
    let cosine_of = |i: usize, j: usize| samples[i].1.cosine(&samples[j].1);
    let scores = metrics::score_pairs(&ids, cosine_of, &not_impostors);
    let mut cosine = metrics::report(&scores);

    let family = CrossPolytope::new(&EVAL_SEED, EMBEDDING_DIM, options.tables as usize);
    let codes: Vec<Vec<u16>> = samples.par_iter().map(|(_, e)| family.codes(e.values()).to_vec()).collect();
    let collisions_of = |i: usize, j: usize| metrics::collisions(&codes[i], &codes[j]) as f32;
    let blind_scores = metrics::score_pairs(&ids, collisions_of, &not_impostors);
    let mut blind = metrics::report(&blind_scores);
    let calibration = calibration_check(&scores, &blind_scores, options.tables);
    if let Some(path) = &options.groups {
        let group_of: HashMap<usize, String> = read_pairs_csv(path)?
            .into_iter()
            .filter_map(|(identity, group)| index.get(identity.as_str()).map(|&i| (i, group)))
            .collect();
        let threshold = cosine.threshold_at_fmr.get("1e-4").copied().flatten().ok_or(EvalError::TooFewImpostors)?;
        cosine.by_group = Some(metrics::by_group(&ids, cosine_of, &group_of, &not_impostors, threshold as f32));
        if let Some(t) = blind.threshold_at_fmr.get("1e-4").copied().flatten() {
            blind.by_group = Some(metrics::by_group(&ids, collisions_of, &group_of, &not_impostors, t as f32));
        }
    }
    as_count_thresholds(&mut blind);
    let operating_points = match &fillers {
        Some((fillers, filler_people)) => {
            let group_of = match &options.groups {
                Some(path) => read_pairs_csv(path)?.into_iter().collect::<HashMap<String, String>>(),
                None => HashMap::new(),
            };
            let grouped = people.iter().map(|p| (group_of.get(&p.name).cloned(), p.faces.clone()));
            let noise_names: NotImpostors = not_impostors
                .iter()
                .flat_map(|&(a, b)| {
                    let (a, b) = (people[a].name.clone(), people[b].name.clone());
                    [(a.clone(), b.clone()), (b, a)]
                })
                .collect();
            let recipes = recipes::fit(&people, filler_people, &noise_names);
            let watchlist = operating_points::watchlist_of(grouped.collect());
            let mut points = operating_points::measure(&watchlist, fillers, options.tables, recipes);
            points.calibration.model_id = engine.model_id().to_owned();
            let extras = face_extras(engine, &options.dataset, options.per_identity, &people)?;
            points.levers =
                operating_points::measure_levers(&people, &extras, filler_people, &noise_names, options.tables);
            Some(points)
        }
        None => None,
    };
    let identification = IdentificationSection {
        cosine: metrics::identification(&ids, cosine_of),
        blind: metrics::identification(&ids, collisions_of),
    };
    #[cfg(feature = "sealed")]
    let sealed = Some(sealed_section(&samples, &ids, &not_impostors, &cosine));
    #[cfg(not(feature = "sealed"))]
    let sealed = None;

    Ok(EvalReport {
        dataset: options.dataset.display().to_string(),
        images,
        identities: people.len(),
        detection_failures,
        genuine_pairs: scores.genuine.len(),
        impostor_pairs: scores.impostor.len(),
        excluded_identity_pairs: not_impostors.len(),
        cosine,
        blind: BlindReport { tables: options.tables, scores: blind },
        identification,
        calibration,
        operating_points,
        sealed,
    })
}

/// Sealed custody's scores on the same pairs as float cosine's ([`SealedSection`]).
#[cfg(feature = "sealed")]
fn sealed_section(
    samples: &[(usize, Embedding)],
    ids: &[usize],
    not_impostors: &HashSet<(usize, usize)>,
    cosine: &ScoreReport,
) -> SealedSection {
    use crate::sealed::quantise::Quantised;
    let quantised: Vec<Quantised> = samples.iter().map(|(_, e)| Quantised::of(e)).collect();
    let similarity_of = |i: usize, j: usize| quantised[i].similarity(&quantised[j]);
    let scores = metrics::report(&metrics::score_pairs(ids, similarity_of, not_impostors));
    let tar_change_pp = scores
        .tar_at_fmr
        .iter()
        .map(|(fmr, sealed)| {
            let float = cosine.tar_at_fmr.get(fmr).copied().flatten();
            (fmr.clone(), sealed.zip(float).map(|(s, f)| 100.0 * (s - f)))
        })
        .collect();
    SealedSection { scores, tar_change_pp, identification: metrics::identification(ids, similarity_of) }
}

/// The fillers with their groups (photos without a face, failing the quality gates, or without a
/// label, are left out), and
/// every filler as a [`Person`] for the calibration per recipe.
fn embed_fillers(
    engine: &Engine,
    fillers: &Fillers,
    cache: &EmbeddingCache,
    progress: &dyn EvalProgress,
) -> Result<(Vec<Filler>, Vec<Person>), EvalError> {
    let group_of: HashMap<String, String> = read_pairs_csv(&fillers.groups)?.into_iter().collect();
    let known: HashSet<String> = match &fillers.same_person {
        Some(path) => read_pairs_csv(path)?.into_iter().map(|(filler, _)| filler).collect(),
        None => HashSet::new(),
    };
    let (mut people, _) = embed_people(engine, &fillers.dataset, 1, cache, progress)?;
    people.retain(|p| !known.contains(&p.name));
    let labelled = people
        .iter()
        .filter_map(|p| Some(Filler { group: group_of.get(&p.name)?.clone(), embedding: p.probes().next()?.clone() }))
        .collect();
    Ok((labelled, people))
}

fn calibration_check(cosines: &metrics::PairScores, counts: &metrics::PairScores, tables: u16) -> CalibrationCheck {
    let impostor_cosines = ScoreHistogram::from_scores(cosines.impostor.iter().copied());
    let genuine_cosines = ScoreHistogram::from_scores(cosines.genuine.iter().copied());
    let mut at_least = vec![0usize; tables as usize + 2];
    for &c in &counts.impostor {
        at_least[c as usize] += 1;
    }
    for m in (0..=tables as usize).rev() {
        at_least[m] += at_least[m + 1];
    }
    let n = counts.impostor.len().max(1) as f64;
    let points = (1..=tables)
        .filter(|&m| at_least[m as usize] > 0)
        .map(|m| CalibrationPoint {
            m,
            pairs: at_least[m as usize],
            fmr_direct: at_least[m as usize] as f64 / n,
            fmr_model: impostor_cosines.rate_at(tables, m),
        })
        .collect();
    CalibrationCheck { tables, points, impostor_cosines, genuine_cosines }
}
