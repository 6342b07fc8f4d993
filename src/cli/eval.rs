//! `veilwatch eval DATASET_DIR --json OUT`: verification accuracy on a folder in LFW layout.
//!
//! Every image is embedded (the face nearest its centre), at most `--per-identity` images per
//! identity (by file name), and every pair is scored by cosine.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use clap::Args;
use indicatif::{ParallelProgressIterator, ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use veilwatch::blind::lsh::CrossPolytope;
use veilwatch::eval::{self, IdentificationReport, ScoreReport};
use veilwatch::{nearest_centre, Embedding, EMBEDDING_DIM};

use crate::common::{list_identities, load_engine, load_image, write_atomically, CliResult};

#[derive(Args)]
pub struct EvalArgs {
    /// Folder with one sub-folder per identity holding its JPEG/PNG images.
    dataset: PathBuf,
    /// Where to write the JSON report.
    #[arg(long)]
    json: PathBuf,
    /// CSV `identity,group` for the per-group breakdown (e.g. labels/groups.csv).
    #[arg(long)]
    groups: Option<PathBuf>,
    /// CSV whose first two columns name identity pairs that are not true impostors (same person
    /// under two names, mislabelled photos); their cross pairs are left out of the impostor set.
    #[arg(long)]
    label_noise: Option<PathBuf>,
    /// Images used per identity, the first ones by file name.
    #[arg(long, default_value_t = 10)]
    per_identity: usize,
    /// LSH tables L for the blind (collision-count) scores.
    #[arg(long, default_value_t = veilwatch::blind::DEFAULT_TABLES)]
    tables: u16,
}

/// The rotation seed of the evaluation's LSH family: fixed, so that reports are reproducible.
const EVAL_SEED: [u8; 32] = *b"veilwatch/eval/rotation-seed/v1\0";

#[derive(Serialize)]
struct EvalReport {
    dataset: String,
    images: usize,
    identities: usize,
    detection_failures: usize,
    genuine_pairs: usize,
    impostor_pairs: usize,
    excluded_identity_pairs: usize,
    cosine: ScoreReport,
    /// Collision counts over `tables` cross-polytope tables; thresholds are the count m
    /// (a pair matches when at least m tables collide).
    blind: BlindReport,
    identification: IdentificationSection,
}

#[derive(Serialize)]
struct BlindReport {
    tables: u16,
    #[serde(flatten)]
    scores: ScoreReport,
}

#[derive(Serialize)]
struct IdentificationSection {
    cosine: IdentificationReport,
    blind: IdentificationReport,
}

/// Count thresholds come back as "accept above t"; the matcher's threshold is m = t + 1.
fn as_count_thresholds(report: &mut ScoreReport) {
    for t in report.threshold_at_fmr.values_mut().flatten() {
        *t += 1.0;
    }
}

/// Rows of a CSV with a header, first two columns only.
fn read_pairs_csv(path: &Path) -> CliResult<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut cols = line.split(',');
            match (cols.next(), cols.next()) {
                (Some(a), Some(b)) => Ok((a.trim().to_owned(), b.trim().to_owned())),
                _ => Err(format!("{}: line `{line}` does not have two columns", path.display())),
            }
        })
        .collect()
}

