//! `veilwatch enroll DATASET --keys DIR --out FILE`: a signed, blinded watchlist with one entry per
//! person folder. Each person's template is the mean embedding of the faces their photos are about
//! (the first `--per-identity` photos by file name, at most 5: the recipes the calibration covers);
//! their first such face, aligned, is the reference photo sealed into their record. With
//! `--target-fpir`, m comes from the calibration of each entry's recipe (DESIGN §7), and the
//! expected false alerts per 1 000 passers-by are printed with their interval and source. With
//! `--stranger-cohort` (a file from `veilwatch cohort`), every template is measured against the
//! cohort ([`veilwatch::eval::per_entry`]): the list's own estimate is printed beside the recipe
//! calibration's, written to `FILE.false-alerts.json` for `profile sign --false-alerts`, and the
//! entries unusually close to the crowd are named (`--drop-outliers` leaves them out); with
//! `--target-fpir` as well, m is the larger of the two thresholds, the one that meets the target by
//! both estimates. Under `--custody authority` the file holds handles,
//! and the records go, sealed, to `FILE.materials.json` (`[{handle, verifier, sealed}, …]`, mode
//! 0600) for `veilwatch registration deployment --materials` to hand to the authority. Under
//! `--custody sealed` no watchlist is written: `FILE` is the sealed registration material
//! ([`SealedEnrolment`]) for `veilwatch registration deployment --sealed`, the gallery of quantised
//! templates sealed for the authority and the reviewer materials; the list never goes to a kiosk,
//! which is given `FILE.deployment` instead, the deployment's descriptor signed by the issuer
//! (`veilwatch::sealed::descriptor`), which the profile names.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::builder::TypedValueParser;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use veilwatch::blind::enroll::{build_with_materials, Enrolment, WatchlistParams};
use veilwatch::blind::prf::Prf;
use veilwatch::blind::record::EntryRecord;
use veilwatch::calibration::model::{FalseAlertEstimate, MAX_TEMPLATE_PHOTOS};
use veilwatch::calibration::shipped;
use veilwatch::eval::cohort::{Cohort, PipelineIdentity};
use veilwatch::eval::dataset::{list_identities, Identity};
use veilwatch::eval::per_entry::{CohortCosines, PerEntryEstimate, OUTLIER_FACTOR};
use veilwatch::eval::sealed_cohort::SealedCohortScores;
use veilwatch::governance::profile::{parse_rate, EstimateFile, RecordedEstimate};
use veilwatch::pipeline::{reference_photo, Engine};
use veilwatch::sealed::quantise::Quantised;
use veilwatch::time::{format_utc, now_unix, parse_utc};
use veilwatch::Embedding;

use crate::files::{load_engine, load_image, read, replace_secret, write_atomically};
use crate::key_files;

#[derive(Clone, Copy, ValueEnum)]
pub enum CustodyArg {
    Local,
    Authority,
    /// Sealed custody (DESIGN §3.4): the gallery stays at the authority, the kiosk sends its face
    /// encrypted under its own BFV key.
    Sealed,
}

/// What `enroll --custody sealed` writes (JSON, mode 0600) and `registration deployment --sealed`
/// reads: the deployment's id and window, the gallery sealed for the authority
/// (`veilwatch::sealed::gallery`, base64) and each entry's reviewer material (as under authority
/// custody).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SealedEnrolment {
    /// Always `bfv-sealed`.
    pub custody: String,
    pub deployment: String,
    pub model_id: String,
    pub not_before: i64,
    pub not_after: i64,
    pub entries: usize,
    pub threshold: f32,
    pub sealed_gallery: String,
    pub materials: Vec<veilwatch::blind::material::Material>,
}

/// The custody name a [`SealedEnrolment`] carries.
pub const SEALED_CUSTODY: &str = "bfv-sealed";

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
    /// A stranger cohort built by `veilwatch cohort`: estimate each entry's false-match rate
    /// against it, and the list's from them, and name the entries unusually close to the crowd.
    #[arg(long)]
    stranger_cohort: Option<PathBuf>,
    /// Leave out of the watchlist the entries the stranger cohort names as unusually close to the
    /// crowd (instead of only naming them).
    #[arg(long, requires = "stranger_cohort")]
    drop_outliers: bool,
    /// Sealed custody: the cosine threshold the authority compares quantised templates against
    /// (0.36: the threshold the sealed attack tests use). With --target-fpir and a
    /// --stranger-cohort the threshold is chosen from the cohort instead.
    #[arg(long, default_value_t = 0.36)]
    sealed_threshold: f32,
    /// Sealed custody: the probability that an answer carries a decoy positive.
    #[arg(long, default_value_t = 0.5)]
    decoy_rate: f64,
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

