//! `veilwatch bench authority`: the authority's capacity (DESIGN §5, §10), measured by a load
//! generator that sends valid signed requests — one face each, exactly L blinded elements of the
//! deployment's watchlist — from `--concurrency` connections for `--seconds`, and reports faces
//! per second, faces per second per core of the authority (faces ÷ the CPU seconds the authority
//! processes given by `--authority-pid` spent, from /proc), and p50/p99 latency of the answered
//! requests. Every request is signed afresh (new nonce, current time); the blinded bodies are made
//! once (a pool of faces' worth of random codes, blinded as the kiosk blinds them) because blinding
//! costs the generator as much CPU as the evaluation costs the authority. The first answer is
//! checked the way a kiosk checks it, so a run against a misconfigured authority fails instead of
//! timing refusals.
//!
//! `--sealed DEPLOYMENT` loads a sealed-custody deployment instead (DESIGN §3.4): each connection
//! is one kiosk running the real [`SealedSession`] — its own BFV key pair, registered, and re-keyed
//! as an honest kiosk re-keys — on random faces, and one face is the whole exchange (seed, match,
//! claim, proof, and the key registration when the session re-keys), timed from first request to
//! last answer. Encrypting and decrypting cost the generator 20–30 ms per face against the
//! authority's hundreds, so the faces are made on the fly.
//!
//! `--out FILE --label NAME` merges the figures into FILE (`bench.json`) under `authority.NAME`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::Args;
use ed25519_dalek::SigningKey;
use rand_core::{OsRng, RngCore};
use serde_json::{json, Value};
use veilwatch::authority::credential::{AuthorityOrigin, RequestSigner, REFUSAL};
use veilwatch::blind::format::Watchlist;
use veilwatch::blind::prf::{code_input, BlindedBatch};
use veilwatch::hex::from_hex;
use veilwatch::sealed::kiosk::system_rng;
use veilwatch::sealed::session::SealedSession;
use zeroize::Zeroizing;

use crate::authority_client::SignedAuthority;
use crate::bench_sealed::random_face as random_sealed_face;
use crate::files::write_atomically;
use crate::key_files;

const EVALUATE: &str = "/v1/evaluate";
/// Linux's USER_HZ, the unit of /proc/PID/stat's CPU times (`getconf CLK_TCK`), 100 on every
/// architecture Linux supports today.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;
/// Distinct blinded bodies the generator cycles through.
const BODIES: usize = 8;

#[derive(Args)]
pub struct BenchAuthorityArgs {
    /// The authority (or the load balancer in front of its replicas), e.g. http://127.0.0.1:8787.
    #[arg(long)]
    url: String,
    /// Kiosk key files (`veilwatch kiosk-key new`) registered for the deployment; the
    /// connections use them in turn. Repeatable.
    #[arg(long = "kiosk-key", required = true)]
    kiosk_keys: Vec<PathBuf>,
    /// The deployment's watchlist (its id and table count L).
    #[arg(long, required_unless_present = "sealed", conflicts_with = "sealed")]
    watchlist: Option<PathBuf>,
    /// The issuer's public key (64 hex or a file such as KEYS/public/issuer.pub).
    #[arg(long, required_unless_present = "sealed", conflicts_with = "sealed")]
    issuer: Option<String>,
    /// A sealed-custody deployment's id (32 hex, the `deployment` of `enroll --custody sealed`):
    /// load it with sealed sessions instead of VOPRF requests.
    #[arg(long)]
    sealed: Option<String>,
    /// Concurrent connections.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Duration of the timed run.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Process ids of the authority replicas, for faces per second per core (repeatable).
    #[arg(long = "authority-pid")]
    authority_pids: Vec<u32>,
    /// Report file to merge the figures into (under "authority").
    #[arg(long)]
    out: Option<PathBuf>,
    /// Name of this run in the report, e.g. 1_replica.
    #[arg(long, default_value = "run")]
    label: String,
}

