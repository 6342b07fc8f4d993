//! `veilwatch identify FILE --issuer KEY (--prf-key FILE | --authority URL --kiosk-key FILE)
//! IMAGE…`: every face in the images that passes the kiosk's quality gates, matched against a
//! verified, loaded watchlist (a face that fails them is listed, with why, and not matched, as a
//! kiosk would: a poor photo's generic embedding collides with everyone); text or JSON.
//! Under authority custody every request is signed with the kiosk key, and each alert's reviewer
//! material is fetched from the authority (`/v1/disclose`) and opened here.
//!
//! `veilwatch identify --sealed DEPLOYMENT --authority URL --kiosk-key FILE IMAGE…`: sealed custody
//! (no watchlist here: the gallery is at the authority). Each face goes through
//! [`SealedSession`]: a BFV key pair made in this process and registered, the face encrypted under
//! it, the authority's masked answer decrypted, every positive slot claimed, and the records the
//! claim released opened and shown.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;
use veilwatch::blind::format::Watchlist;
use veilwatch::blind::matcher::{BlindMatch, Matcher, Opened};
use veilwatch::blind::prf::{Prf, VoprfClientPrf};
use veilwatch::blind::record::EntryRecord;
use veilwatch::pipeline::{Face, Quality};
use veilwatch::sealed::quantise::Quantised;
use veilwatch::sealed::session::SealedSession;
use veilwatch::time::now_unix;

use crate::authority_client::SignedAuthority;
use crate::files::{load_engine, load_image, read};
use crate::key_files;

#[derive(Args)]
pub struct IdentifyArgs {
    /// The watchlist, then the images; with --sealed, the images only.
    #[arg(required = true, value_name = "WATCHLIST IMAGE…")]
    paths: Vec<PathBuf>,
    /// The issuer's public key (64 hex digits or a file); not used with --sealed.
    #[arg(long, required_unless_present = "sealed")]
    issuer: Option<String>,
    /// Sealed custody: the deployment id (32 hex) the authority holds the gallery of; needs
    /// --authority and --kiosk-key.
    #[arg(long, requires = "authority", conflicts_with_all = ["prf_key", "issuer"])]
    sealed: Option<String>,
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
    if let Some(deployment) = &args.sealed {
        return run_sealed(models, deployment, &args);
    }
    let (Some(watchlist_path), images) = (args.paths.first(), &args.paths[1..]) else {
        bail!("give the watchlist, then the images")
    };
    if images.is_empty() {
        bail!("give at least one image after the watchlist");
    }
    let issuer = key_files::public_key(args.issuer.as_deref().context("--issuer is required without --sealed")?)?;
    let watchlist = Watchlist::parse(read(watchlist_path)?, &issuer)
        .with_context(|| format!("cannot load the watchlist {}", watchlist_path.display()))?;
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
                format!("{} is a local-custody watchlist: give --prf-key, not --authority", watchlist_path.display())
            })?,
        }),
        _ => bail!("give either --prf-key FILE (local custody) or --authority URL --kiosk-key FILE"),
    };
    let authority = client.as_ref();
    let engine = load_engine(models)?;
    let matcher = Matcher::new(watchlist, prf.as_ref(), engine.model_id(), now_unix())
        .with_context(|| format!("cannot load the watchlist {}", watchlist_path.display()))?;
    let mut results = Vec::new();
    for path in images {
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

/// One face under sealed custody: its outcome, or why the authority or the scheme refused it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SealedFace {
    face: Face,
    quality: Quality,
    matched: bool,
    /// Positive slots claimed (real matches and decoys alike).
    claimed: usize,
    /// The released records of the listed people this face matched.
    alerts: Vec<SealedAlert>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    bytes_up: usize,
    bytes_down: usize,
}

#[derive(Serialize)]
struct SealedAlert {
    handle: String,
    record: EntryRecord,
}

#[derive(Serialize)]
struct SealedImage {
    image: String,
    faces: Vec<SealedFace>,
}

/// `identify --sealed`: every face that passes the quality gates, through a [`SealedSession`].
fn run_sealed(models: &Path, deployment: &str, args: &IdentifyArgs) -> Result<()> {
    let id: [u8; 16] = veilwatch::hex::from_hex(deployment)
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("--sealed {deployment}: expected the deployment id, 32 hex digits"))?;
    let (Some(url), Some(key)) = (&args.authority, &args.kiosk_key) else {
        bail!("--sealed needs --authority URL and --kiosk-key FILE");
    };
    let client = SignedAuthority::new(url, key_files::kiosk_key(key)?, &id)?;
    let engine = load_engine(models)?;
    let mut session = SealedSession::new(id);
    let mut results = Vec::new();
    for path in &args.paths {
        let frame = load_image(path)?;
        let mut faces = Vec::new();
        for analysed in engine.analyse(&frame).with_context(|| path.display().to_string())? {
            let matched = analysed.quality.passed();
            let mut face = SealedFace {
                face: analysed.face,
                quality: analysed.quality,
                matched,
                claimed: 0,
                alerts: Vec::new(),
                error: None,
                bytes_up: 0,
                bytes_down: 0,
            };
            if matched {
                match session.identify(&Quantised::of(&analysed.embedding), &client) {
                    Ok(outcome) => {
                        face.claimed = outcome.claimed;
                        face.bytes_up = outcome.keys_bytes_up + outcome.bytes_up + outcome.claim_bytes_up;
                        face.bytes_down = outcome.bytes_down + outcome.claim_bytes_down;
                        face.alerts = outcome
                            .matches
                            .into_iter()
                            .map(|m| SealedAlert { handle: m.handle, record: m.record })
                            .collect();
                    }
                    Err(e) => face.error = Some(e.to_string()),
                }
            }
            faces.push(face);
        }
        results.push(SealedImage { image: path.display().to_string(), faces });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
        return Ok(());
    }
    for r in &results {
        println!("{}: {} face(s), sealed custody", r.image, r.faces.len());
        for f in &r.faces {
            if !f.matched {
                println!("  not matched (quality gates: {:?}): face at {:?}", f.quality.rejections, f.face.bbox);
            } else if let Some(error) = &f.error {
                println!("  not matched: {error}");
            }
            for a in &f.alerts {
                println!("  ALERT {} {} ({})", a.record.reference_id, a.record.label, a.record.category);
            }
        }
    }
    Ok(())
}
