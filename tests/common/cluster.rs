//! The services around the authority for the tests that attack or scale it out
//! (`tests/attacks/`, `tests/authority_replicas.rs`, `tests/authority_redis.rs`): a `redis-server` in
//! a temporary folder, `haproxy` in front of replicas, and an enrolment dataset of LFW people. The
//! replicas, deployments and kiosks are `tests/common/kiosk.rs`'s.
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

use super::process::{free_port, tool_or_skip, Process};

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

/// `n` people of `$VEILWATCH_DATA/lfw/images` (the first in name order), linked into `dir` as an
/// enrolment dataset; `None` (loud skip, CI failure) without the data or the models.
pub fn lfw_people(dir: &Path, n: usize) -> Option<PathBuf> {
    let images = super::lfw_images()?;
    super::models_dir()?;
    let mut people: Vec<PathBuf> = std::fs::read_dir(&images).unwrap().map(|e| e.unwrap().path()).collect();
    people.sort();
    let dataset = dir.join("dataset");
    std::fs::create_dir_all(&dataset).unwrap();
    for person in people.into_iter().take(n) {
        std::os::unix::fs::symlink(&person, dataset.join(person.file_name().unwrap())).unwrap();
    }
    Some(dataset)
}
