//! `veilwatch inspect FILE --issuer KEY`: a watchlist's header and sizes as JSON, after its
//! signature verified. It never shows identities (it cannot: records are sealed), nor the number
//! of real entries (the file does not hold it: only the size class it was padded to).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use veilwatch::blind::format::Watchlist;
use veilwatch::time::{format_utc, now_unix};

use crate::files::read;
use crate::key_files;

#[derive(Args)]
pub struct InspectArgs {
    watchlist: PathBuf,
    /// The issuer's public key: 64 hex digits or a file holding them (KEYS/public/issuer.pub).
    #[arg(long)]
    issuer: String,
}

#[derive(Serialize)]
struct Inspection {
    /// Real entries and dummies: the file holds no finer count.
    entry_size_class: u32,
    record_class: &'static str,
    tables: u16,
    code_space: u16,
    threshold: u16,
    prf_suite: &'static str,
    /// The deployment's VOPRF public key (authority custody): the authority's answers must prove
    /// themselves under it, and the profile's `authorityPublicKey` must equal it.
    #[serde(skip_serializing_if = "Option::is_none")]
    authority_public_key: Option<String>,
    /// The deployment id requests to the authority name (the watchlist id).
    deployment_id: String,
    model: String,
    valid_from: String,
    valid_until: String,
    currently_valid: bool,
    buckets: u64,
    bucket_items: u8,
    bytes: usize,
    issuer: String,
}

pub fn run(args: InspectArgs) -> Result<()> {
    let issuer = key_files::public_key(&args.issuer)?;
    let w = Watchlist::parse(read(&args.watchlist)?, &issuer)
        .with_context(|| format!("cannot load the watchlist {}", args.watchlist.display()))?;
    let h = &w.header;
    let report = Inspection {
        entry_size_class: h.entries,
        record_class: h.record_class.name(),
        tables: h.tables,
        code_space: h.code_space,
        threshold: h.threshold,
        prf_suite: h.suite.name(),
        authority_public_key: h.authority_key.map(|k| veilwatch::hex::hex(&k)),
        deployment_id: veilwatch::hex::hex(&h.watchlist_id),
        model: h.model_id.clone(),
        valid_from: format_utc(h.valid_from),
        valid_until: format_utc(h.valid_until),
        currently_valid: w.check_window(now_unix()).is_ok(),
        buckets: h.bucket_count(),
        bucket_items: h.bucket_items,
        bytes: w.len_bytes(),
        issuer: h.issuer_hex(),
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
