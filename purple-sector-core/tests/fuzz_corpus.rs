//! Replays every file under `fuzz/corpus` and `fuzz/artifacts` through the fuzz targets'
//! checks, so a crash once found stays fixed without a nightly toolchain.

use std::path::{Path, PathBuf};

#[path = "../../fuzz/checks.rs"]
mod checks;

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn corpus_and_past_crashes_still_pass() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    files_under(&fuzz.join("corpus"), &mut files);
    let corpus = files.len();
    files_under(&fuzz.join("artifacts"), &mut files);
    assert!(corpus >= 8, "the seed corpus is missing ({corpus} files)");
    for file in &files {
        let Ok(data) = std::fs::read(file) else {
            panic!("cannot read {}", file.display());
        };
        // Both checks on every input: a datagram can be a capture's payload and vice versa.
        checks::check_datagram(&data);
        checks::check_capture(&data);
    }
}
