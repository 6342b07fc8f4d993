//! `veilwatch audit verify FILE`: checks an exported kiosk audit log's hash chain.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use veilwatch::governance::audit;

use crate::files::read_text;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check that no line was altered, removed, inserted or reordered.
    Verify { file: PathBuf },
}

#[derive(Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

pub fn run(args: AuditArgs) -> Result<()> {
    match args.command {
        AuditCommand::Verify { file } => {
            let entries = audit::verify(&read_text(&file)?).with_context(|| file.display().to_string())?;
            println!("{}: chain intact, {entries} entries", file.display());
            Ok(())
        }
    }
}
