//! The `veilwatch` command line: a thin edge over the library. Each subcommand converts its
//! arguments, calls the library and prints; no rules live here.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[path = "../cli/audit.rs"]
mod audit;
#[path = "../cli/authority.rs"]
mod authority;
#[path = "../cli/bench.rs"]
mod bench;
#[path = "../cli/common.rs"]
mod common;
#[path = "../cli/detect.rs"]
mod detect;
#[path = "../cli/eval.rs"]
mod eval;
#[path = "../cli/keys.rs"]
mod keys;
#[path = "../cli/serve.rs"]
mod serve;
#[path = "../cli/watchlist.rs"]
mod watchlist;

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
    Embed(detect::EmbedArgs),
    /// Measure verification accuracy on a folder in LFW layout (Name/Name_0001.jpg).
    Eval(eval::EvalArgs),
    /// Native speed: detection at 320×240 and 640×480, embedding per face (medians).
    Bench(bench::BenchArgs),
    /// Serve the kiosk (static files) on loopback with a strict Content-Security-Policy.
    Serve(serve::ServeArgs),
    /// Create an issuer key folder: Ed25519 signing key and both PRF keys.
    Keygen(watchlist::KeygenArgs),
    /// Build a signed, blinded watchlist: one entry per person folder.
    Enroll(watchlist::EnrollArgs),
    /// Show a watchlist's header (never identities) after checking its signature.
    Inspect(watchlist::InspectArgs),
    /// Match the faces in images against a watchlist.
    Identify(watchlist::IdentifyArgs),
    /// Evaluate blinded OPRF elements for devices (authority custody).
    Authority(authority::AuthorityArgs),
    /// Sign or verify a deployment profile.
    Profile(watchlist::ProfileArgs),
    /// Verify an exported kiosk audit log.
    Audit(audit::AuditArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Detect(args) => detect::run_detect(&cli.models, args),
        Command::Embed(args) => detect::run_embed(&cli.models, args),
        Command::Eval(args) => eval::run(&cli.models, args),
        Command::Bench(args) => bench::run(&cli.models, args),
        Command::Serve(args) => serve::run(args),
        Command::Keygen(args) => watchlist::keygen(args),
        Command::Enroll(args) => watchlist::enroll_cmd(&cli.models, args),
        Command::Inspect(args) => watchlist::inspect(args),
        Command::Identify(args) => watchlist::identify(&cli.models, args),
        Command::Authority(args) => authority::run(args),
        Command::Profile(args) => watchlist::profile(args),
        Command::Audit(args) => audit::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("veilwatch: {message}");
            ExitCode::FAILURE
        }
    }
}
