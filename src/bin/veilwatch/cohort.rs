//! `veilwatch cohort --fillers DIR [--limit N] --out FILE`: the stranger cohort `enroll
//! --stranger-cohort` measures each template against ([`veilwatch::eval::cohort`]), from a folder of
//! strangers laid out as for `eval --fillers` (one folder per person, its first photo). The file
//! holds embeddings of real people: it is written mode 0600 (through a temporary file and a rename,
//! so it is never half written) and belongs on the issuer's machine, not in a repository.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use veilwatch::eval::cohort::gather;
use veilwatch::eval::dataset::list_identities;
use veilwatch::eval::embedding_cache::EmbeddingCache;

use crate::eval::Bar;
use crate::files::{load_engine, replace_secret};

#[derive(Args)]
pub struct CohortArgs {
    /// Strangers on no watchlist, one folder each (its first photo by file name is used), e.g.
    /// utkface/images; each face must pass the kiosk's quality gates.
    #[arg(long)]
    fillers: PathBuf,
    /// Use only the first N folders by name.
    #[arg(long)]
    limit: Option<usize>,
    /// Where to write the cohort (mode 0600); keep it outside any repository.
    #[arg(long)]
    out: PathBuf,
    /// Reuse (and extend) embeddings kept in this file, as `eval --embedding-cache` does.
    #[arg(long)]
    embedding_cache: Option<PathBuf>,
}

pub fn run(models: &Path, args: CohortArgs) -> Result<()> {
    let started = Instant::now();
    let engine = load_engine(models)?;
    let cache = EmbeddingCache::open(args.embedding_cache.as_deref(), &engine);
    let bar = Bar::embedding("strangers");
    let mut folders = list_identities(&args.fillers, 1)?;
    folders.truncate(args.limit.unwrap_or(usize::MAX));
    let (cohort, gathered) =
        gather(&engine, &folders, &cache, &bar).with_context(|| args.fillers.display().to_string())?;
    bar.0.finish();
    cache.save().context("cannot write the embedding cache")?;
    replace_secret(&args.out, &cohort.to_bytes())?;
    eprintln!(
        "{}: {} strangers for {} from {} folders ({} without a face, {} refused by the quality gates), in {:.0} s",
        args.out.display(),
        cohort.strangers().len(),
        cohort.pipeline().model_id,
        gathered.folders,
        gathered.without_face,
        gathered.failed_gates,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
