//! `veilwatch enroll DATASET --keys DIR --out FILE`: a signed, blinded watchlist with one entry per
//! person folder. Each person's template is the mean embedding of the faces their photos are about
//! (the first `--per-identity` photos by file name, at most 5: the recipes the calibration covers);
//! their first such face, aligned, is the reference photo sealed into their record. With
//! `--target-fpir`, m comes from the calibration of each entry's recipe (DESIGN §7), and the
//! expected false alerts per 1 000 passers-by are printed with their interval and source. Under `--custody authority` the file holds handles,
//! and the records go, sealed, to `FILE.materials.json` (`[{handle, verifier, sealed}, …]`, mode
//! 0600) for `veilwatch registration deployment --materials` to hand to the authority.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::builder::TypedValueParser;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use veilwatch::blind::enroll::{build_with_materials, Enrolment, WatchlistParams};
use veilwatch::blind::prf::Prf;
use veilwatch::blind::record::EntryRecord;
use veilwatch::eval::calibration::MAX_TEMPLATE_PHOTOS;
use veilwatch::eval::dataset::{list_identities, Identity};
use veilwatch::eval::measured;
use veilwatch::governance::profile::parse_rate;
use veilwatch::pipeline::{reference_photo, Engine};
use veilwatch::time::{format_utc, now_unix, parse_utc};
use veilwatch::Embedding;

use crate::files::{load_engine, load_image, replace_secret, write_atomically};
use crate::key_files;

#[derive(Clone, Copy, ValueEnum)]
pub enum CustodyArg {
    Local,
    Authority,
}

#[derive(Args)]
pub struct EnrollArgs {
    /// Folder with one sub-folder per person holding their photos.
    dataset: PathBuf,
    #[arg(long)]
    keys: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// Start of the validity window (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ); default now.
    #[arg(long)]
    valid_from: Option<String>,
    /// End of the validity window; default 30 days after the start.
    #[arg(long)]
    valid_until: Option<String>,
    #[arg(long, default_value_t = veilwatch::blind::DEFAULT_TABLES)]
    tables: u16,
    /// Collision threshold m; default: the one measured for FMR 1e-4 at the default tables.
    #[arg(long, default_value_t = veilwatch::blind::DEFAULT_THRESHOLD)]
    threshold: u16,
    /// Choose m instead from the false alerts per passer-by this watchlist may make (e.g. 1/6000):
    /// the smallest m whose expected FPIR for the enrolled number of people meets it, from the
    /// model's shipped calibration (DESIGN §7).
    #[arg(long, conflicts_with = "threshold")]
    target_fpir: Option<String>,
    #[arg(long, value_enum, default_value_t = CustodyArg::Local)]
    custody: CustodyArg,
    /// Photos per person averaged into their template (the first ones by file name), 1 to 5: the
    /// false-alert calibration covers templates of up to 5 photos.
    #[arg(long, default_value_t = MAX_TEMPLATE_PHOTOS,
          value_parser = clap::value_parser!(u8).range(1..=MAX_TEMPLATE_PHOTOS as i64).map(usize::from))]
    per_identity: usize,
    /// Category written into each sealed record.
    #[arg(long, default_value = "watchlist")]
    category: String,
    /// Source and legal basis written into each sealed record.
    #[arg(long, default_value = "enrolled by the issuer")]
    source: String,
}

fn time_arg(flag: &str, value: &str) -> Result<i64> {
    parse_utc(value).with_context(|| format!("{flag} `{value}` is not YYYY-MM-DD[THH:MM:SSZ]"))
}

/// One person's entry and the number of photos averaged into its template, or `None` when none of
/// their photos shows a face.
fn enrol_person(
    engine: &Engine,
    person: &Identity,
    reference_id: String,
    args: &EnrollArgs,
    now: i64,
) -> Result<Option<(Enrolment, usize)>> {
    let mut embeddings = Vec::new();
    let mut photo = None;
    for path in &person.images {
        let frame = load_image(path)?;
        let Some(analysed) = engine.analyse_still(&frame).with_context(|| path.display().to_string())? else {
            continue;
        };
        if photo.is_none() {
            photo = reference_photo(&frame, &analysed.face);
        }
        embeddings.push(analysed.embedding);
    }
    let Some(template) = Embedding::mean(&embeddings) else { return Ok(None) };
    let label = person.name.replace('_', " ");
    let record =
        EntryRecord::new(reference_id, label, args.category.clone(), args.source.clone(), now, photo.as_deref());
    Ok(Some((Enrolment { template, record }, embeddings.len())))
}

