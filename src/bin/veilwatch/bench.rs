//! `veilwatch bench`: native medians for the stages the kiosk runs on every frame.
//!
//! The input is a real LFW photo placed on a 320×240 and a 640×480 canvas. `--frames-out` also
//! writes those exact frames (raw RGBA) and the aligned crop (raw RGB), so that `make bench` can time
//! the wasm build and onnxruntime-web on identical bytes. Medians go to `bench.json` under "native";
//! the blind-matching costs of synthetic watchlists (`--watchlists` sizes) under "watchlists".
//! `veilwatch bench authority …` is the authority's load generator ([`crate::bench_authority`]);
//! `veilwatch bench detection …` measures how small the detector's input can be
//! ([`crate::bench_detection`]); `veilwatch bench sealed` what sealed custody costs per face
//! ([`crate::bench_sealed`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use clap::builder::RangedU64ValueParser;
use clap::{Args, Subcommand};
use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use serde_json::{json, Value};
use veilwatch::authority::registration::{Budgets, Document, HexBytes};
use veilwatch::blind::enroll::{build, synthetic_enrolments, WatchlistParams};
use veilwatch::blind::format::{Watchlist, MAX_ENTRIES};
use veilwatch::blind::matcher::Matcher;
use veilwatch::blind::prf::{DeploymentKey, LocalHmac, MasterSecret, Prf, VoprfClientPrf};
use veilwatch::blind::{DEFAULT_TABLES, DEFAULT_THRESHOLD};
use veilwatch::pipeline::{align, Frame};
use veilwatch::time::now_unix;
use veilwatch::Embedding;

use crate::authority;
use crate::authority_client::SignedAuthority;
use crate::files::{create_dir, load_engine, load_image, write_atomically};
use crate::registration::registration_for;

/// The photo every benchmark uses, relative to the data folder.
const BENCH_PHOTO: &str = "lfw/images/Aaron_Sorkin/Aaron_Sorkin_0001.jpg";

/// The model id the synthetic watchlists name: their templates are random unit vectors, not the
/// output of any embedding model.
const SYNTHETIC_MODEL: &str = "synthetic-unit-vectors";

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    mode: Option<BenchMode>,
    /// Data folder (default: $VEILWATCH_DATA or ../shared/data).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Timed runs per measurement (after 3 warm-up runs).
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// Also write the benchmark inputs here (raw RGBA frames, raw RGB crop).
    #[arg(long)]
    frames_out: Option<PathBuf>,
    /// Report file to merge the "native" medians into.
    #[arg(long, default_value = "bench.json")]
    out: PathBuf,
    /// Synthetic watchlist sizes for the blind-matching benchmark (comma-separated; each from 1 to
    /// the most entries a watchlist holds).
    #[arg(
        long,
        default_value = "1000,10000,100000",
        value_delimiter = ',',
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=u64::from(MAX_ENTRIES)),
    )]
    watchlists: Vec<usize>,
}

#[derive(Subcommand)]
enum BenchMode {
    /// The authority's capacity: a load generator sending valid signed requests of L elements.
    Authority(crate::bench_authority::BenchAuthorityArgs),
    /// How small the detector's input can be: LFW photos composed into frames, detected at the
    /// full input and smaller ones (miss rate of gate-accepted faces, time).
    Detection(crate::bench_detection::BenchDetectionArgs),
    /// Sealed custody's cost per face, natively: the kiosk's side against VOPRF custody's device
    /// half in the same process, the authority's answer per core and per machine, bytes each way.
    Sealed(crate::bench_sealed::BenchSealedArgs),
}

