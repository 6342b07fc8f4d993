//! `veilwatch keygen` as an issuer runs it, and as an attacker on the same machine would like it to
//! behave: the public key apart from the secrets (so the public folder can be served as it is and
//! `make demo` refuses anything else), the authority's folder apart from the issuer's secrets (so
//! that a compromised authority host cannot sign anything), secrets readable by their owner only
//! whatever the umask, nothing replaced in a folder that is not empty unless `--force` says so; and
//! `veilwatch authority` starting only from an authority folder without an issuer secret in it.

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

    assert_eq!(names(&keys), ["authority", "public", "secret"], "no temporary file or key left beside the folders");
    assert_eq!(names(&keys.join("public")), ["issuer.pub"]);
    assert_eq!(std::fs::read_to_string(keys.join("public/issuer.pub")).unwrap().trim(), public);
    assert_eq!(names(&keys.join("secret")), ["issuer.key", "prf-local.key"]);
    // The authority's folder: its master secret and the issuer's public key, no issuer secret.
    assert_eq!(names(&keys.join("authority")), ["authority-master.key", "issuer.pub"]);
    assert_eq!(std::fs::read_to_string(keys.join("authority/issuer.pub")).unwrap().trim(), public);
    for folder in ["secret", "authority"] {
        assert_eq!(mode(&keys.join(folder)), 0o700, "{folder} under umask 000");
    }
    for secret in ["secret/issuer.key", "secret/prf-local.key", "authority/authority-master.key"] {
        assert_eq!(mode(&keys.join(secret)), 0o600, "{secret} under umask 000");
    }

    // No secret, nor any part of one, is in the public folder.
    let published: Vec<String> =
        walk(&keys.join("public")).iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    for secret in walk(&keys.join("secret")).into_iter().chain([keys.join("authority/authority-master.key")]) {
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
    assert_eq!(mode(&keys.join("authority/authority-master.key")), 0o600);
    assert_eq!(names(&keys), ["authority", "notes.txt", "public", "secret"]);
    assert_eq!(std::fs::read_to_string(keys.join("notes.txt")).unwrap(), "mine");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `veilwatch authority --keys FOLDER --state postgres://…`: fails either on the key folder or,
/// once the folder is accepted, on the state URL; the error says which.
fn authority_with(keys: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_veilwatch"))
        .args(["authority", "--keys", keys.to_str().unwrap(), "--state", "postgres://nowhere/"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_authority_starts_from_its_own_folder_and_refuses_one_holding_an_issuer_secret() {
    let dir = scratch("roles");
    let keys = dir.join("keys");
    assert!(keygen(&["--out", keys.to_str().unwrap()]).status.success());
    // The issuer's folder itself: refused, whatever else is wrong.
    let refused = authority_with(&keys);
    assert!(refused.contains("refusing to start") && refused.contains("issuer secret key"), "{refused}");
    // The authority's folder, copied to "its machine": accepted (the state URL is what fails).
    let machine = dir.join("authority-machine");
    std::fs::create_dir_all(&machine).unwrap();
    for name in names(&keys.join("authority")) {
        std::fs::copy(keys.join("authority").join(&name), machine.join(&name)).unwrap();
    }
    let accepted = authority_with(&machine);
    assert!(accepted.contains("expected a database file"), "{accepted}");
    // An issuer secret put into it, at any depth: refused.
    std::fs::create_dir_all(machine.join("backup")).unwrap();
    std::fs::copy(keys.join("secret/issuer.key"), machine.join("backup/issuer.key")).unwrap();
    let refused = authority_with(&machine);
    assert!(refused.contains("refusing to start") && refused.contains("backup/issuer.key"), "{refused}");
    std::fs::remove_dir_all(&dir).unwrap();
}
