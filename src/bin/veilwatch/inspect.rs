//! `veilwatch inspect FILE --issuer KEY`: a watchlist's header and sizes as JSON, after its
//! signature verified. It never shows identities (it cannot: records are sealed).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;
use veilwatch::blind::format::{Watchlist, AEAD_TAG, BUCKET_ITEM, DIRECTORY_ENTRY};
use veilwatch::time::{format_utc, now_unix};

use crate::files::read;
use crate::key_files;

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

pub fn run(args: InspectArgs) -> Result<()> {
    let issuer = key_files::public_key(&args.issuer)?;
    let w = Watchlist::parse(read(&args.watchlist)?, &issuer)
        .with_context(|| format!("cannot load the watchlist {}", args.watchlist.display()))?;
    let h = &w.header;
    let pairs = h.entries as f64 * h.tables as f64;
    let bucket_bytes: usize =
        w.buckets.iter().map(|b| DIRECTORY_ENTRY + b.items as usize * BUCKET_ITEM + AEAD_TAG).sum();
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
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