pub(crate) fn data_dir(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| std::env::var_os("VEILWATCH_DATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("../shared/data"))
}

/// The photo scaled to the canvas height and centred on mid-grey.
fn canvas(photo: &Frame, width: u32, height: u32) -> Frame {
    let scale = height as f32 / photo.height() as f32;
    let offset = (width as f32 - photo.width() as f32 * scale) / 2.0;
    let mut rgba = vec![128u8; (width * height * 4) as usize];
    for y in 0..height {
        for x in 0..width {
            let (sx, sy) = ((x as f32 + 0.5 - offset) / scale - 0.5, (y as f32 + 0.5) / scale - 0.5);
            if sx < -0.5 || sx > photo.width() as f32 - 0.5 {
                continue;
            }
            let i = ((y * width + x) * 4) as usize;
            for c in 0..3 {
                rgba[i + c] = photo.sample(sx.max(0.0), sy.max(0.0), c).round() as u8;
            }
        }
    }
    Frame::from_rgba(width, height, &rgba).expect("canvas sized from its dimensions")
}

/// The report file `path` as it stands: every benchmark merges its own sections into the same
/// `bench.json`; a missing or unreadable one starts afresh.
pub(crate) fn read_report(path: &Path) -> Value {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}))
}

/// Median in ms of `runs` timed calls of `f`, after 3 warm-up calls.
pub(crate) fn median_ms(runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    for _ in 0..3 {
        f()?;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(times[times.len() / 2])
}

fn rgba_of(frame: &Frame) -> Vec<u8> {
    frame.rgb().chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect()
}

pub fn run(models: &Path, args: BenchArgs) -> Result<()> {
    match args.mode {
        Some(BenchMode::Authority(authority)) => return crate::bench_authority::run(authority),
        Some(BenchMode::Detection(detection)) => return crate::bench_detection::run(models, detection),
        Some(BenchMode::Sealed(sealed)) => return crate::bench_sealed::run(sealed),
        None => {}
    }
    let photo_path = data_dir(args.data).join(BENCH_PHOTO);
    ensure!(
        photo_path.is_file(),
        "benchmark photo {} is missing; set VEILWATCH_DATA to the shared data folder",
        photo_path.display()
    );
    let engine = load_engine(models)?;
    let photo = load_image(&photo_path)?;
    let mut native = serde_json::Map::new();
    for (key, width, height) in [("detect_320x240", 320, 240), ("detect_640x480", 640, 480)] {
        let frame = canvas(&photo, width, height);
        let ms = median_ms(args.runs, || Ok(engine.detect(&frame).map(drop)?))?;
        println!("native {key}: {ms:.2} ms (median of {})", args.runs);
        native.insert(key.into(), json!({ "veilwatch_ms": ms }));
        if let Some(dir) = &args.frames_out {
            create_dir(dir)?;
            write_atomically(&dir.join(format!("{key}.rgba")), &rgba_of(&frame))?;
        }
    }
    let face = engine.analyse_still(&photo)?.context("no face found in the benchmark photo")?.face;
    let crop = align::align(&photo, &face).context("the benchmark face cannot be aligned")?;
    let ms = median_ms(args.runs, || Ok(engine.embed_crop(&crop).map(drop)?))?;
    println!("native embed (per face): {ms:.2} ms (median of {})", args.runs);
    native.insert("embed".into(), json!({ "veilwatch_ms": ms }));
    if let Some(dir) = &args.frames_out {
        write_atomically(&dir.join("embed_112x112.rgb"), crop.rgb())?;
    }

    let mut report = read_report(&args.out);
    report["native"] = Value::Object(native);
    report["watchlists"] = watchlist_bench(&args.watchlists, args.runs)?;
    report["authority_client"] = client_prf_bench(args.runs)?;
    write_atomically(&args.out, serde_json::to_string_pretty(&report)?.as_bytes())?;
    println!("wrote {}", args.out.display());
    Ok(())
}

/// Synthetic watchlists of random unit vectors: file size, load time (parse, signature, key check)
/// and per-face match time with the local PRF and with the OPRF against an authority on loopback,
/// each as a ratio to a plain (unblinded) cosine scan over the same templates in this process.
fn watchlist_bench(sizes: &[usize], runs: usize) -> Result<Value> {
    let issuer = SigningKey::generate(&mut OsRng);
    let local = LocalHmac::new([0x42; 32]);
    let master = MasterSecret::generate();
    let now = now_unix();
    let params = WatchlistParams::default_for_a_day(SYNTHETIC_MODEL, now);
    // Each size's authority-custody watchlist is its own deployment: built first, then registered
    // at the authority for one kiosk, with budgets that do not limit the measurement.
    let mut built = Vec::new();
    for &n in sizes {
        let enrolments = synthetic_enrolments(n);
        let mut deployment = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut OsRng, &mut deployment);
        let voprf = DeploymentKey::derive(&master, &deployment)?;
        let mut files = Vec::new();
        for prf in [&local as &dyn Prf, &voprf as &dyn Prf] {
            let start = Instant::now();
            let file = build(enrolments.clone(), &params, prf, &issuer)?;
            files.push((file, start.elapsed().as_secs_f64()));
        }
        built.push((n, enrolments, files));
    }
    let kiosk = SigningKey::generate(&mut OsRng);
    let unlimited = Budgets {
        faces_per_minute: u32::MAX,
        faces_per_day: u32::MAX,
        faces_total: u64::MAX,
        disclosures_per_hour: 1,
        deployment_disclosures_per_hour: 1,
        deployment_disclosures_per_day: 1,
    };
    let mut documents = Vec::new();
    for (_, _, files) in &built {
        let header = Watchlist::parse(files[1].0.clone(), &issuer.verifying_key())?.header;
        let kiosks = vec![HexBytes(kiosk.verifying_key().to_bytes())];
        documents.push(Document::RegisterDeployment(registration_for(&header, kiosks, unlimited, Vec::new(), now)));
    }
    let authority =
        authority::spawn_on_loopback(MasterSecret::from_bytes(master.as_bytes())?, issuer.clone(), documents)?;
    let mut out = serde_json::Map::new();
    println!("blind matching, L = {DEFAULT_TABLES}, m = {DEFAULT_THRESHOLD} (medians; ratio = blind ÷ plain cosine scan of the same templates):");
    for (n, enrolments, files) in built {
        let templates: Vec<Embedding> = enrolments.iter().map(|e| e.template.clone()).collect();
        let mut measured = serde_json::Map::new();
        for (custody, (file, build_s)) in ["local", "voprf"].into_iter().zip(files) {
            let bytes = file.len();
            let header = Watchlist::parse(file.clone(), &issuer.verifying_key())?.header;
            let id = header.watchlist_id;
            let client = SignedAuthority::new(&format!("http://{authority}"), kiosk.clone(), &id)?;
            let device = VoprfClientPrf {
                transport: &client,
                deployment: id,
                public_key: DeploymentKey::derive(&master, &id)?.public_key(),
            };
            let device_prf: &dyn Prf = if custody == "local" { &local } else { &device };
            let start = Instant::now();
            let matcher = Matcher::load(file, &issuer.verifying_key(), device_prf, SYNTHETIC_MODEL, now)?;
            let load_ms = start.elapsed().as_secs_f64() * 1000.0;
            let mut probes = templates.iter().cycle();
            let match_ms = median_ms(runs, || {
                let probe = probes.next().expect("cycle");
                let found = matcher.match_embedding(probe, device_prf, now)?;
                ensure!(!found.is_empty(), "an enrolled template did not match itself");
                Ok(())
            })?;
            let mut probes = templates.iter().cycle();
            let scan_ms = median_ms(runs, || {
                let probe = probes.next().expect("cycle");
                let best = templates.iter().map(|t| t.cosine(probe)).fold(f32::MIN, f32::max);
                std::hint::black_box(best);
                Ok(())
            })?;
            let per_pair = bytes as f64 / (n as f64 * DEFAULT_TABLES as f64);
            println!(
                "  {n:>6} entries, {custody:<5}: {:>8.1} MB ({per_pair:.2} B per entry·table), built in {build_s:.1} s, \
                 loaded in {load_ms:.0} ms, match {match_ms:.2} ms per face ({:.1}× the plain scan's {scan_ms:.3} ms)",
                bytes as f64 / 1e6,
                match_ms / scan_ms
            );
            measured.insert(
                custody.into(),
                json!({ "bytes": bytes, "bytes_per_entry_table": per_pair, "build_s": build_s, "load_ms": load_ms,
                        "match_ms": match_ms, "plain_scan_ms": scan_ms, "ratio_to_plain_scan": match_ms / scan_ms }),
            );
        }
        out.insert(n.to_string(), Value::Object(measured));
    }
    Ok(Value::Object(out))
}