pub fn run(models: &Path, args: EvalArgs) -> CliResult {
    let engine = load_engine(models)?;
    let identities = list_identities(&args.dataset, args.per_identity)?;
    let index: HashMap<&str, usize> = identities.iter().enumerate().map(|(i, (n, _))| (n.as_str(), i)).collect();
    let jobs: Vec<(usize, &PathBuf)> =
        identities.iter().enumerate().flat_map(|(i, (_, imgs))| imgs.iter().map(move |p| (i, p))).collect();

    let bar = ProgressBar::new(jobs.len() as u64).with_style(
        ProgressStyle::with_template("embedding {bar:40} {pos}/{len} images, {eta} left").expect("valid template"),
    );
    let embedded: Vec<CliResult<Option<(usize, Embedding)>>> = jobs
        .par_iter()
        .progress_with(bar)
        .map(|&(identity, path)| {
            let frame = load_image(path)?;
            let faces = engine.detect(&frame).map_err(|e| format!("{}: {e}", path.display()))?;
            let Some(face) = nearest_centre(&faces, frame.width(), frame.height()) else { return Ok(None) };
            let analysed = engine.analyse_face(&frame, face).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(Some((identity, analysed.embedding)))
        })
        .collect();
    let mut samples = Vec::with_capacity(embedded.len());
    let mut detection_failures = 0;
    for result in embedded {
        match result? {
            Some(sample) => samples.push(sample),
            None => detection_failures += 1,
        }
    }

    let mut not_impostors = HashSet::new();
    if let Some(path) = &args.label_noise {
        for (a, b) in read_pairs_csv(path)? {
            if let (Some(&a), Some(&b)) = (index.get(a.as_str()), index.get(b.as_str())) {
                not_impostors.insert((a.min(b), a.max(b)));
            }
        }
    }
    let ids: Vec<usize> = samples.iter().map(|(id, _)| *id).collect();
    let cosine_of = |i: usize, j: usize| samples[i].1.cosine(&samples[j].1);
    let scores = eval::score_pairs(&ids, cosine_of, &not_impostors);
    let mut cosine = eval::report(&scores);

    let family = CrossPolytope::new(&EVAL_SEED, EMBEDDING_DIM, args.tables as usize);
    let codes: Vec<Vec<u16>> = samples.par_iter().map(|(_, e)| family.codes(e.values()).to_vec()).collect();
    let collisions_of = |i: usize, j: usize| eval::collisions(&codes[i], &codes[j]) as f32;
    let blind_scores = eval::score_pairs(&ids, collisions_of, &not_impostors);
    let mut blind = eval::report(&blind_scores);
    if let Some(path) = &args.groups {
        let group_of: HashMap<usize, String> = read_pairs_csv(path)?
            .into_iter()
            .filter_map(|(identity, group)| index.get(identity.as_str()).map(|&i| (i, group)))
            .collect();
        let threshold = cosine
            .threshold_at_fmr
            .get("1e-4")
            .copied()
            .flatten()
            .ok_or("too few impostor pairs to set a threshold at FMR 1e-4 for the per-group breakdown")?;
        cosine.by_group = Some(eval::by_group(&ids, cosine_of, &group_of, &not_impostors, threshold as f32));
        if let Some(t) = blind.threshold_at_fmr.get("1e-4").copied().flatten() {
            blind.by_group = Some(eval::by_group(&ids, collisions_of, &group_of, &not_impostors, t as f32));
        }
    }
    as_count_thresholds(&mut blind);
    let identification = IdentificationSection {
        cosine: eval::identification(&ids, cosine_of),
        blind: eval::identification(&ids, collisions_of),
    };

    let report = EvalReport {
        dataset: args.dataset.display().to_string(),
        images: jobs.len(),
        identities: identities.len(),
        detection_failures,
        genuine_pairs: scores.genuine.len(),
        impostor_pairs: scores.impostor.len(),
        excluded_identity_pairs: not_impostors.len(),
        cosine,
        blind: BlindReport { tables: args.tables, scores: blind },
        identification,
    };
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    write_atomically(&args.json, json.as_bytes())?;
    print_summary(&report);
    Ok(())
}

fn print_summary(r: &EvalReport) {
    eprintln!(
        "{} images of {} identities, {} without a detected face; {} genuine / {} impostor pairs",
        r.images, r.identities, r.detection_failures, r.genuine_pairs, r.impostor_pairs
    );
    let fmt = |m: &BTreeMap<String, Option<f64>>, k: &str| match m.get(k).copied().flatten() {
        Some(v) => format!("{v:.4}"),
        None => "n/a".into(),
    };
    for (key, _) in eval::FMR_POINTS {
        eprintln!(
            "cosine: TAR {} at FMR {key} (threshold {})",
            fmt(&r.cosine.tar_at_fmr, key),
            fmt(&r.cosine.threshold_at_fmr, key)
        );
    }
    eprintln!("cosine: AUC {:.5}", r.cosine.auc);
    for (key, _) in eval::FMR_POINTS {
        eprintln!(
            "blind (L={}): TAR {} at FMR {key} (threshold m = {})",
            r.blind.tables,
            fmt(&r.blind.scores.tar_at_fmr, key),
            fmt(&r.blind.scores.threshold_at_fmr, key)
        );
    }
    for (name, id) in [("cosine", &r.identification.cosine), ("blind", &r.identification.blind)] {
        for (key, _) in eval::FPIR_POINTS {
            eprintln!(
                "identification {name}: FNIR {} at FPIR {key} (gallery {}, {} mated / {} non-mated searches)",
                fmt(&id.fnir_at_fpir, key),
                id.gallery,
                id.mated_searches,
                id.non_mated_searches
            );
        }
    }
}
