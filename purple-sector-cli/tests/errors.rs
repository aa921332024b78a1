//! Failing commands print one line on stderr, exit 2, and say each thing once: an error's
//! message never repeats its cause, which `{:#}` prints after it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Output;

use support::*;

/// The one error line of a failed command, its clauses checked for repeats.
fn error_line(out: &Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let line = *lines
        .last()
        .unwrap_or_else(|| panic!("{what}: no error line"));
    assert!(line.starts_with("purple-sector: "), "{what}: {line}");
    let clauses: Vec<&str> = line["purple-sector: ".len()..].split(": ").collect();
    for (i, a) in clauses.iter().enumerate() {
        for b in clauses.iter().skip(i + 1) {
            assert_ne!(a, b, "{what}: {line:?} says {a:?} twice");
            if a.len().min(b.len()) >= 12 {
                assert!(
                    !a.contains(b) && !b.contains(a),
                    "{what}: {line:?} repeats {a:?} / {b:?}"
                );
            }
        }
    }
    line.to_owned()
}

#[test]
fn failing_commands_say_each_cause_once() {
    let db = temp_db("errors");
    let dir = db.parent().unwrap().to_owned();
    let missing = dir.join("no-such-file.tsv");
    let missing = missing.to_str().unwrap();
    let unknown = dir.join("errors-unknown.txt");
    std::fs::write(&unknown, "hello, not telemetry").unwrap();

    let line = error_line(&run(&db, &["import", missing]), "import of a missing file");
    assert!(
        line.contains("no-such-file.tsv") && line.contains("No such file"),
        "{line}"
    );
    error_line(
        &run(&db, &["import", unknown.to_str().unwrap()]),
        "import of an unknown format",
    );
    let missing_pcap = dir.join("no-such-capture.pcap");
    let missing_pcap = missing_pcap.to_str().unwrap();
    error_line(&run(&db, &["inspect", missing_pcap]), "inspect");
    error_line(&run(&db, &["replay", missing_pcap]), "replay");
    error_line(&run(&db, &["analyze", "99"]), "analyze of a missing lap");
    error_line(
        &run(&db, &["record", "--ac", "no-such-host.invalid"]),
        "record from a host that does not resolve",
    );
    let under_a_file = unknown.join("x.db");
    error_line(
        &run(&under_a_file, &["sessions", "list"]),
        "a database under a file",
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = taken.local_addr().unwrap().to_string();
    error_line(
        &run(&db, &["serve", "--bind", &bind]),
        "serve on a port in use",
    );

    // With laps in the database: an export into a missing directory, and a coach whose
    // LLM server is not there.
    let demo = run(
        &db,
        &[
            "demo", "--track", "test", "--laps", "2", "--speed", "100", "--json",
        ],
    );
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let into_nowhere = dir.join("no-such-dir").join("lap.csv");
    error_line(
        &run(
            &db,
            &[
                "export",
                "2",
                "--format",
                "csv",
                "-o",
                into_nowhere.to_str().unwrap(),
            ],
        ),
        "export into a missing directory",
    );
    let out = binary()
        .args(["chat", "3", "--message", "where do I lose time?"])
        .args(["--db", db.to_str().unwrap()])
        .env_remove("OPENAI_API_KEY")
        .env("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        .output()
        .unwrap();
    let line = error_line(&out, "chat with an LLM server that is not there");
    assert!(line.contains("the coach could not answer"), "{line}");
}