/// The threshold m: `--threshold`, or for `--target-fpir` the smallest m whose expected false
/// alerts meet the target by the calibration of each entry's recipe and, with a stranger cohort, by
/// the per-entry estimate too (the larger of the two: the most pessimistic estimate that applies).
/// Prints what m means by each estimate; returns the per-entry estimate at m.
fn choose_threshold(
    args: &EnrollArgs,
    photos_per_entry: &[usize],
    cohort: Option<&CohortCosines>,
) -> Result<(u16, Option<PerEntryEstimate>)> {
    let (tables, entries) = (args.tables, photos_per_entry.len());
    let calibration = shipped::calibration();
    let m = match &args.target_fpir {
        None => args.threshold,
        Some(target) => {
            let rate =
                parse_rate(target).with_context(|| format!("--target-fpir `{target}` is not a rate like 1/6000"))?;
            let by_recipe = calibration.threshold_for_recipes(photos_per_entry, tables, rate).with_context(|| {
                format!("no threshold of {tables} tables keeps {entries} entries within {target} false alerts")
            })?;
            match cohort {
                None => {
                    eprintln!("--target-fpir {target} with {entries} entries: m = {by_recipe} of {tables}");
                    by_recipe
                }
                Some(cohort) => {
                    let by_cohort = cohort.threshold_for_fpir(tables, rate).with_context(|| {
                        format!("no threshold of {tables} tables keeps these {entries} entries within {target} false alerts against the stranger cohort")
                    })?;
                    let m = by_recipe.max(by_cohort);
                    eprintln!(
                        "--target-fpir {target} with {entries} entries: m = {m} of {tables} (the recipe calibration \
                         needs {by_recipe}, the per-entry estimate {by_cohort}: the larger meets both)"
                    );
                    m
                }
            }
        }
    };
    let per_entry = cohort.map(|c| c.estimate(tables, m));
    if args.target_fpir.is_some() || per_entry.is_some() {
        let estimate = calibration.estimate(photos_per_entry, tables, m).expect("the shipped calibration is not empty");
        eprintln!("expected false alerts per 1 000 passers-by at m = {m}:");
        eprintln!("  recipe calibration: {}", describe(&estimate));
        if let Some(p) = &per_entry {
            eprintln!("  per-entry:          {}", describe(&p.list));
        }
        eprintln!("  estimated true-match rate of a track: {:.3}", calibration.true_match_rate(tables, m));
    }
    Ok((m, per_entry))
}

/// `items` without those at the positions `left_out`.
fn without<T>(items: Vec<T>, left_out: &[usize]) -> Vec<T> {
    items.into_iter().enumerate().filter(|(i, _)| !left_out.contains(i)).map(|(_, x)| x).collect()
}

fn describe(e: &FalseAlertEstimate) -> String {
    format!(
        "{:.3} (95% interval {:.3} – {:.3}; from {})",
        e.per_1000, e.per_1000_ci95[0], e.per_1000_ci95[1], e.calibration
    )
}

/// Names the entries the per-entry estimate found unusually close to the crowd, and what to do.
fn report_outliers(estimate: &PerEntryEstimate, names: &[String], dataset: &Path, dropping: bool) {
    let total: f64 = estimate.entries.iter().map(|e| e.fmr).sum();
    let mean_of_others = |i: usize| (total - estimate.entries[i].fmr) / (estimate.entries.len() - 1) as f64;
    if estimate.outliers.is_empty() {
        eprintln!(
            "no entry is unusually close to the crowd (none has a false-match rate above {OUTLIER_FACTOR}× the mean of the others)"
        );
        return;
    }
    eprintln!(
        "{} entries are unusually close to the crowd (a false-match rate at m = {} above {OUTLIER_FACTOR}× the mean of the \
         other entries'; a generic face, a poor photo, photos of more than one person, or a look-alike among the strangers):",
        estimate.outliers.len(),
        estimate.m
    );
    for &i in &estimate.outliers {
        let e = estimate.entries[i];
        eprintln!(
            "  {}: {:.2e} (95% interval {:.2e} – {:.2e}), {:.0}× the others' mean, {:.0}% of the list's expected false alerts",
            names[i],
            e.fmr,
            e.fmr_ci95[0],
            e.fmr_ci95[1],
            e.fmr / mean_of_others(i),
            100.0 * e.fmr / total
        );
    }
    if dropping {
        eprintln!("--drop-outliers: they are left out of the watchlist");
    } else {
        eprintln!(
            "re-photograph them (replace the photos in {}/NAME/ with sharp, frontal, well-lit photos of that person alone) \
             or drop them (move their folders out of {0}, or enrol again with --drop-outliers)",
            dataset.display()
        );
    }
}

