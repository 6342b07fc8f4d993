//! `veilwatch profile sign | verify`: the issuer signs a deployment profile for a watchlist; anyone
//! with the issuer's public key verifies it (and that it names a given watchlist).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use veilwatch::governance::profile::{Profile, SignedProfile};
use veilwatch::time::now_unix;

use crate::files::{read, write_atomically};
use crate::key_files;

#[derive(Subcommand)]
pub enum ProfileCommand {
    /// Sign a profile (JSON without watchlistSha256) for a watchlist.
    Sign {
        #[arg(long)]
        keys: PathBuf,
        #[arg(long)]
        watchlist: PathBuf,
        /// Profile fields as JSON (camelCase names); watchlistSha256 is filled in from --watchlist.
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

pub fn run(args: ProfileArgs) -> Result<()> {
    match args.command {
        ProfileCommand::Sign { keys, watchlist, template, out } => sign(keys, watchlist, template, out),
        ProfileCommand::Verify { profile, issuer, watchlist } => verify(profile, &issuer, watchlist),
    }
}

fn sign(keys: PathBuf, watchlist: PathBuf, template: PathBuf, out: PathBuf) -> Result<()> {
    let profile =
        Profile::from_template(&read(&template)?, &read(&watchlist)?).with_context(|| template.display().to_string())?;
    let signed = profile.sign(&key_files::issuer_secret(&keys)?).with_context(|| template.display().to_string())?;
    write_atomically(&out, signed.as_bytes())
}

fn verify(profile: PathBuf, issuer: &str, watchlist: Option<PathBuf>) -> Result<()> {
    let in_profile = || profile.display().to_string();
    let signed =
        SignedProfile::parse(&read(&profile)?, &key_files::public_key(issuer)?, None).with_context(in_profile)?;
    signed.check_window(now_unix()).with_context(in_profile)?;
    if let Some(w) = watchlist {
        signed.check_watchlist(&read(&w)?).with_context(in_profile)?;
    }
    let p = &signed.profile;
    println!("profile OK: {} at {}, valid {} – {}", p.operator, p.location, p.valid_from, p.valid_until);
    Ok(())
}
