//! `veilwatch keygen | enroll | inspect | identify | profile`: the issuer's and the operator's
//! watchlist commands.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ParallelProgressIterator, ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use veilwatch::blind::enroll::{self, Enrolment, WatchlistParams};
use veilwatch::blind::format::{EntryRecord, Watchlist, BUCKET_ITEM, DIRECTORY_ENTRY};
use veilwatch::blind::matcher::{BlindMatch, Matcher};
use veilwatch::blind::prf::{OprfClientPrf, Prf};
use veilwatch::profile::{Profile, SignedProfile};
use veilwatch::time::{format_utc, now_unix, parse_utc};
use veilwatch::{align, nearest_centre, Embedding, Face, Quality};

use crate::authority::HttpAuthority;
use crate::common::{list_identities, load_engine, load_image, read, write_atomically, CliResult};
use crate::keys;

#[derive(Args)]
pub struct KeygenArgs {
    /// Folder to create the keys in.
    #[arg(long)]
    out: PathBuf,
}

pub fn keygen(args: KeygenArgs) -> CliResult {
    let public = keys::generate(&args.out)?;
    println!("{}", veilwatch::hex(&public.to_bytes()));
    eprintln!("keys written to {}; the line above is the issuer public key (also in issuer.pub)", args.out.display());
    Ok(())
}

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
    #[arg(long, value_enum, default_value_t = CustodyArg::Local)]
    custody: CustodyArg,
    /// Photos per person averaged into their template (the first ones by file name).
    #[arg(long, default_value_t = 10)]
    per_identity: usize,
    /// Category written into each sealed record.
    #[arg(long, default_value = "watchlist")]
    category: String,
    /// Source and legal basis written into each sealed record.
    #[arg(long, default_value = "enrolled by the issuer")]
    source: String,
}

pub fn enroll_cmd(models: &Path, args: EnrollArgs) -> CliResult {
    let engine = load_engine(models)?;
    let issuer = keys::issuer_secret(&args.keys)?;
    let valid_from = match &args.valid_from {
        Some(t) => parse_utc(t).ok_or_else(|| format!("--valid-from `{t}` is not YYYY-MM-DD[THH:MM:SSZ]"))?,
        None => now_unix(),
    };
    let valid_until = match &args.valid_until {
        Some(t) => parse_utc(t).ok_or_else(|| format!("--valid-until `{t}` is not YYYY-MM-DD[THH:MM:SSZ]"))?,
        None => valid_from + 30 * 86_400,
    };
    let people = list_identities(&args.dataset, args.per_identity)?;
    let total: usize = people.iter().map(|(_, images)| images.len()).sum();
    let bar = ProgressBar::new(people.len() as u64).with_style(
        ProgressStyle::with_template("enrolling {bar:40} {pos}/{len} people, {eta} left").expect("valid template"),
    );
    let enrolled_on = format_utc(now_unix())[..10].to_owned();
    let results: Vec<CliResult<Option<Enrolment>>> = people
        .par_iter()
        .enumerate()
        .progress_with(bar)
        .map(|(i, (label, images))| {
            let mut embeddings = Vec::new();
            let mut photo = None;
            for path in images {
                let frame = load_image(path)?;
                let faces = engine.detect(&frame).map_err(|e| format!("{}: {e}", path.display()))?;
                let Some(face) = nearest_centre(&faces, frame.width(), frame.height()) else { continue };
                embeddings.push(engine.analyse_face(&frame, face).map_err(|e| e.to_string())?.embedding);
                if photo.is_none() {
                    photo =
                        align::align(&frame, face).and_then(|crop| crop.to_jpeg()).map(|jpeg| veilwatch::hex(&jpeg));
                }
            }
            let Some(template) = Embedding::mean(&embeddings) else { return Ok(None) };
            Ok(Some(Enrolment {
                template,
                record: EntryRecord {
                    reference_id: format!("REF-{:06}", i + 1),
                    label: label.replace('_', " "),
                    category: args.category.clone(),
                    source: args.source.clone(),
                    enrolled: enrolled_on.clone(),
                    photo_jpeg_hex: photo,
                },
            }))
        })
        .collect();
    let mut entries = Vec::new();
    let mut skipped = 0;
    for r in results {
        match r? {
            Some(e) => entries.push(e),
            None => skipped += 1,
        }
    }
    let params = WatchlistParams { tables: args.tables, threshold: args.threshold, valid_from, valid_until };
    let prf: Box<dyn Prf> = match args.custody {
        CustodyArg::Local => Box::new(keys::local_prf(&args.keys)?),
        CustodyArg::Authority => Box::new(keys::oprf_key(&args.keys)?),
    };
    let file = enroll::build(entries, &params, prf.as_ref(), &issuer).map_err(|e| e.to_string())?;
    write_atomically(&args.out, &file)?;
    eprintln!(
        "{}: {} people from {total} photos ({skipped} without a usable face), {} bytes, valid {} – {}",
        args.out.display(),
        people.len() - skipped,
        file.len(),
        format_utc(valid_from),
        format_utc(valid_until)
    );
    Ok(())
}

#[derive(Args)]
pub struct InspectArgs {
    watchlist: PathBuf,
    /// The issuer's public key: 64 hex digits or a file holding them (issuer.pub).
    #[arg(long)]
    issuer: String,
}

#[derive(Serialize)]
struct Inspection {
    entries: u32,
    tables: u16,
    code_space: u16,
    threshold: u16,
    prf_suite: &'static str,
    model: String,
    valid_from: String,
    valid_until: String,
    currently_valid: bool,
    buckets: u32,
    bytes: usize,
    bucket_bytes_per_entry_table: f64,
    bytes_per_entry_table: f64,
    issuer: String,
}

