//! The `veilwatch` command line: a thin edge over the library. Each subcommand (one file each)
//! turns its arguments into plain values, calls the library and prints; no rules live here.
//! [`files`], [`key_files`] and [`http_server`] are the only helpers: files on disk, the issuer's
//! key folder, and the network side (limits, TLS, logs) of `authority` and `serve`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod audit;
mod authority;
mod authority_client;
mod bench;
mod bench_authority;
mod bench_detection;
mod bench_sealed;
mod cohort;
mod detect;
mod embed;
mod enroll;
mod eval;
mod files;
mod http_server;
mod identify;
mod inspect;
mod key_files;
mod keygen;
mod kiosk_key;
mod profile;
mod registration;
mod serve;

/// The CLI handles faces too (`identify`, `enroll`, `eval`): every heap block is zeroed before it is
/// freed or moved, as in the wasm engine (G2).
#[global_allocator]
static ZERO_ON_FREE: zeroizing_alloc::ZeroAlloc<std::alloc::System> = zeroizing_alloc::ZeroAlloc(std::alloc::System);

#[derive(Parser)]
#[command(name = "veilwatch", version, about = "On-device face matching against a blinded watchlist")]
struct Cli {
    /// Folder holding the two model files (see models/README.md).
    #[arg(long, global = true, default_value = "models", env = "VEILWATCH_MODELS")]
    models: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Detect faces in images and print boxes, landmarks and scores.
    Detect(detect::DetectArgs),
    /// Developer tool: print the embedding of the face nearest each image's centre (JSON).
    /// For test fixtures and cross-checks only; never run it on people who did not consent.
    Embed(embed::EmbedArgs),
    /// Measure verification accuracy on a folder in LFW layout (Name/Name_0001.jpg).
    Eval(eval::EvalArgs),
    /// Native speed: detection at 320×240 and 640×480, embedding per face (medians);
    /// `bench authority`: the authority's capacity under signed load; `bench detection`: how small
    /// the detector's input can be; `bench sealed`: sealed custody's cost per face.
    Bench(bench::BenchArgs),
    /// Serve the kiosk (static files) on loopback with a strict Content-Security-Policy.
    Serve(serve::ServeArgs),
    /// Create an issuer key folder: the public key in DIR/public, the signing and PRF keys in DIR/secret.
    Keygen(keygen::KeygenArgs),
    /// Build the stranger cohort `enroll --stranger-cohort` measures each entry against.
    Cohort(cohort::CohortArgs),
    /// Build a signed, blinded watchlist: one entry per person folder.
    Enroll(enroll::EnrollArgs),
    /// Show a watchlist's header (never identities) after checking its signature.
    Inspect(inspect::InspectArgs),
    /// Match the faces in images against a watchlist.
    Identify(identify::IdentifyArgs),
    /// Run the authority: evaluate blinded elements for registered kiosks (authority custody).
    Authority(authority::AuthorityArgs),
    /// Create a kiosk key (for a CLI kiosk) and print its public key.
    KioskKey(kiosk_key::KioskKeyArgs),
    /// Sign registration and revocation documents for the authority, or send one.
    Registration(registration::RegistrationArgs),
    /// Sign or verify a deployment profile.
    Profile(profile::ProfileArgs),
    /// Verify an exported kiosk audit log.
    Audit(audit::AuditArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let models = cli.models;
    let result = match cli.command {
        Command::Detect(args) => detect::run(&models, args),
        Command::Embed(args) => embed::run(&models, args),
        Command::Eval(args) => eval::run(&models, args),
        Command::Bench(args) => bench::run(&models, args),
        Command::Serve(args) => serve::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::Cohort(args) => cohort::run(&models, args),
        Command::Enroll(args) => enroll::run(&models, args),
        Command::Inspect(args) => inspect::run(args),
        Command::Identify(args) => identify::run(&models, args),
        Command::Authority(args) => authority::run(args),
        Command::KioskKey(args) => kiosk_key::run(args),
        Command::Registration(args) => registration::run(args),
        Command::Profile(args) => profile::run(args),
        Command::Audit(args) => audit::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("veilwatch: {err:#}");
            ExitCode::FAILURE
        }
    }
}
