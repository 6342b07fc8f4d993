//! Slow bodies cannot starve kiosks: a request takes one of the `--max-concurrent` slots (and a
//! document one of the two document slots) only once its whole body has arrived, a body must
//! arrive within `--body-timeout`, and one client address may have at most
//! `--max-uploads-per-address` bodies arriving at once. Against a real `veilwatch authority` with
//! 4 slots: 64 connections from 127.0.0.2 trickle 128 KiB bodies to `/v1/evaluate` one byte every
//! 100 ms, and 4 trickle documents to the admin listener's `/issuer/documents`; meanwhile a kiosk
//! on 127.0.0.1 is served within 1 s every time, and the issuer's revocation is delivered and
//! takes effect.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::http::{call, now, signed};
use common::kiosk::{authority_for, generous, issuer_key, keygen, TestDeployment, PROOF};
use common::process::scratch;
use veilwatch::authority::registration::{Document, HexBytes, KioskRevocation};

const EVALUATE_TRICKLES: usize = 64;
const DOCUMENT_TRICKLES: usize = 4;
const BODY_TIMEOUT_S: u64 = 4;

/// How one trickling client ended: refused at once (the status), or cut after `held`.
#[derive(Debug)]
struct Trickle {
    status: Option<u16>,
    held: Duration,
}

/// A connection to `addr` from 127.0.0.2, another client address than the kiosk's 127.0.0.1
/// (std cannot bind before connecting; tokio's socket can, and hands the stream over).
fn connect_from_another_address(addr: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        socket.connect(addr).await.unwrap().into_std().unwrap()
    });
    stream.set_nonblocking(false).unwrap();
    stream
}

/// A request head for `path` declaring `length` bytes, then one byte every 100 ms until the
/// server answers or closes (or 3 × the body timeout passes).
fn trickle(mut stream: TcpStream, path: &str, length: usize) -> Trickle {
    let head = format!("POST {path} HTTP/1.1\r\nHost: authority\r\nContent-Length: {length}\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let start = Instant::now();
    let mut answer = Vec::new();
    while start.elapsed() < Duration::from_secs(3 * BODY_TIMEOUT_S) {
        let mut buf = [0u8; 1024];
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if stream.write_all(b"x").is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&answer);
    let status = text.strip_prefix("HTTP/1.1 ").and_then(|t| t.get(..3)).and_then(|s| s.parse().ok());
    Trickle { status, held: start.elapsed() }
}

#[test]
fn trickled_bodies_hold_no_slot_so_kiosks_are_served_and_revocations_delivered() {
    let scratch = scratch("slow-bodies");
    let keys = keygen(&scratch);
    let mut deployment = TestDeployment::new(64, generous());
    let doomed = deployment.add_kiosk();
    let doomed_public = doomed.key.verifying_key().to_bytes();
    let doomed = doomed.signer(&deployment.id());
    let body_timeout = BODY_TIMEOUT_S.to_string();
    let server =
        authority_for(&keys, &deployment, &scratch, &["--max-concurrent", "4", "--body-timeout", &body_timeout]);
    let (addr, admin) = (server.addr, server.admin.unwrap());
    let kiosk = deployment.signer();

    let start_trickle = |addr, path: &'static str, length| {
        let stream = connect_from_another_address(addr);
        std::thread::spawn(move || trickle(stream, path, length))
    };
    let evaluate_trickles: Vec<_> =
        (0..EVALUATE_TRICKLES).map(|_| start_trickle(addr, "/v1/evaluate", 128 * 1024)).collect();
    let document_trickles: Vec<_> =
        (0..DOCUMENT_TRICKLES).map(|_| start_trickle(admin, "/issuer/documents", 1 << 20)).collect();
    std::thread::sleep(Duration::from_millis(500));

    // While they trickle: the kiosk, one face every 100 ms for longer than the body timeout.
    let mut latencies = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(BODY_TIMEOUT_S + 1) {
        let face = deployment.face(latencies.len() as u64 + 1);
        let sent = Instant::now();
        let (status, _, body) = signed(&server, &kiosk, "/v1/evaluate", &face);
        latencies.push(sent.elapsed());
        assert_eq!((status, body.len()), (200, face.len() + PROOF), "{}", String::from_utf8_lossy(&body));
        std::thread::sleep(Duration::from_millis(100));
    }
    // The issuer revokes a kiosk while documents trickle into both document slots' worth.
    let revocation = Document::RevokeKiosk(KioskRevocation {
        deployment: HexBytes(deployment.id()),
        kiosk_key: HexBytes(doomed_public),
        issued: now(),
    })
    .sign(&issuer_key(&keys));
    let sent = Instant::now();
    let delivered = call("POST", &server.admin_url("/issuer/documents"), &[], revocation.as_bytes());
    let delivery = sent.elapsed();
    assert_eq!(delivered.0, 204, "{}", String::from_utf8_lossy(&delivered.2));
    assert_eq!(signed(&server, &doomed, "/v1/evaluate", &deployment.face(99)).0, 401, "the revocation took effect");

    let evaluate: Vec<Trickle> = evaluate_trickles.into_iter().map(|t| t.join().unwrap()).collect();
    let documents: Vec<Trickle> = document_trickles.into_iter().map(|t| t.join().unwrap()).collect();
    let capped = evaluate.iter().filter(|t| t.status == Some(429)).count();
    let cut: Vec<&Trickle> = evaluate.iter().chain(&documents).filter(|t| t.status != Some(429)).collect();
    let longest = cut.iter().map(|t| t.held).max().unwrap();
    let max_latency = latencies.iter().max().unwrap();
    eprintln!(
        "slow bodies: {EVALUATE_TRICKLES} trickles to /v1/evaluate ({capped} refused at once by the per-address cap, \
         the others cut at the body timeout), {DOCUMENT_TRICKLES} to /issuer/documents; longest held {longest:?}; \
         kiosk: {} answers, max latency {max_latency:?}; revocation delivered in {delivery:?}",
        latencies.len()
    );
    assert!(*max_latency < Duration::from_secs(1), "a kiosk answer took {max_latency:?}");
    assert_eq!(capped, EVALUATE_TRICKLES - 16, "16 bodies at once from one address: {evaluate:?}");
    assert!(delivery < Duration::from_secs(1), "the revocation took {delivery:?}");
    for trickle in &cut {
        assert!(trickle.held < Duration::from_secs(BODY_TIMEOUT_S + 2), "held for {:?}", trickle.held);
        assert!(matches!(trickle.status, Some(408) | None), "{trickle:?}");
    }
    std::fs::remove_dir_all(&scratch).ok();
}