/// The threshold for `--target-fpir`, with what it means printed for the issuer: the smallest m
/// whose expected false alerts, from the calibration of each entry's recipe, meet the target.
fn threshold_for_target(target: &str, tables: u16, photos_per_entry: &[usize]) -> Result<u16> {
    let rate = parse_rate(target).with_context(|| format!("--target-fpir `{target}` is not a rate like 1/6000"))?;
    let calibration = measured::calibration();
    let entries = photos_per_entry.len();
    let m = calibration.threshold_for_recipes(photos_per_entry, tables, rate).with_context(|| {
        format!("no threshold of {tables} tables keeps {entries} entries within {target} false alerts")
    })?;
    let estimate = calibration.estimate(photos_per_entry, tables, m).expect("a threshold was found from it");
    eprintln!(
        "--target-fpir {target} with {entries} entries: m = {m} of {tables}: {:.3} expected false alerts per 1 000 \
         passers-by (95% interval {:.3} – {:.3}; from {}), estimated true-match rate of a track {:.3}",
        estimate.per_1000,
        estimate.per_1000_ci95[0],
        estimate.per_1000_ci95[1],
        estimate.calibration,
        calibration.true_match_rate(tables, m),
    );
    Ok(m)
}

/// `FILE.materials.json` beside the watchlist `FILE`.
pub fn materials_path(watchlist: &Path) -> PathBuf {
    let mut name = watchlist.as_os_str().to_owned();
    name.push(".materials.json");
    PathBuf::from(name)
}

pub fn run(models: &Path, args: EnrollArgs) -> Result<()> {
    let engine = load_engine(models)?;
    let issuer = key_files::issuer_secret(&args.keys)?;
    let prf: Box<dyn Prf> = match args.custody {
        CustodyArg::Local => Box::new(key_files::local_prf(&args.keys)?),
        CustodyArg::Authority => {
            // The list's id is drawn here: its deployment key is derived from the master secret
            // and that id, and `build` enrols under the id the key is bound to.
            let mut id = [0u8; 16];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
            Box::new(key_files::deployment_key(&args.keys, &id)?)
        }
    };
    let now = now_unix();
    let valid_from = args.valid_from.as_deref().map_or(Ok(now), |t| time_arg("--valid-from", t))?;
    let valid_until =
        args.valid_until.as_deref().map_or(Ok(valid_from + 30 * 86_400), |t| time_arg("--valid-until", t))?;
    let people = list_identities(&args.dataset, args.per_identity)?;
    let photos: usize = people.iter().map(|p| p.images.len()).sum();

    let bar = ProgressBar::new(people.len() as u64).with_style(
        ProgressStyle::with_template("enrolling {bar:40} {pos}/{len} people, {eta} left").expect("valid template"),
    );
    let results: Vec<Result<Option<(Enrolment, usize)>>> = people
        .par_iter()
        .enumerate()
        .map(|(i, person)| {
            let entry = enrol_person(&engine, person, format!("REF-{:06}", i + 1), &args, now);
            bar.inc(1);
            entry
        })
        .collect();
    bar.finish();
    let (mut entries, mut photos_per_entry) = (Vec::new(), Vec::new());
    for (entry, photos) in results.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten() {
        entries.push(entry);
        photos_per_entry.push(photos);
    }
    let skipped = people.len() - entries.len();
    let enrolled = entries.len();

    let threshold = match &args.target_fpir {
        Some(target) => threshold_for_target(target, args.tables, &photos_per_entry)?,
        None => args.threshold,
    };
    let params = WatchlistParams {
        model_id: engine.model_id().to_owned(),
        tables: args.tables,
        threshold,
        valid_from,
        valid_until,
    };
    let enrolled_list = build_with_materials(entries, &params, prf.as_ref(), &issuer)?;
    let file = enrolled_list.file;
    if matches!(args.custody, CustodyArg::Authority) {
        // Names and photos, sealed under keys only a matching face rebuilds: still kept private.
        let path = materials_path(&args.out);
        let json = serde_json::to_vec_pretty(&enrolled_list.materials)?;
        replace_secret(&path, &json)?;
        eprintln!(
            "{}: reviewer materials of {} people, for the authority's registration",
            path.display(),
            enrolled_list.materials.len()
        );
    }
    write_atomically(&args.out, &file)?;
    eprintln!(
        "{}: {enrolled} people from {photos} photos ({skipped} without a usable face), {} bytes, valid {} – {}",
        args.out.display(),
        file.len(),
        format_utc(valid_from),
        format_utc(valid_until)
    );
    Ok(())
}
