//! `veilwatch keygen` as an issuer runs it, and as an attacker on the same machine would like it to
//! behave: the public key apart from the secrets (so the public folder can be served as it is and
//! `make demo` refuses anything else), secrets readable by their owner only whatever the umask,
//! nothing replaced in a folder that is not empty unless `--force` says so.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("veilwatch-keygen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `veilwatch keygen ARGS` under umask 000, so that only the modes keygen sets protect the keys.
fn keygen(args: &[&str]) -> Output {
    let command = "umask 000 && exec \"$0\" keygen \"$@\"";
    Command::new("sh").arg("-c").arg(command).arg(env!("CARGO_BIN_EXE_veilwatch")).args(args).output().unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in walk(dir) {
        files.push((entry.clone(), std::fs::read(&entry).unwrap()));
    }
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn keygen_puts_the_public_key_apart_from_secrets_that_only_their_owner_can_read() {
    let dir = scratch("layout");
    let keys = dir.join("keys");
    let out = keygen(&["--out", keys.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let public = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(public.len(), 64);

    assert_eq!(names(&keys), ["public", "secret"], "no temporary file or key left beside the two folders");
    assert_eq!(names(&keys.join("public")), ["issuer.pub"]);
    assert_eq!(std::fs::read_to_string(keys.join("public/issuer.pub")).unwrap().trim(), public);
    assert_eq!(names(&keys.join("secret")), ["authority-master.key", "issuer.key", "prf-local.key"]);
    assert_eq!(mode(&keys.join("secret")), 0o700, "under umask 000");
    for name in names(&keys.join("secret")) {
        assert_eq!(mode(&keys.join("secret").join(&name)), 0o600, "{name} under umask 000");
    }

    // No secret, nor any part of one, is in the public folder.
    let published: Vec<String> =
        walk(&keys.join("public")).iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    for secret in walk(&keys.join("secret")) {
        let hex = std::fs::read_to_string(&secret).unwrap();
        let hex = hex.trim();
        assert_eq!(hex.len(), 64);
        assert!(published.iter().all(|p| !p.contains(&hex[..16])), "{} is published", secret.display());
    }

    // `make demo DEPLOYMENT=…` serves the public folder and refuses the key folder itself.
    let make = |deployment: &Path| {
        Command::new("make")
            .args(["-s", "check-deployment"])
            .arg(format!("DEPLOYMENT={}", deployment.display()))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    };
    assert!(make(&keys.join("public")).status.success());
    let refused = make(&keys);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("holds more than public keys"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keygen_refuses_a_folder_that_is_not_empty_unless_forced() {
    let dir = scratch("force");
    let keys = dir.join("keys");
    assert!(keygen(&["--out", keys.to_str().unwrap()]).status.success());
    let before = snapshot(&keys);

    // Keys there: refused, nothing touched.
    let again = keygen(&["--out", keys.to_str().unwrap()]);
    assert!(!again.status.success());
    let message = String::from_utf8_lossy(&again.stderr);
    assert!(message.contains("is not empty") && message.contains("--force"), "{message}");
    assert_eq!(snapshot(&keys), before, "a refused keygen changes nothing");

    // Any other file there: refused too.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    assert!(!keygen(&["--out", other.to_str().unwrap()]).status.success());
    assert_eq!(names(&other), ["notes.txt"]);

    // --force replaces the keys (a new issuer), keeps their modes, and leaves other files alone.
    std::fs::write(keys.join("notes.txt"), "mine").unwrap();
    let forced = keygen(&["--out", keys.to_str().unwrap(), "--force"]);
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
    let public = String::from_utf8(forced.stdout).unwrap().trim().to_owned();
    assert_eq!(std::fs::read_to_string(keys.join("public/issuer.pub")).unwrap().trim(), public);
    assert_ne!(
        before.iter().find(|(p, _)| p.ends_with("public/issuer.pub")).unwrap().1,
        format!("{public}\n").into_bytes()
    );
    for (path, old) in &before {
        assert_ne!(&std::fs::read(path).unwrap(), old, "{} was not replaced", path.display());
    }
    for name in names(&keys.join("secret")) {
        assert_eq!(mode(&keys.join("secret").join(&name)), 0o600, "{name}");
    }
    assert_eq!(names(&keys), ["notes.txt", "public", "secret"]);
    assert_eq!(std::fs::read_to_string(keys.join("notes.txt")).unwrap(), "mine");
    std::fs::remove_dir_all(&dir).unwrap();
}