/// The sealed registration material of `entries`: a fresh deployment id, each entry's record
/// sealed under a fresh record key (its reviewer material, as under authority custody) and its
/// quantised template, handle and record key in the gallery, sealed for the authority under a key
/// derived from the authority's master secret in the key folder.
fn sealed_enrolment(
    args: &EnrollArgs,
    entries: Vec<Enrolment>,
    threshold_milli: u16,
    model_id: &str,
    valid_from: i64,
    valid_until: i64,
) -> Result<SealedEnrolment> {
    use base64::Engine as _;
    use veilwatch::blind::format::RecordClass;
    use veilwatch::blind::material::{random_handle, Material, MaterialKeys};
    use veilwatch::blind::record::{class_of, random_record_key};
    use veilwatch::sealed::gallery::{Gallery, GalleryEntry};

    if entries.is_empty() {
        bail!("no face was enrolled: nothing to register");
    }
    let master = key_files::authority_master(&args.keys)?;
    let mut deployment = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut deployment);
    let class = entries.iter().try_fold(RecordClass::NoPhoto, |class, e| class_of(&e.record).map(|c| class.max(c)))?;
    let mut gallery_entries = Vec::with_capacity(entries.len());
    let mut materials = Vec::with_capacity(entries.len());
    for entry in &entries {
        let (handle, record_key) = (random_handle(), random_record_key());
        let keys = MaterialKeys::derive(&record_key);
        let sealed = keys.seal(&entry.record, class, &deployment, &handle)?;
        materials.push(Material::new(&handle, &keys.verifier(), &sealed));
        gallery_entries.push(GalleryEntry { handle, record_key, template: Quantised::of(&entry.template) });
    }
    let gallery =
        Gallery { threshold_milli, decoy_milli: (args.decoy_rate * 1000.0).round() as u16, entries: gallery_entries };
    let sealed_gallery = base64::engine::general_purpose::STANDARD.encode(gallery.seal(&master, &deployment));
    Ok(SealedEnrolment {
        custody: SEALED_CUSTODY.to_owned(),
        deployment: veilwatch::hex::hex(&deployment),
        model_id: model_id.to_owned(),
        not_before: valid_from,
        not_after: valid_until,
        entries: entries.len(),
        threshold: gallery.threshold(),
        sealed_gallery,
        materials,
    })
}

/// Sealed custody's threshold in thousandths: for `--target-fpir`, the lowest whose false alerts
/// against the stranger cohort meet the target; else `--sealed-threshold`.
fn sealed_threshold(args: &EnrollArgs, scores: Option<&SealedCohortScores>) -> Result<u16> {
    let (Some(target), Some(scores)) = (&args.target_fpir, scores) else {
        return Ok((args.sealed_threshold * 1000.0).round() as u16);
    };
    let rate = parse_rate(target).with_context(|| format!("--target-fpir `{target}` is not a rate like 1/6000"))?;
    let strangers = scores.strangers();
    let chosen = scores.threshold_for_fpir(rate).with_context(|| {
        format!(
            "no sealed threshold shows {target} false alerts against this cohort of {strangers} strangers: even with \
             none alerting, its 95% upper bound is about 3.7 / {strangers}; use a larger cohort or a looser target"
        )
    })?;
    eprintln!(
        "--target-fpir {target}: sealed threshold {:.3} (the lowest at which the 95% upper bound of the cohort's \
         {strangers} strangers' false alerts is within {target})",
        f32::from(chosen) / 1000.0
    );
    Ok(chosen)
}

