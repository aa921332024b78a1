//! A PostgreSQL schema of a test's own, in the database `PURPLE_SECTOR_TEST_POSTGRES_URL`
//! names; dropped with everything in it when the test ends.
//!
//! Without the variable a test that needs PostgreSQL says so and passes, except under `CI`
//! (which starts PostgreSQL), where it fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU32, Ordering};

/// The variable naming the test database.
pub const URL_VAR: &str = "PURPLE_SECTOR_TEST_POSTGRES_URL";

/// The test database's URL, or `None` (said) outside CI.
pub fn test_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{URL_VAR} is not set, but CI is: .ci/run starts PostgreSQL and sets it")
        }
        _ => {
            eprintln!("skipped: {URL_VAR} is not set (no PostgreSQL to test against)");
            None
        }
    }
}

/// A schema that lives as long as this value.
pub struct Schema {
    /// The URL of the database with this schema first in the search path.
    pub url: String,
    /// The schema's name.
    pub name: String,
    base: String,
}

impl Schema {
    /// A fresh, empty schema, or `None` without a test database.
    pub async fn create() -> Option<Self> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let base = test_url()?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "ps_test_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
            .await
            .expect("the test database answers");
        let task = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap();
        drop(client);
        let _ = task.await;
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{name}");
        Some(Self { url, name, base })
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Its own thread and runtime: this may run inside a test's runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&base, tokio_postgres::NoTls).await
                {
                    let task = tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .await;
                    drop(client);
                    let _ = task.await;
                }
            });
        })
        .join();
    }
}
