//! `veilwatch kiosk-key new --out FILE`: a kiosk's Ed25519 key for a CLI kiosk (`identify
//! --authority`, the load generator, tests). The file holds the secret as 64 hex digits (mode
//! 0600, never overwritten); the public key, printed on stdout, is what the issuer registers.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use veilwatch::hex::hex;

use crate::key_files;

#[derive(Subcommand)]
pub enum KioskKeyCommand {
    /// Create a kiosk key file and print its public key.
    New {
        /// The key file to create; an existing file is never replaced.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args)]
pub struct KioskKeyArgs {
    #[command(subcommand)]
    command: KioskKeyCommand,
}

pub fn run(args: KioskKeyArgs) -> Result<()> {
    match args.command {
        KioskKeyCommand::New { out } => {
            let public = key_files::new_kiosk_key(&out)?;
            println!("{}", hex(public.as_bytes()));
            eprintln!(
                "the line above is the kiosk's public key: give it to the issuer to register (`veilwatch registration \
                 deployment --kiosk-key …`); the secret stays in {}",
                out.display()
            );
            Ok(())
        }
    }
}
