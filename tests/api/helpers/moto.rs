//! The AWS stand-in: one real moto server per test binary. What the tests ask of it is in one
//! module per service: `rest_api`, `usage_plans`, `http_api`, `cloudwatch`, `scheduler`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

pub struct Moto {
    pub endpoint: String,
    _process: Mutex<Child>,
}

/// One moto server for this test binary, installed into a venv on first use if needed.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let (python, packages) = python_with_moto();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_server.py");
        let mut command = Command::new(python);
        if let Some(packages) = packages {
            command.env("PYTHONPATH", packages);
        }
        let mut child = command
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read moto's port");
        let port: u16 = line.trim().parse().expect("moto printed its port");
        Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            _process: Mutex::new(child),
        }
    })
}

/// A Python that can import moto: `MOTO_PYTHON`, the system's, or one set up for the tests
/// (a venv under `target/`, or a `pip --target` folder where venv is unavailable).
fn python_with_moto() -> (PathBuf, Option<PathBuf>) {
    if let Some(python) = std::env::var_os("MOTO_PYTHON") {
        return (python.into(), None);
    }
    let has_moto = |python: &std::path::Path, path: Option<&PathBuf>| {
        let mut check = Command::new(python);
        if let Some(path) = path {
            check.env("PYTHONPATH", path);
        }
        check
            .args(["-c", "import moto.server, flask"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let system = PathBuf::from("python3");
    if has_moto(&system, None) {
        return (system, None);
    }
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let venv = tmp.join("moto-venv");
    let venv_python = venv.join("bin/python");
    let packages = tmp.join("moto-packages");
    let lock = std::fs::File::create(tmp.join("moto-install.lock")).expect("create install lock");
    lock.lock().expect("lock the moto install");
    if has_moto(&venv_python, None) {
        return (venv_python, None);
    }
    if has_moto(&system, Some(&packages)) {
        return (system, Some(packages));
    }
    let run = |command: &mut Command| command.status().is_ok_and(|s| s.success());
    let requirement = "moto[server]>=5,<6";
    eprintln!("installing {requirement} for the tests (once)…");
    if run(Command::new("python3").args(["-m", "venv"]).arg(&venv))
        && run(Command::new(&venv_python).args(["-m", "pip", "install", "--quiet", requirement]))
    {
        return (venv_python, None);
    }
    let installed = run(Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--target"])
        .arg(&packages)
        .arg(requirement));
    assert!(installed, "could not install {requirement} with pip");
    (system, Some(packages))
}
