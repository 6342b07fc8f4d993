//! `veilwatch keygen --out DIR`: a fresh issuer key folder (see [`crate::key_files`]).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use veilwatch::hex::hex;

use crate::key_files;

#[derive(Args)]
pub struct KeygenArgs {
    /// Folder to create the keys in.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: KeygenArgs) -> Result<()> {
    let public = key_files::generate(&args.out)?;
    println!("{}", hex(&public.to_bytes()));
    eprintln!("keys written to {}; the line above is the issuer public key (also in issuer.pub)", args.out.display());
    Ok(())
}
