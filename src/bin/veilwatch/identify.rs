//! `veilwatch identify FILE --issuer KEY (--prf-key FILE | --authority URL --kiosk-key FILE)
//! IMAGE…`: every face in the images that passes the kiosk's quality gates, matched against a
//! verified, loaded watchlist (a face that fails them is listed, with why, and not matched, as a
//! kiosk would: a poor photo's generic embedding collides with everyone); text or JSON.
//! Under authority custody every request is signed with the kiosk key, and each alert's reviewer
//! material is fetched from the authority (`/v1/disclose`) and opened here.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;
use veilwatch::blind::format::Watchlist;
use veilwatch::blind::matcher::{BlindMatch, Matcher, Opened};
use veilwatch::blind::prf::{Prf, VoprfClientPrf};
use veilwatch::blind::record::EntryRecord;
use veilwatch::pipeline::{Face, Quality};
use veilwatch::time::now_unix;

use crate::authority_client::SignedAuthority;
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
    /// Authority custody: the kiosk key file (`veilwatch kiosk-key new`) that signs the requests;
    /// its public key must be registered for the deployment.
    #[arg(long)]
    kiosk_key: Option<PathBuf>,
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Print JSON (the default output is text).
    #[arg(long)]
    json: bool,
}

/// One alert: the record (from the file, or fetched from the authority), or why it is missing.
#[derive(Serialize)]
struct Alert {
    entry: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    record: Option<EntryRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    material: Option<String>,
    collisions: u16,
    tables: u16,
    implied_cosine: f32,
}

#[derive(Serialize)]
struct FaceResult {
    face: Face,
    quality: Quality,
    /// False when the face failed a quality gate (see `quality.rejections`) and was not matched.
    matched: bool,
    alerts: Vec<Alert>,
}

#[derive(Serialize)]
struct ImageResult {
    image: String,
    faces: Vec<FaceResult>,
}

pub fn run(models: &Path, args: IdentifyArgs) -> Result<()> {
    let issuer = key_files::public_key(&args.issuer)?;
    let watchlist = Watchlist::parse(read(&args.watchlist)?, &issuer)
        .with_context(|| format!("cannot load the watchlist {}", args.watchlist.display()))?;
    let deployment = watchlist.header.watchlist_id;
    let client = match (&args.authority, &args.kiosk_key) {
        (Some(url), Some(key)) => Some(SignedAuthority::new(url, key_files::kiosk_key(key)?, &deployment)?),
        _ => None,
    };
    let prf: Box<dyn Prf + '_> = match (&args.prf_key, &client) {
        (Some(path), None) => Box::new(key_files::local_prf_from_file(path)?),
        // Every answer is verified against the deployment key in the (signed) header.
        (None, Some(client)) => Box::new(VoprfClientPrf {
            transport: client,
            deployment,
            public_key: watchlist.header.authority_key.with_context(|| {
                format!("{} is a local-custody watchlist: give --prf-key, not --authority", args.watchlist.display())
            })?,
        }),
        _ => bail!("give either --prf-key FILE (local custody) or --authority URL --kiosk-key FILE"),
    };
    let authority = client.as_ref();
    let engine = load_engine(models)?;
    let matcher = Matcher::new(watchlist, prf.as_ref(), engine.model_id(), now_unix())
        .with_context(|| format!("cannot load the watchlist {}", args.watchlist.display()))?;
    let mut results = Vec::new();
    for path in &args.images {
        let frame = load_image(path)?;
        let mut faces = Vec::new();
        for analysed in engine.analyse(&frame).with_context(|| path.display().to_string())? {
            let matched = analysed.quality.passed();
            let alerts = if matched {
                matcher
                    .match_embedding(&analysed.embedding, prf.as_ref(), now_unix())
                    .with_context(|| path.display().to_string())?
                    .into_iter()
                    .map(|found| alert(found, authority, &deployment))
                    .collect()
            } else {
                Vec::new()
            };
            faces.push(FaceResult { face: analysed.face, quality: analysed.quality, matched, alerts });
        }
        results.push(ImageResult { image: path.display().to_string(), faces });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
        return Ok(());
    }
    for r in &results {
        println!("{}: {} face(s)", r.image, r.faces.len());
        for f in r.faces.iter().filter(|f| !f.matched) {
            println!("  not matched (quality gates: {:?}): face at {:?}", f.quality.rejections, f.face.bbox);
        }
        for a in r.faces.iter().flat_map(|f| &f.alerts) {
            let what = match (&a.record, &a.material) {
                (Some(record), _) => format!("{} {} ({})", record.reference_id, record.label, record.category),
                (None, Some(why)) => why.clone(),
                (None, None) => "no record".to_owned(),
            };
            println!(
                "  ALERT {what}: {} of {} tables collide, implied cosine {:.2}",
                a.collisions, a.tables, a.implied_cosine
            );
        }
    }
    Ok(())
}

/// An alert for a match: its record, from the file or, under authority custody, disclosed by the
/// authority and opened with the entry's material key (wiped when `found` drops).
fn alert(found: BlindMatch, authority: Option<&SignedAuthority>, deployment: &[u8; 16]) -> Alert {
    let (record, material) = match (&found.opened, authority) {
        (Opened::Record(record), _) => (Some(record.clone()), None),
        (Opened::Handle { .. }, None) => (None, Some("material not available: no authority to ask".to_owned())),
        (Opened::Handle { handle, keys }, Some(authority)) => match authority.disclose(deployment, handle, keys) {
            Ok(sealed) => match keys.open(&sealed, deployment, handle) {
                Some(record) => (Some(record), None),
                None => (None, Some("material not available: the authority's answer does not open".to_owned())),
            },
            Err(e) => (None, Some(format!("material not available: {e}"))),
        },
    };
    Alert {
        entry: found.entry,
        record,
        material,
        collisions: found.collisions,
        tables: found.tables,
        implied_cosine: found.implied_cosine,
    }
}