/// The descriptor kiosks are given of the sealed deployment `file` (`sealed::descriptor`): its id,
/// model, window and threshold, its rows padded to whole blocks, and the SHA-256 of its sealed
/// gallery.
fn sealed_descriptor(file: &SealedEnrolment) -> Result<veilwatch::sealed::descriptor::SealedDescriptor> {
    use base64::Engine as _;
    use sha2::Digest as _;
    use veilwatch::sealed::params::DEGREE;
    let gallery = base64::engine::general_purpose::STANDARD.decode(&file.sealed_gallery)?;
    Ok(veilwatch::sealed::descriptor::SealedDescriptor {
        deployment: file.deployment.clone(),
        model_id: file.model_id.clone(),
        valid_from: format_utc(file.not_before),
        valid_until: format_utc(file.not_after),
        threshold_milli: (file.threshold * 1000.0).round() as u16,
        // The authority's blocks: the rows plus room for one decoy (`SealedGallery::blocks`).
        rows: u32::try_from((file.entries + 1).div_ceil(DEGREE) * DEGREE)?,
        gallery_sha256: veilwatch::hex::hex(&sha2::Sha256::digest(gallery)),
    })
}

/// `FILE.deployment` beside the sealed registration material `FILE`: the signed descriptor a kiosk loads.
pub fn descriptor_path(material: &Path) -> PathBuf {
    beside(material, ".deployment")
}

/// `FILE.materials.json` beside the watchlist `FILE`.
pub fn materials_path(watchlist: &Path) -> PathBuf {
    beside(watchlist, ".materials.json")
}

/// `FILE.false-alerts.json` beside the watchlist `FILE`: the per-entry estimate for `profile sign`.
pub fn false_alerts_path(watchlist: &Path) -> PathBuf {
    beside(watchlist, ".false-alerts.json")
}