/// utime + stime of a process, in seconds, from /proc/PID/stat.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).with_context(|| format!("no process {pid}"))?;
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    let after = &stat[stat.rfind(')').context("unexpected /proc stat format")? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / CLOCK_TICKS_PER_SECOND)
}

fn kiosk_signer(path: &PathBuf, deployment: &[u8; 16]) -> Result<RequestSigner> {
    let text =
        Zeroizing::new(std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?);
    let bytes = Zeroizing::new(from_hex(text.trim()).with_context(|| format!("{} is not hex", path.display()))?);
    let seed: [u8; 32] =
        bytes[..].try_into().ok().with_context(|| format!("{} must hold a 32-byte kiosk key", path.display()))?;
    Ok(RequestSigner::new(SigningKey::from_bytes(&seed), deployment))
}

/// One face's worth of random codes of `watchlist`, blinded.
fn random_face(watchlist: &Watchlist) -> Result<BlindedBatch> {
    let header = &watchlist.header;
    let inputs = (0..header.tables)
        .map(|l| code_input(&header.watchlist_id, l, (OsRng.next_u32() % header.code_space as u32) as u16))
        .collect();
    Ok(BlindedBatch::blind(inputs)?)
}

struct Outcome {
    latencies_ms: Vec<f64>,
    refusals: Vec<String>,
    errors: Vec<String>,
}

