//! `veilwatch eval DATASET_DIR --json OUT`: verification and identification accuracy on a folder
//! in LFW layout, by the library's evaluation protocol. The report goes to `--json`; a summary
//! goes to stderr.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use veilwatch::eval::metrics::{FMR_POINTS, FPIR_POINTS};
use veilwatch::eval::protocol::{evaluate, EvalOptions, EvalProgress, EvalReport, Fillers};

use crate::files::{load_engine, write_atomically};

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
    /// Strangers on no watchlist, one photo per folder (e.g. utkface/images): adds the operating
    /// points per passer-by (FPIR, TPIR, per group) to the report.
    #[arg(long, requires = "fillers_groups")]
    fillers: Option<PathBuf>,
    /// CSV `identity,group` labelling the fillers (e.g. utkface/labels/groups_race_gender.csv).
    #[arg(long, requires = "fillers")]
    fillers_groups: Option<PathBuf>,
    /// CSV `filler,lfw_identity,…` of fillers who are LFW people, left out of the strangers
    /// (this repository's reviewed list: labels/utkface_same_person_as_lfw.csv).
    #[arg(long, requires = "fillers")]
    fillers_same_person: Option<PathBuf>,
    /// Embed each face's mirrored crop too and average (a lever measured at the operating point).
    #[arg(long)]
    flip_augmentation: bool,
    /// Also write the report as one self-contained HTML page (tables and charts).
    #[arg(long)]
    report: Option<PathBuf>,
    /// With --fillers: also write the calibration data the kiosk and `enroll --target-fpir` read.
    #[arg(long, requires = "fillers")]
    calibration_out: Option<PathBuf>,
    /// Reuse (and extend) the embeddings of earlier runs kept in this file (found by each photo's
    /// SHA-256, wherever the data lives); put it outside the clone (the tests use
    /// ~/.cache/veilwatch/eval-embeddings.json), never in the repository.
    #[arg(long)]
    embedding_cache: Option<PathBuf>,
}

pub fn run(models: &Path, args: EvalArgs) -> Result<()> {
    let mut engine = load_engine(models)?;
    engine.flip_augmentation = args.flip_augmentation;
    let bar = Bar::embedding("images");
    let options = EvalOptions {
        dataset: args.dataset,
        groups: args.groups,
        label_noise: args.label_noise,
        per_identity: args.per_identity,
        tables: args.tables,
        fillers: args.fillers.zip(args.fillers_groups).map(|(dataset, groups)| Fillers {
            dataset,
            groups,
            same_person: args.fillers_same_person,
        }),
        embedding_cache: args.embedding_cache,
    };
    let report = evaluate(&engine, &options, &bar)?;
    bar.0.finish();
    write_atomically(&args.json, serde_json::to_string_pretty(&report)?.as_bytes())?;
    if let Some(path) = &args.report {
        write_atomically(path, veilwatch::eval::report::render_html(&report).as_bytes())?;
    }
    if let (Some(path), Some(points)) = (&args.calibration_out, &report.operating_points) {
        write_atomically(path, serde_json::to_string(&points.calibration)?.as_bytes())?;
    }
    print_summary(&report);
    Ok(())
}

/// Progress of embedding photos on the terminal (`eval`, `cohort`).
pub struct Bar(pub ProgressBar);

impl Bar {
    /// "embedding ▇▇▇ 12/300 WHAT, 1m left".
    pub fn embedding(what: &str) -> Bar {
        let template = format!("embedding {{bar:40}} {{pos}}/{{len}} {what}, {{eta}} left");
        Bar(ProgressBar::new(0).with_style(ProgressStyle::with_template(&template).expect("valid template")))
    }
}

impl EvalProgress for Bar {
    fn start(&self, images: usize) {
        self.0.set_length(images as u64);
    }
    fn image_done(&self) {
        self.0.inc(1);
    }
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
    for (key, _) in FMR_POINTS {
        eprintln!(
            "cosine: TAR {} at FMR {key} (threshold {})",
            fmt(&r.cosine.tar_at_fmr, key),
            fmt(&r.cosine.threshold_at_fmr, key)
        );
    }
    eprintln!("cosine: AUC {:.5}", r.cosine.auc);
    for (key, _) in FMR_POINTS {
        eprintln!(
            "blind (L={}): TAR {} at FMR {key} (threshold m = {})",
            r.blind.tables,
            fmt(&r.blind.scores.tar_at_fmr, key),
            fmt(&r.blind.scores.threshold_at_fmr, key)
        );
    }
    if let Some(sealed) = &r.sealed {
        for (key, _) in FMR_POINTS {
            let change = sealed.tar_change_pp.get(key).copied().flatten();
            eprintln!(
                "sealed (quantised, S = 128): TAR {} at FMR {key} ({} pp against cosine; threshold {})",
                fmt(&sealed.scores.tar_at_fmr, key),
                change.map_or("n/a".into(), |pp| format!("{pp:+.2}")),
                fmt(&sealed.scores.threshold_at_fmr, key)
            );
        }
    }
    let sealed = r.sealed.as_ref().map(|s| ("sealed", &s.identification));
    let sections = [("cosine", &r.identification.cosine), ("blind", &r.identification.blind)];
    for (name, id) in sections.into_iter().chain(sealed) {
        for (key, _) in FPIR_POINTS {
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
