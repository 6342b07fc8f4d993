//! Real processes on loopback for the tests that attack or scale out the authority
//! (`tests/attacks/`, `tests/authority_replicas.rs`): a `redis-server` in a temporary folder, one or
//! more `veilwatch authority` replicas, `haproxy` in front of them; and what a kiosk (or an
//! attacker holding one) does with them: a deployment enrolled and registered through the CLI,
//! requests signed with a kiosk key.
//!
//! Every process is stopped when its value is dropped (SIGKILL, then reaped), so a failing test
//! leaves nothing running. A missing `redis-server` or `haproxy` is a loud skip, and a failure
//! under `CI=true` (`tools/setup` installs both).
//!
//! The processes are `tests/common/process.rs`'s, reached with `tests/common/http.rs`'s client.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use veilwatch::authority::credential::RequestSigner;

use super::process::{free_port, tool_or_skip, veilwatch, Process, Server};

/// A `redis-server` on a free loopback port with its files in `dir`: no RDB snapshots, an
/// append-only file synced on every write, so that a restart in the same folder keeps every
/// budget charged before the stop.
pub struct Redis {
    pub port: u16,
    pub dir: PathBuf,
    process: Option<Process>,
}

impl Redis {
    pub fn start(dir: &Path) -> Option<Redis> {
        tool_or_skip("redis-server")?;
        std::fs::create_dir_all(dir).unwrap();
        let mut redis = Redis { port: free_port(), dir: dir.to_owned(), process: None };
        redis.restart();
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts it (again) on the same port and folder.
    pub fn restart(&mut self) {
        assert!(self.process.is_none(), "redis-server is already running");
        let mut command = Command::new("redis-server");
        command.args([
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--dir",
            self.dir.to_str().unwrap(),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--daemonize",
            "no",
        ]);
        let mut process = Process::spawn("redis-server", &mut command, self.dir.join("redis.log"));
        process.wait_for_port(self.port, Duration::from_secs(30));
        // Loading the append-only file happens before PING answers PONG.
        let start = Instant::now();
        while self.command(&["PING"]).as_deref() != Some("+PONG") {
            assert!(start.elapsed() < Duration::from_secs(20), "redis-server does not answer PING");
            std::thread::sleep(Duration::from_millis(25));
        }
        self.process = Some(process);
    }

    /// Stops it (SIGTERM: it syncs the append-only file and exits).
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.terminate();
        }
    }

    /// Kills it (SIGKILL: what a crash looks like; every write was already fsynced).
    pub fn crash(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// One command in RESP, its first reply line (`+PONG`, `:42`, `$-1`, …); `None` if unreachable.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).ok()?;
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        while stream.read(&mut byte).ok()? == 1 && byte[0] != b'\n' {
            answer.push(byte[0]);
        }
        Some(String::from_utf8_lossy(&answer).trim_end().to_owned())
    }
}

/// An issuer's deployment, made through the CLI as an issuer makes one: key folder, an
/// authority-custody watchlist with its reviewer materials, and kiosk keys.
pub struct Deployment {
    pub keys: PathBuf,
    pub watchlist: PathBuf,
    pub materials: PathBuf,
    pub issuer_public: PathBuf,
    /// The watchlist id, 32 hex (the deployment id).
    pub id_hex: String,
    pub id: [u8; 16],
    pub tables: usize,
}

/// Budgets of a registration (protocol D/E).
#[derive(Clone, Copy, Debug)]
pub struct Budgets {
    pub faces_per_minute: u64,
    pub faces_per_day: u64,
    pub faces_total: u64,
    pub disclosures_per_hour: u64,
}

impl Deployment {
    /// `veilwatch keygen`, then `veilwatch enroll --custody authority` of the person folders in
    /// `dataset` (one photo each is enough), in `dir`.
    pub fn enrol(dir: &Path, dataset: &Path, per_identity: usize) -> Deployment {
        let keys = dir.join("keys");
        veilwatch(&["keygen", "--out", keys.to_str().unwrap()]);
        let watchlist = dir.join("watchlist.vwl");
        veilwatch(&[
            "enroll",
            dataset.to_str().unwrap(),
            "--keys",
            keys.to_str().unwrap(),
            "--out",
            watchlist.to_str().unwrap(),
            "--custody",
            "authority",
            "--per-identity",
            &per_identity.to_string(),
        ]);
        let bytes = std::fs::read(&watchlist).unwrap();
        let issuer_public = keys.join("public/issuer.pub");
        let issuer = read_public_key(&issuer_public);
        let parsed = veilwatch::blind::format::Watchlist::parse(bytes, &issuer).unwrap();
        let id = parsed.header.watchlist_id;
        let mut materials = watchlist.clone().into_os_string();
        materials.push(".materials.json");
        Deployment {
            keys,
            watchlist,
            materials: PathBuf::from(materials),
            issuer_public,
            id_hex: veilwatch::hex::hex(&id),
            id,
            tables: parsed.header.tables as usize,
        }
    }