fn post(
    agent: &ureq::Agent,
    url: &str,
    origin: &AuthorityOrigin,
    signer: &RequestSigner,
    body: &[u8],
) -> std::result::Result<Vec<u8>, String> {
    let mut request = agent.post(&format!("{url}{EVALUATE}")).set("Content-Type", "application/octet-stream");
    for (name, value) in signer.headers(origin, "POST", EVALUATE, body, veilwatch::time::now_unix()) {
        request = request.set(name, &value);
    }
    match request.send_bytes(body) {
        Ok(response) => {
            let mut answer = Vec::new();
            std::io::Read::read_to_end(&mut response.into_reader(), &mut answer).map_err(|e| format!("read: {e}"))?;
            Ok(answer)
        }
        Err(ureq::Error::Status(status, response)) => {
            let token = response.header(REFUSAL).unwrap_or("").to_owned();
            Err(format!("{status} {token}"))
        }
        Err(e) => Err(format!("transport: {e}")),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

pub fn run(args: BenchAuthorityArgs) -> Result<()> {
    ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
    ensure!(args.seconds > 0.0, "--seconds must be positive");
    if let Some(deployment) = &args.sealed {
        return run_sealed(deployment, &args);
    }
    let (Some(watchlist), Some(issuer)) = (&args.watchlist, &args.issuer) else {
        bail!("--watchlist and --issuer are required without --sealed");
    };
    let bytes = std::fs::read(watchlist).with_context(|| format!("cannot read {}", watchlist.display()))?;
    let issuer = key_files::public_key(issuer)?;
    let watchlist = Watchlist::parse(bytes, &issuer).context("the watchlist does not verify")?;
    let deployment = watchlist.header.watchlist_id;
    let tables = watchlist.header.tables as usize;
    let signers: Vec<RequestSigner> =
        args.kiosk_keys.iter().map(|path| kiosk_signer(path, &deployment)).collect::<Result<_>>()?;
    let url = args.url.trim_end_matches('/').to_owned();
    let origin = AuthorityOrigin::of_url(&url)?;

    // The first face is checked end to end, as a kiosk checks it.
    let first = random_face(&watchlist)?;
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
    let answer = post(&agent, &url, &origin, &signers[0], first.request())
        .map_err(|e| anyhow::anyhow!("the authority at {url} refused a signed request: {e}"))?;
    let public_key = watchlist.header.authority_key.context("the watchlist is not in authority custody")?;
    first.finish(&answer, &public_key).context("the authority's answer does not verify")?;
    let bodies: Vec<Arc<Vec<u8>>> = std::iter::once(Ok(first.request().to_vec()))
        .chain((1..BODIES).map(|_| random_face(&watchlist).map(|b| b.request().to_vec())))
        .map(|b| b.map(Arc::new))
        .collect::<Result<_>>()?;

    let cpu_before: Vec<f64> = args.authority_pids.iter().map(|&pid| cpu_seconds(pid)).collect::<Result<_>>()?;
    let stop = Arc::new(AtomicBool::new(false));
    let signers = Arc::new(signers);
    let started = Instant::now();
    let workers: Vec<_> = (0..args.concurrency)
        .map(|worker| {
            let (stop, signers, bodies) = (stop.clone(), signers.clone(), bodies.clone());
            let (url, origin) = (url.clone(), origin.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
                let signer = &signers[worker % signers.len()];
                let mut outcome = Outcome { latencies_ms: Vec::new(), refusals: Vec::new(), errors: Vec::new() };
                let mut i = worker;
                while !stop.load(Ordering::Relaxed) {
                    let body = &bodies[i % bodies.len()];
                    i += 1;
                    let sent = Instant::now();
                    match post(&agent, &url, &origin, signer, body) {
                        Ok(answer) if answer.len() >= tables * 32 => {
                            outcome.latencies_ms.push(sent.elapsed().as_secs_f64() * 1000.0)
                        }
                        Ok(answer) => outcome.errors.push(format!("short answer of {} bytes", answer.len())),
                        Err(e) if e.starts_with("transport") => outcome.errors.push(e),
                        Err(e) => outcome.refusals.push(e),
                    }
                }
                outcome
            })
        })
        .collect();
    report(
        &args,
        workers,
        stop,
        started,
        &cpu_before,
        &format!("L = {tables}"),
        json!({ "custody": "voprf", "tables": tables }),
    )
}

/// Lets the workers run for `--seconds`, stops them and reports what they saw: faces per second,
/// per core of the authority, p50/p99, refusals; merged into `--out` under `authority.LABEL`
/// with `fields`.
fn report(
    args: &BenchAuthorityArgs,
    workers: Vec<std::thread::JoinHandle<Outcome>>,
    stop: Arc<AtomicBool>,
    started: Instant,
    cpu_before: &[f64],
    what: &str,
    fields: Value,
) -> Result<()> {
    std::thread::sleep(Duration::from_secs_f64(args.seconds));
    stop.store(true, Ordering::Relaxed);
    let outcomes: Vec<Outcome> = workers.into_iter().map(|w| w.join().expect("a load worker panicked")).collect();
    // Requests in flight when the time ran out finish before the join: count the real span.
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after: Vec<f64> = args.authority_pids.iter().map(|&pid| cpu_seconds(pid)).collect::<Result<_>>()?;

    let mut latencies: Vec<f64> = outcomes.iter().flat_map(|o| o.latencies_ms.iter().copied()).collect();
    latencies.sort_by(f64::total_cmp);
    let mut refusals: std::collections::BTreeMap<String, usize> = Default::default();
    for r in outcomes.iter().flat_map(|o| &o.refusals) {
        *refusals.entry(r.clone()).or_default() += 1;
    }
    let errors: Vec<&String> = outcomes.iter().flat_map(|o| &o.errors).collect();
    let faces = latencies.len();
    if faces == 0 {
        bail!("no request was answered: refusals {refusals:?}, errors {:?}", errors.first());
    }
    let faces_per_s = faces as f64 / elapsed;
    let authority_cpu_s: f64 = cpu_after.iter().zip(cpu_before).map(|(a, b)| a - b).sum();
    let per_core = (authority_cpu_s > 0.0).then(|| faces as f64 / authority_cpu_s);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (p50, p99) = (percentile(&latencies, 0.50), percentile(&latencies, 0.99));
    println!(
        "authority bench {}: {faces} faces ({what}) in {elapsed:.1} s from {} connections: {faces_per_s:.2} faces/s, \
         p50 {p50:.0} ms, p99 {p99:.0} ms",
        args.label, args.concurrency
    );
    match per_core {
        Some(per_core) => println!(
            "  the authority spent {authority_cpu_s:.1} CPU s: {per_core:.2} faces per CPU second (per core); \
             this machine has {cores} cores, shared with the load generator"
        ),
        None => println!("  (no --authority-pid: faces per core not measured)"),
    }
    if !refusals.is_empty() || !errors.is_empty() {
        println!("  refused: {refusals:?}; failed: {} (first: {:?})", errors.len(), errors.first());
    }

    if let Some(out) = &args.out {
        let mut report = crate::bench::read_report(out);
        if !report["authority"].is_object() {
            report["authority"] = json!({});
        }
        let mut figures = json!({
            "concurrency": args.concurrency,
            "seconds": elapsed,
            "faces": faces,
            "faces_per_s": faces_per_s,
            "authority_cpu_s": authority_cpu_s,
            "faces_per_core_s": per_core,
            "p50_ms": p50,
            "p99_ms": p99,
            "refused": refusals,
            "failed": errors.len(),
            "machine_cores": cores,
            "note": "the load generator runs on the same machine and shares its cores",
        });
        if let (Some(figures), Some(fields)) = (figures.as_object_mut(), fields.as_object()) {
            figures.extend(fields.clone());
        }
        report["authority"][&args.label] = figures;
        write_atomically(out, serde_json::to_string_pretty(&report)?.as_bytes())?;
        println!("wrote {} (authority.{})", out.display(), args.label);
    }
    Ok(())
}

/// `--sealed`: each connection a kiosk with its own [`SealedSession`], one face at a time.
fn run_sealed(deployment: &str, args: &BenchAuthorityArgs) -> Result<()> {
    let id: [u8; 16] = from_hex(deployment)
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("--sealed {deployment}: expected the deployment id, 32 hex digits"))?;
    // One sealed session per credential: the authority holds one BFV key pair per kiosk, and a
    // second session under the same credential would replace the first one's keys.
    ensure!(
        args.concurrency <= args.kiosk_keys.len(),
        "--sealed needs a kiosk key per connection (--concurrency {} > {} keys): a kiosk credential holds one BFV key pair",
        args.concurrency,
        args.kiosk_keys.len()
    );
    let keys: Vec<SigningKey> = args.kiosk_keys.iter().map(|path| key_files::kiosk_key(path)).collect::<Result<_>>()?;
    let url = args.url.trim_end_matches('/').to_owned();

    // The first face is run end to end, as a kiosk runs it.
    let first = SignedAuthority::new(&url, keys[0].clone(), &id)?;
    SealedSession::new(id)
        .identify(&random_sealed_face(&mut system_rng())?, &first)
        .map_err(|e| anyhow::anyhow!("the authority at {url} refused a sealed face: {e}"))?;

    let cpu_before: Vec<f64> = args.authority_pids.iter().map(|&pid| cpu_seconds(pid)).collect::<Result<_>>()?;
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..args.concurrency)
        .map(|worker| {
            let stop = stop.clone();
            let authority = SignedAuthority::new(&url, keys[worker % keys.len()].clone(), &id);
            std::thread::spawn(move || {
                let mut outcome = Outcome { latencies_ms: Vec::new(), refusals: Vec::new(), errors: Vec::new() };
                let authority = match authority {
                    Ok(authority) => authority,
                    Err(e) => {
                        outcome.errors.push(e.to_string());
                        return outcome;
                    }
                };
                let (mut session, mut rng) = (SealedSession::new(id), system_rng());
                while !stop.load(Ordering::Relaxed) {
                    let face = match random_sealed_face(&mut rng) {
                        Ok(face) => face,
                        Err(e) => {
                            outcome.errors.push(e.to_string());
                            continue;
                        }
                    };
                    let sent = Instant::now();
                    match session.identify(&face, &authority) {
                        Ok(_) => outcome.latencies_ms.push(sent.elapsed().as_secs_f64() * 1000.0),
                        Err(e) => outcome.refusals.push(e.to_string()),
                    }
                }
                outcome
            })
        })
        .collect();
    report(args, workers, stop, started, &cpu_before, "sealed custody", json!({ "custody": "bfv-sealed" }))
}
