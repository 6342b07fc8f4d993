//! `veilwatch audit verify FILE`: checks an exported kiosk audit log's hash chain.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::common::{read, CliResult};

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

pub fn run(args: AuditArgs) -> CliResult {
    match args.command {
        AuditCommand::Verify { file } => {
            let text = String::from_utf8(read(&file)?).map_err(|_| format!("{} is not UTF-8 text", file.display()))?;
            let entries = veilwatch::audit::verify(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            println!("{}: chain intact, {entries} entries", file.display());
            Ok(())
        }
    }
}
