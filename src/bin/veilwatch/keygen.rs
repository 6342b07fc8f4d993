//! `veilwatch keygen --out DIR [--force]`: a fresh issuer key folder, its public half in
//! `DIR/public/`, its secrets in `DIR/secret/`, and the authority's folder in `DIR/authority/`
//! (see [`crate::key_files`]).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use veilwatch::hex::hex;

use crate::key_files;

#[derive(Args)]
pub struct KeygenArgs {
    /// Folder to create the keys in; it must be new or empty.
    #[arg(long)]
    out: PathBuf,
    /// Write into a folder that is not empty, replacing the keys it holds.
    #[arg(long)]
    force: bool,
}

pub fn run(args: KeygenArgs) -> Result<()> {
    let public = key_files::generate(&args.out, args.force)?;
    println!("{}", hex(&public.to_bytes()));
    let (public_dir, secret_dir) = (args.out.join(key_files::PUBLIC_DIR), args.out.join(key_files::SECRET_DIR));
    eprintln!(
        "the line above is the issuer public key, also in {} (publishable); the issuer's secret keys are in {} \
         (never publish them; only prf-local.key goes to a kiosk, and only for local custody); the authority's \
         folder is {} (copy it to the authority machine: `veilwatch authority --keys` takes it, and refuses a \
         folder holding an issuer secret key)",
        public_dir.join(key_files::ISSUER_PUBLIC).display(),
        secret_dir.display(),
        args.out.join(key_files::AUTHORITY_DIR).display()
    );
    Ok(())
}
