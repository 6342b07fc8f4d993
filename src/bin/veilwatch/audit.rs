//! `veilwatch audit verify FILE [--kiosk-key HEX|FILE] [--anchors FILE]`: checks an exported kiosk
//! audit log: its hash chain over the exact bytes of each line, that it belongs to the kiosk key,
//! and against signed heads (anchors: from the kiosk's "Export anchors" or the authority's
//! `/v1/anchor/<key>`) that it was neither rewritten nor cut short.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use veilwatch::governance::audit;

use crate::files::read_text;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check that no line was altered, removed, inserted or reordered, and with anchors that the
    /// log was not rewritten or truncated since the kiosk signed its head.
    Verify {
        file: PathBuf,
        /// The kiosk's public key (64 hex digits, or a file holding them) the log must belong to.
        #[arg(long, value_name = "HEX|FILE")]
        kiosk_key: Option<String>,
        /// Signed heads, one JSON object a line.
        #[arg(long, value_name = "FILE")]
        anchors: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

/// A key given as hex, or the path of a file holding the hex.
fn kiosk_key(given: &str) -> Result<[u8; 32]> {
    let path = Path::new(given);
    let text = if path.is_file() { read_text(path)? } else { given.to_owned() };
    audit::kiosk_key_from_hex(&text).with_context(|| format!("--kiosk-key {given}"))
}

pub fn run(args: AuditArgs) -> Result<()> {
    match args.command {
        AuditCommand::Verify { file, kiosk_key: key, anchors } => {
            let expected = key.as_deref().map(kiosk_key).transpose()?;
            let anchors = match &anchors {
                Some(path) => audit::parse_anchors(&read_text(path)?).with_context(|| path.display().to_string())?,
                None => Vec::new(),
            };
            let verified = audit::verify_log(&read_text(&file)?, expected, &anchors)
                .with_context(|| file.display().to_string())?;
            let key = verified.kiosk_key.as_deref().unwrap_or("none (the log was never bound to a kiosk key)");
            println!("{}: chain intact, {} entries, kiosk key {key}", file.display(), verified.entries);
            if verified.anchors > 0 {
                println!(
                    "anchors: {} signed heads verified; lines 1–{} are as the kiosk signed them, {} later line(s) not yet anchored",
                    verified.anchors,
                    verified.anchored_seq,
                    verified.entries as u64 - verified.anchored_seq
                );
            } else {
                println!("no anchors given: a rewritten or truncated log is only detected against anchors (--anchors)");
            }
            Ok(())
        }
    }
}
