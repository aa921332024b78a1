//! Opening the database named by `--db`, `PURPLE_SECTOR_DB` or the platform default: a
//! `postgres://` (or `postgresql://`) URL is a PostgreSQL database, anything else a SQLite
//! file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use purple_sector_core::store::{SqliteStore, Store, default_db_path, is_postgres_url, redact_url};

/// Where the database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    File(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl Location {
    /// `--db`, or the default SQLite file.
    pub fn of(db: Option<&Path>) -> Self {
        match db {
            Some(db) => match db.to_str().filter(|text| is_postgres_url(text)) {
                Some(url) => Self::Postgres(url.to_owned()),
                None => Self::File(db.to_path_buf()),
            },
            None => Self::File(default_db_path()),
        }
    }

    /// For messages: the path, or the URL without its password.
    pub fn display(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Postgres(url) => redact_url(url),
        }
    }

    /// Opens the store (creating a SQLite file and its directory if needed, migrating either
    /// to this build's schema).
    pub fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        match self {
            Self::File(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("cannot create {}", parent.display()))?;
                }
                let store = SqliteStore::open(path)
                    .with_context(|| format!("cannot open database {}", path.display()))?;
                Ok(Arc::new(store))
            }
            Self::Postgres(url) => open_postgres(url),
        }
    }
}

#[cfg(feature = "postgres")]
fn open_postgres(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    use purple_sector_core::store::PostgresStore;
    // The pool's connections live on the runtime that made them: the command's own.
    let store = crate::runtime()?
        .block_on(PostgresStore::connect(url))
        .with_context(|| format!("cannot open database {}", redact_url(url)))?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    anyhow::bail!(
        "cannot open database {}: this build has no PostgreSQL support (feature `postgres`)",
        redact_url(url)
    )
}

/// The database `--db` names when it exists already (a SQLite file that is there, or any
/// PostgreSQL URL), `None` for a file that is not: for commands that only read a map and
/// must not create a database as a side effect.
pub fn open_existing(db: Option<&Path>) -> anyhow::Result<Option<Arc<dyn Store>>> {
    match Location::of(db) {
        Location::File(path) if !path.exists() => Ok(None),
        location => location.open().map(Some),
    }
}

/// Where `--db` points, for messages.
pub fn describe(db: Option<&Path>) -> String {
    Location::of(db).display()
}

/// Opens the database `--db` names.
pub fn open(db: Option<&Path>) -> anyhow::Result<Arc<dyn Store>> {
    Location::of(db).open()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_postgres_and_the_rest_files() {
        assert_eq!(
            Location::of(Some(Path::new("postgresql://u:p@h/db"))),
            Location::Postgres("postgresql://u:p@h/db".into())
        );
        assert_eq!(
            Location::of(Some(Path::new("laps.db"))),
            Location::File("laps.db".into())
        );
        assert_eq!(
            Location::of(Some(Path::new("postgres://u:secret@h/db"))).display(),
            "postgres://u:***@h/db"
        );
    }
}