    /// A signed registration document for `kiosks` with `budgets`, written to `out`.
    pub fn registration(&self, kiosks: &[&Kiosk], budgets: Budgets, out: &Path) -> PathBuf {
        let mut args: Vec<String> = [
            "registration",
            "deployment",
            "--keys",
            self.keys.to_str().unwrap(),
            "--watchlist",
            self.watchlist.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec();
        if self.materials.exists() {
            args.extend(["--materials".into(), self.materials.to_str().unwrap().into()]);
        }
        for kiosk in kiosks {
            args.extend(["--kiosk-key".into(), kiosk.public_hex.clone()]);
        }
        args.extend([
            "--faces-per-minute".into(),
            budgets.faces_per_minute.to_string(),
            "--faces-per-day".into(),
            budgets.faces_per_day.to_string(),
            "--faces-total".into(),
            budgets.faces_total.to_string(),
            "--disclosures-per-hour".into(),
            budgets.disclosures_per_hour.to_string(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ]);
        veilwatch(&args.iter().map(String::as_str).collect::<Vec<_>>());
        out.to_owned()
    }
}

pub fn read_public_key(path: &Path) -> ed25519_dalek::VerifyingKey {
    let text = std::fs::read_to_string(path).unwrap();
    let bytes: [u8; 32] = veilwatch::hex::from_hex(text.trim()).unwrap().try_into().unwrap();
    ed25519_dalek::VerifyingKey::from_bytes(&bytes).unwrap()
}

/// A kiosk key made with `veilwatch kiosk-key new`, and its signer for one deployment.
pub struct Kiosk {
    pub file: PathBuf,
    pub public_hex: String,
    pub signer: RequestSigner,
}

impl Kiosk {
    pub fn new(dir: &Path, name: &str, deployment: &[u8; 16]) -> Kiosk {
        let file = dir.join(format!("{name}.kiosk.key"));
        let printed = veilwatch(&["kiosk-key", "new", "--out", file.to_str().unwrap()]);
        let secret: [u8; 32] =
            veilwatch::hex::from_hex(std::fs::read_to_string(&file).unwrap().trim()).unwrap().try_into().unwrap();
        let key = SigningKey::from_bytes(&secret);
        let public_hex = veilwatch::hex::hex(key.verifying_key().as_bytes());
        assert_eq!(printed.trim(), public_hex, "kiosk-key new prints the public key");
        Kiosk { file, public_hex, signer: RequestSigner::new(key, deployment) }
    }
}

/// One `veilwatch authority` replica: `veilwatch authority --keys KEYS/authority EXTRA…` on a free
/// loopback port, its admin listener on another (KEYS: the issuer's folder from keygen), with its
/// stdout and stderr in a log in `log_dir`, once it accepts connections.
pub fn authority(keys: &Path, extra: &[&str], log_dir: &Path) -> Server {
    let authority_keys = keys.join("authority");
    let mut args = vec!["authority", "--keys", authority_keys.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start_logged(&args, log_dir)
}

/// `haproxy` on loopback `port`, round-robin over `backends` with HTTP health checks every
/// 200 ms (`GET /v1/health`), retrying a connection a dead replica refused on the next one.
pub struct Haproxy {
    pub port: u16,
    pub process: Process,
}

impl Haproxy {
    pub fn start(port: u16, backends: &[u16], dir: &Path) -> Option<Haproxy> {
        let haproxy = tool_or_skip("haproxy")?;
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, p)| format!("  server replica{i} 127.0.0.1:{p} check inter 200ms fall 2 rise 2\n"))
            .collect();
        let config = format!(
            "global\n  maxconn 2000\n\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n  \
             timeout server 60s\n  retries 2\n  option redispatch\n  retry-on conn-failure empty-response\n\n\
             frontend authority\n  bind 127.0.0.1:{port}\n  default_backend replicas\n\n\
             backend replicas\n  balance roundrobin\n  option httpchk GET /v1/health\n  http-check expect status 200\n{servers}"
        );
        let path = dir.join(format!("haproxy-{port}.cfg"));
        std::fs::write(&path, config).unwrap();
        let check = Command::new(&haproxy).args(["-c", "-f", path.to_str().unwrap()]).output().unwrap();
        assert!(check.status.success(), "haproxy config: {}", String::from_utf8_lossy(&check.stderr));
        let mut command = Command::new(&haproxy);
        command.args(["-db", "-f", path.to_str().unwrap()]);
        let mut process = Process::spawn("haproxy", &mut command, dir.join(format!("haproxy-{port}.log")));
        process.wait_for_port(port, Duration::from_secs(30));
        Some(Haproxy { port, process })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// `n` people of `$VEILWATCH_DATA/lfw/images` (the first in name order with at least one photo),
/// linked into `dir` as an enrolment dataset; `None` (loud skip, CI failure) without the data.
pub fn lfw_people(dir: &Path, n: usize) -> Option<PathBuf> {
    let data = std::env::var_os("VEILWATCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let images = data.join("lfw/images");
    let models = std::env::var_os("VEILWATCH_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"));
    for (what, path) in [("LFW data (set VEILWATCH_DATA)", &images), ("model files (run models/fetch)", &models)] {
        if !path.exists() || std::fs::read_dir(path).map(|mut d| d.next().is_none()).unwrap_or(true) {
            let message = format!("{what} not found at {} — ", path.display());
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{message}CI=true requires it");
            }
            eprintln!("\n!!! SKIPPED: {message}this test did not run !!!\n");
            return None;
        }
    }
    let mut people: Vec<PathBuf> = std::fs::read_dir(&images).unwrap().map(|e| e.unwrap().path()).collect();
    people.sort();
    let dataset = dir.join("dataset");
    std::fs::create_dir_all(&dataset).unwrap();
    for person in people.into_iter().take(n) {
        std::os::unix::fs::symlink(&person, dataset.join(person.file_name().unwrap())).unwrap();
    }
    Some(dataset)
}
