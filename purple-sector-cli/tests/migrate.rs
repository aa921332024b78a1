//! `purple-sector migrate`: SQLite → PostgreSQL → SQLite gives back every row bit for bit,
//! runs again copying nothing, resumes what is missing and refuses to overwrite a row that
//! differs. Needs PostgreSQL (`PURPLE_SECTOR_TEST_POSTGRES_URL`; see `support/pg.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../purple-sector-core/tests/support/pg.rs"]
mod pg;
mod support;

use std::path::Path;
use std::process::Output;

use purple_sector_core::store::{ChatRole, LapId, SessionId, SqliteStore, Store};
use support::{binary, data_of, fixture, json_lines, runtime, temp_db};

fn run(args: &[&str]) -> Output {
    let output = binary().args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Every row of every table, as text, table by table: two databases with the same dump hold
/// the same bytes.
fn dump(path: &Path) -> Vec<(String, Vec<Vec<String>>)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'leases' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables
        .into_iter()
        .map(|table| {
            let mut statement = conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))
                .unwrap();
            let columns = statement.column_count();
            let rows = statement
                .query_map([], |row| {
                    (0..columns)
                        .map(|i| {
                            Ok(match row.get_ref(i)? {
                                rusqlite::types::ValueRef::Blob(b) => format!("blob {b:02x?}"),
                                other => format!("{other:?}"),
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            (table, rows)
        })
        .collect()
}

fn migrated(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json", "migrate"];
    all.extend_from_slice(args);
    let lines = json_lines(&run(&all).stdout);
    data_of(&lines, "migrated")[0].clone()
}

#[test]
fn sqlite_to_postgres_and_back_is_exact_resumable_and_idempotent() {
    let runtime = runtime();
    let Some(schema) = runtime.block_on(pg::Schema::create()) else {
        return;
    };
    let a = temp_db("migrate-a");
    let b = temp_db("migrate-b");
    let a_arg = a.to_str().unwrap();
    let b_arg = b.to_str().unwrap();
    let url = schema.url.as_str();

    // A database with a bit of everything: real laps (capture and logger), an account, a
    // chat, malformed datagrams.
    run(&[
        "--db",
        a_arg,
        "import",
        fixture("imola-lap2.pcap").to_str().unwrap(),
    ]);
    run(&[
        "--db",
        a_arg,
        "import",
        fixture("imola-c7r-lap0.tsv").to_str().unwrap(),
        fixture("imola-c7r-lap2.tsv").to_str().unwrap(),
    ]);
    run(&["--db", a_arg, "users", "add", "lena", "--role", "engineer"]);
    runtime.block_on(async {
        let store = SqliteStore::open(&a).unwrap();
        store
            .add_chat_message(LapId(1), ChatRole::User, "where do I lose time?".into())
            .await
            .unwrap();
        store
            .add_chat_message(LapId(1), ChatRole::Assistant, "Variante Alta.".into())
            .await
            .unwrap();
        store
            .save_malformed(SessionId(1), 17, &[1, 2, 3])
            .await
            .unwrap();
        store.save_malformed(SessionId(2), 18, &[4]).await.unwrap();
    });

    let first = migrated(&["--from", a_arg, "--to", url]);
    assert!(first["laps"]["inserted"].as_u64().unwrap() >= 3, "{first}");
    assert_eq!(first["laps"]["already_there"], 0);
    assert_eq!(first["users"]["inserted"], 1);
    assert_eq!(first["chat_messages"]["inserted"], 2);
    assert_eq!(first["malformed_datagrams"]["inserted"], 2);
    let frames: i64 = rusqlite::Connection::open(&a)
        .unwrap()
        .query_row("SELECT SUM(frame_count) FROM laps", [], |r| r.get(0))
        .unwrap();
    assert!(frames > 10_000);
    assert_eq!(first["frames"], frames, "{first}");

    // Again: nothing to copy.
    let again = migrated(&["--from", a_arg, "--to", url]);
    assert_eq!(again["laps"]["inserted"], 0);
    assert_eq!(again["laps"]["already_there"], first["laps"]["inserted"]);
    assert_eq!(again["frames"], 0);
    assert_eq!(again["malformed_datagrams"]["inserted"], 0);

    // And back: the same bytes in every table.
    let back = migrated(&["--from", url, "--to", b_arg]);
    assert_eq!(back["laps"]["inserted"], first["laps"]["inserted"]);
    assert_eq!(dump(&a), dump(&b));

    // Resumed: a lap missing from the target (as if the copy stopped before it) comes back,
    // and only it.
    {
        let conn = rusqlite::Connection::open(&b).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON; DELETE FROM laps WHERE id = 2;")
            .unwrap();
    }
    let resumed = migrated(&["--from", url, "--to", b_arg]);
    assert_eq!(resumed["laps"]["inserted"], 1);
    assert_eq!(dump(&a), dump(&b));

    // Diverged: a row that differs is never overwritten.
    {
        let conn = rusqlite::Connection::open(&b).unwrap();
        conn.execute("UPDATE laps SET comments = 'mine' WHERE id = 1", [])
            .unwrap();
    }
    let output = binary()
        .args(["migrate", "--from", url, "--to", b_arg])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("laps row 1 differs"),
        "one readable line: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("purple:purple@"), "no password: {stderr}");
}

#[test]
fn a_missing_source_is_an_error_not_an_empty_copy() {
    let to = temp_db("migrate-missing-target");
    let output = binary()
        .args(["migrate", "--from", "/nonexistent/laps.db", "--to"])
        .arg(&to)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no such file"));
    assert!(!to.exists(), "nothing created");
}
