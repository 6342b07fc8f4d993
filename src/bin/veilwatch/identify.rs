//! `veilwatch identify FILE --issuer KEY (--prf-key FILE | --authority URL --kiosk-key FILE) IMAGE…`: every face in
//! the images, matched against a verified, loaded watchlist; text or JSON.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;
use veilwatch::authority::credential::RequestSigner;
use veilwatch::blind::format::Watchlist;
use veilwatch::blind::matcher::{BlindMatch, Matcher};
use veilwatch::blind::prf::{Prf, VoprfClientPrf};
use veilwatch::pipeline::{Face, Quality};
use veilwatch::time::now_unix;

use crate::authority::HttpAuthority;
use crate::files::{load_engine, load_image, read};
use crate::key_files;

#[derive(Args)]
pub struct IdentifyArgs {
    watchlist: PathBuf,
    #[arg(long)]
    issuer: String,
    /// Local custody: the hmac-sha256-local key file (KEYS/secret/prf-local.key).
    #[arg(long, conflicts_with = "authority")]
    prf_key: Option<PathBuf>,
    /// Authority custody: the authority's URL, e.g. http://127.0.0.1:8787.
    #[arg(long, requires = "kiosk_key")]
    authority: Option<String>,
    /// Authority custody: this kiosk's key file (`veilwatch kiosk-key new`), registered for the
    /// deployment; every request to the authority is signed with it.
    #[arg(long)]
    kiosk_key: Option<PathBuf>,
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

pub fn run(models: &Path, args: IdentifyArgs) -> Result<()> {
    let issuer = key_files::public_key(&args.issuer)?;
    let in_watchlist = || format!("cannot load the watchlist {}", args.watchlist.display());
    let watchlist = Watchlist::parse(read(&args.watchlist)?, &issuer).with_context(in_watchlist)?;
    let prf: Box<dyn Prf> = match (&args.prf_key, &args.authority) {
        (Some(path), None) => Box::new(key_files::local_prf_from_file(path)?),
        // Every answer is verified against the deployment key in the (signed) header; every
        // request is signed by the kiosk key for the deployment (the watchlist's id).
        (None, Some(url)) => {
            let kiosk_key = key_files::kiosk_key(args.kiosk_key.as_deref().context("--authority needs --kiosk-key")?)?;
            let id = watchlist.header.watchlist_id;
            Box::new(VoprfClientPrf {
                transport: HttpAuthority { url: url.clone(), signer: Some(RequestSigner::new(kiosk_key, &id)) },
                deployment: id,
                public_key: watchlist.header.authority_key.with_context(|| {
                    format!("{} is a local-custody watchlist: give --prf-key, not --authority", args.watchlist.display())
                })?,
            })
        }
        _ => bail!("give either --prf-key FILE (local custody) or --authority URL"),
    };
    let engine = load_engine(models)?;
    let matcher = Matcher::new(watchlist, prf.as_ref(), engine.model_id(), now_unix()).with_context(in_watchlist)?;
    let mut results = Vec::new();
    for path in &args.images {
        let frame = load_image(path)?;
        let mut faces = Vec::new();
        for analysed in engine.analyse(&frame).with_context(|| path.display().to_string())? {
            let alerts = matcher
                .match_embedding(&analysed.embedding, prf.as_ref(), now_unix())
                .with_context(|| path.display().to_string())?;
            faces.push(FaceResult { face: analysed.face, quality: analysed.quality, alerts });
        }
        results.push(ImageResult { image: path.display().to_string(), faces });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
        return Ok(());
    }
    for r in &results {
        println!("{}: {} face(s)", r.image, r.faces.len());
        for a in r.faces.iter().flat_map(|f| &f.alerts) {
            println!(
                "  ALERT {} {} ({}): {} of {} tables collide, implied cosine {:.2}",
                a.record.reference_id, a.record.label, a.record.category, a.collisions, a.tables, a.implied_cosine
            );
        }
    }
    Ok(())
}