/// The device's cost per face of authority custody at L = DEFAULT_TABLES, VOPRF (blind, then
/// verify the batched proof and unblind) against plain OPRF mode (blind, unblind), the authority's
/// half done in process and not timed; medians, and their ratio.
fn client_prf_bench(runs: usize) -> Result<Value> {
    use veilwatch::blind::client_cost::ClientCost;
    let cost = ClientCost::new(DEFAULT_TABLES)?;
    let (mut voprf, mut oprf) = (Vec::new(), Vec::new());
    for _ in 0..runs.max(3) {
        let start = Instant::now();
        let batch = cost.voprf_blind()?;
        let blind = start.elapsed();
        let answer = cost.voprf_answer(batch.request())?;
        let start = Instant::now();
        ensure!(cost.voprf_finish(&batch, &answer)? == DEFAULT_TABLES as usize, "VOPRF outputs missing");
        voprf.push((blind + start.elapsed()).as_secs_f64() * 1000.0);

        let start = Instant::now();
        let batch = cost.oprf_blind()?;
        let blind = start.elapsed();
        let answer = cost.oprf_answer(&batch);
        let start = Instant::now();
        ensure!(cost.oprf_finish(&batch, &answer)? == DEFAULT_TABLES as usize, "OPRF outputs missing");
        oprf.push((blind + start.elapsed()).as_secs_f64() * 1000.0);
    }
    let median = |mut xs: Vec<f64>| {
        xs.sort_by(f64::total_cmp);
        xs[xs.len() / 2]
    };
    let (voprf, oprf) = (median(voprf), median(oprf));
    println!(
        "authority custody, device per face at L = {DEFAULT_TABLES}: VOPRF {voprf:.1} ms (blind + verify proof + unblind), \
         plain OPRF {oprf:.1} ms (blind + unblind), ratio {:.2}×",
        voprf / oprf
    );
    Ok(json!({"tables": DEFAULT_TABLES, "voprf_ms": voprf, "oprf_ms": oprf, "ratio": voprf / oprf}))
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;
    use clap::Parser;
    use veilwatch::blind::format::MAX_ENTRIES;

    use crate::{Cli, Command};

    /// `veilwatch bench --watchlists VALUE` through the real command line, up to the parsed sizes.
    fn watchlists(value: &str) -> Result<Vec<usize>, clap::Error> {
        match Cli::try_parse_from(["veilwatch", "bench", "--watchlists", value])?.command {
            Command::Bench(args) => Ok(args.watchlists),
            _ => unreachable!("`bench` parses as the bench subcommand"),
        }
    }

    #[test]
    fn watchlist_sizes_are_a_comma_separated_list_of_sizes_a_watchlist_can_have() {
        assert_eq!(watchlists("1000,10000").unwrap(), [1000, 10_000]);
        assert_eq!(watchlists("1").unwrap(), [1]);
        assert_eq!(watchlists(&MAX_ENTRIES.to_string()).unwrap(), [MAX_ENTRIES as usize]);
        let Command::Bench(defaults) = Cli::try_parse_from(["veilwatch", "bench"]).unwrap().command else {
            unreachable!("`bench` parses as the bench subcommand")
        };
        assert_eq!(defaults.watchlists, [1000, 10_000, 100_000]);
    }

    /// Each refused at parsing, with clap's usage error (exit status 2) naming the option, before any
    /// benchmark runs: an empty list, an empty item, a size no watchlist can have (0, or more than
    /// `MAX_ENTRIES`, which would also build the synthetic entries before enrolment refuses them).
    #[test]
    fn an_empty_or_impossible_watchlist_size_is_a_usage_error() {
        let too_many = (MAX_ENTRIES + 1).to_string();
        for value in ["", ",", "1,,2", "1000,", "0", "1000,0", &too_many, "ten"] {
            let err = watchlists(value).expect_err(value);
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "{value:?}: {err}");
            assert_eq!(err.exit_code(), 2, "{value:?}");
            assert!(err.to_string().contains("--watchlists"), "{value:?}: {err}");
        }
    }
}