pub fn inspect(args: InspectArgs) -> CliResult {
    let issuer = keys::public_key(&args.issuer)?;
    let w = Watchlist::parse(read(&args.watchlist)?, &issuer).map_err(|e| e.to_string())?;
    let h = &w.header;
    let pairs = h.entries as f64 * h.tables as f64;
    let bucket_bytes: usize = w.buckets.iter().map(|b| DIRECTORY_ENTRY + b.items as usize * BUCKET_ITEM + 16).sum();
    let report = Inspection {
        entries: h.entries,
        tables: h.tables,
        code_space: h.code_space,
        threshold: h.threshold,
        prf_suite: h.suite.name(),
        model: h.model_id.clone(),
        valid_from: format_utc(h.valid_from),
        valid_until: format_utc(h.valid_until),
        currently_valid: w.check_window(now_unix()).is_ok(),
        buckets: h.buckets,
        bytes: w.len_bytes(),
        bucket_bytes_per_entry_table: bucket_bytes as f64 / pairs,
        bytes_per_entry_table: w.len_bytes() as f64 / pairs,
        issuer: h.issuer_hex(),
    };
    println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?);
    Ok(())
}

#[derive(Args)]
pub struct IdentifyArgs {
    watchlist: PathBuf,
    #[arg(long)]
    issuer: String,
    /// Local custody: the hmac-sha256-local key file (prf-local.key).
    #[arg(long, conflicts_with = "authority")]
    prf_key: Option<PathBuf>,
    /// Authority custody: the authority's URL, e.g. http://127.0.0.1:8787.
    #[arg(long)]
    authority: Option<String>,
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Print JSON (the default output is text).
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct FaceResult {
    face: Face,
    quality: Quality,
    alerts: Vec<BlindMatch>,
}

#[derive(Serialize)]
struct ImageResult {
    image: String,
    faces: Vec<FaceResult>,
}

pub fn identify(models: &Path, args: IdentifyArgs) -> CliResult {
    let issuer = keys::public_key(&args.issuer)?;
    let prf: Box<dyn Prf> = match (&args.prf_key, &args.authority) {
        (Some(path), None) => Box::new(keys::local_prf_from_file(path)?),
        (None, Some(url)) => Box::new(OprfClientPrf { transport: HttpAuthority { url: url.clone() } }),
        _ => return Err("give either --prf-key FILE (local custody) or --authority URL".into()),
    };
    let watchlist = Watchlist::parse(read(&args.watchlist)?, &issuer).map_err(|e| e.to_string())?;
    let matcher = Matcher::new(watchlist, prf.as_ref(), now_unix()).map_err(|e| e.to_string())?;
    let engine = load_engine(models)?;
    let mut results = Vec::new();
    for path in &args.images {
        let frame = load_image(path)?;
        let mut faces = Vec::new();
        for analysed in engine.analyse(&frame).map_err(|e| format!("{}: {e}", path.display()))? {
            let alerts =
                matcher.match_embedding(&analysed.embedding, prf.as_ref(), now_unix()).map_err(|e| e.to_string())?;
            faces.push(FaceResult { face: analysed.face, quality: analysed.quality, alerts });
        }
        results.push(ImageResult { image: path.display().to_string(), faces });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?);
        return Ok(());
    }
    for r in &results {
        println!("{}: {} face(s)", r.image, r.faces.len());
        for f in &r.faces {
            for a in &f.alerts {
                println!(
                    "  ALERT {} {} ({}): {} of {} tables collide, implied cosine {:.2}",
                    a.record.reference_id, a.record.label, a.record.category, a.collisions, a.tables, a.implied_cosine
                );
            }
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum ProfileCommand {
    /// Sign a profile (JSON without watchlist_sha256) for a watchlist.
    Sign {
        #[arg(long)]
        keys: PathBuf,
        #[arg(long)]
        watchlist: PathBuf,
        /// Profile fields as JSON; watchlist_sha256 is filled in from --watchlist.
        #[arg(long)]
        template: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a signed profile (and, with --watchlist, that it names that watchlist).
    Verify {
        profile: PathBuf,
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        watchlist: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct ProfileArgs {
    #[command(subcommand)]
    command: ProfileCommand,
}

pub fn profile(args: ProfileArgs) -> CliResult {
    match args.command {
        ProfileCommand::Sign { keys: dir, watchlist, template, out } => {
            let mut value: serde_json::Value =
                serde_json::from_slice(&read(&template)?).map_err(|e| format!("{}: {e}", template.display()))?;
            let digest = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(read(&watchlist)?));
            value["watchlist_sha256"] = serde_json::Value::String(veilwatch::hex(&digest));
            let profile: Profile = serde_json::from_value(value).map_err(|e| format!("{}: {e}", template.display()))?;
            let signed = profile.sign(&keys::issuer_secret(&dir)?).map_err(|e| e.to_string())?;
            write_atomically(&out, signed.as_bytes())
        }
        ProfileCommand::Verify { profile, issuer, watchlist } => {
            let signed =
                SignedProfile::parse(&read(&profile)?, &keys::public_key(&issuer)?, None).map_err(|e| e.to_string())?;
            signed.check_window(now_unix()).map_err(|e| e.to_string())?;
            if let Some(w) = watchlist {
                signed.check_watchlist(&read(&w)?).map_err(|e| e.to_string())?;
            }
            println!(
                "profile OK: {} at {}, valid {} – {}",
                signed.profile.operator, signed.profile.location, signed.profile.valid_from, signed.profile.valid_until
            );
            Ok(())
        }
    }
}