fn beside(watchlist: &Path, suffix: &str) -> PathBuf {
    let mut name = watchlist.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

pub fn run(models: &Path, args: EnrollArgs) -> Result<()> {
    let engine = load_engine(models)?;
    let issuer = key_files::issuer_secret(&args.keys)?;
    if matches!(args.custody, CustodyArg::Sealed) {
        if args.target_fpir.is_some() && args.stranger_cohort.is_none() {
            bail!(
                "sealed custody chooses its threshold for --target-fpir from a stranger cohort (no shipped \
                 calibration covers it): give --stranger-cohort FILE too"
            );
        }
        if args.drop_outliers {
            bail!("--drop-outliers names entries by the LSH estimate; it does not apply to sealed custody");
        }
        let threshold_in_range = args.sealed_threshold > 0.0 && args.sealed_threshold < 1.0;
        if !threshold_in_range || !(0.0..=1.0).contains(&args.decoy_rate) {
            bail!("--sealed-threshold must be in (0, 1) and --decoy-rate in [0, 1]");
        }
    }
    let now = now_unix();
    let valid_from = args.valid_from.as_deref().map_or(Ok(now), |t| time_arg("--valid-from", t))?;
    let valid_until =
        args.valid_until.as_deref().map_or(Ok(valid_from + 30 * 86_400), |t| time_arg("--valid-until", t))?;
    let cohort = match &args.stranger_cohort {
        Some(path) => Some(
            Cohort::parse(&read(path)?, &PipelineIdentity::of(&engine)).with_context(|| path.display().to_string())?,
        ),
        None => None,
    };
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
    let (mut entries, mut photos_per_entry, mut names) = (Vec::new(), Vec::new(), Vec::new());
    for (person, result) in people.iter().zip(results) {
        if let Some((entry, photos)) = result? {
            entries.push(entry);
            photos_per_entry.push(photos);
            names.push(person.name.clone());
        }
    }
    let skipped = people.len() - entries.len();
    if matches!(args.custody, CustodyArg::Sealed) {
        let enrolled = entries.len();
        let scores = cohort.as_ref().map(|c| {
            let templates: Vec<Quantised> = entries.iter().map(|e| Quantised::of(&e.template)).collect();
            let strangers: Vec<Quantised> = c.strangers().iter().map(Quantised::of).collect();
            SealedCohortScores::new(&templates, &strangers)
        });
        let threshold_milli = sealed_threshold(&args, scores.as_ref())?;
        let file = sealed_enrolment(&args, entries, threshold_milli, engine.model_id(), valid_from, valid_until)?;
        let descriptor = sealed_descriptor(&file)?.sign(&issuer)?;
        // The material and its descriptor first, then the estimate bound to that descriptor: a
        // failure part-way leaves no estimate for a descriptor that was not written.
        replace_secret(&args.out, &serde_json::to_vec_pretty(&file)?)?;
        let descriptor_path = descriptor_path(&args.out);
        write_atomically(&descriptor_path, descriptor.as_bytes())?;
        if let Some(scores) = &scores {
            let estimate = scores.estimate(threshold_milli);
            eprintln!("expected false alerts per 1 000 passers-by at {:.3}: {}", file.threshold, describe(&estimate));
            let recorded = RecordedEstimate {
                per_1000: estimate.per_1000,
                per_1000_ci95: estimate.per_1000_ci95,
                calibration: estimate.calibration,
            };
            let path = false_alerts_path(&args.out);
            let json = serde_json::to_vec_pretty(&EstimateFile::new(descriptor.as_bytes(), threshold_milli, recorded))?;
            write_atomically(&path, &json)?;
            eprintln!("{}: the cohort's estimate, for `profile sign --false-alerts`", path.display());
        }
        eprintln!(
            "{}: sealed registration material of {enrolled} people from {photos} photos ({skipped} without a usable \
             face), deployment {}, threshold {:.2}, valid {} – {}; for `veilwatch registration deployment --sealed`. \
             {}: the signed descriptor kiosks load in its place (name it in the profile: `profile sign --watchlist`)",
            args.out.display(),
            file.deployment,
            file.threshold,
            format_utc(valid_from),
            format_utc(valid_until),
            descriptor_path.display()
        );
        return Ok(());
    }

    let cosines = |entries: &[Enrolment]| {
        let templates: Vec<Embedding> = entries.iter().map(|e| e.template.clone()).collect();
        cohort.as_ref().map(|c| CohortCosines::new(&templates, c.strangers()))
    };
    let mut chosen = choose_threshold(&args, &photos_per_entry, cosines(&entries).as_ref())?;
    let outliers = chosen.1.as_ref().map(|e| e.outliers.clone()).unwrap_or_default();
    if let Some(estimate) = &chosen.1 {
        report_outliers(estimate, &names, &args.dataset, args.drop_outliers);
    }
    let dropped = if args.drop_outliers { outliers.len() } else { 0 };
    if dropped > 0 {
        entries = without(entries, &outliers);
        photos_per_entry = without(photos_per_entry, &outliers);
        eprintln!("without them, {} entries:", entries.len());
        chosen = choose_threshold(&args, &photos_per_entry, cosines(&entries).as_ref())?;
    }
    let (threshold, per_entry) = chosen;
    let enrolled = entries.len();
    let params = WatchlistParams {
        model_id: engine.model_id().to_owned(),
        tables: args.tables,
        threshold,
        valid_from,
        valid_until,
    };
    let prf: Box<dyn Prf> = match args.custody {
        CustodyArg::Local => Box::new(key_files::local_prf(&args.keys)?),
        CustodyArg::Sealed => bail!("sealed custody writes no watchlist"),
        CustodyArg::Authority => {
            // The list's id is drawn here: its deployment key is derived from the master secret
            // and that id, and `build` enrols under the id the key is bound to.
            let mut id = [0u8; 16];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
            Box::new(key_files::deployment_key(&args.keys, &id)?)
        }
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
    if let Some(estimate) = &per_entry {
        let path = false_alerts_path(&args.out);
        let list = &estimate.list;
        let recorded = RecordedEstimate {
            per_1000: list.per_1000,
            per_1000_ci95: list.per_1000_ci95,
            calibration: list.calibration.clone(),
        };
        let json = serde_json::to_vec_pretty(&EstimateFile::new(&file, threshold, recorded))?;
        write_atomically(&path, &json)?;
        eprintln!("{}: the per-entry estimate, for `profile sign --false-alerts`", path.display());
    }
    eprintln!(
        "{}: {enrolled} people from {photos} photos ({skipped} without a usable face, {dropped} dropped as close to \
         the crowd), {} bytes, valid {} – {}",
        args.out.display(),
        file.len(),
        format_utc(valid_from),
        format_utc(valid_until)
    );
    Ok(())
}
