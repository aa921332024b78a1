//! Opening the database named by `--db`, `PURPLE_SECTOR_DB` or the platform default.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use purple_sector_core::store::{SqliteStore, Store, default_db_path};

/// The database file to use.
pub fn path(db: Option<&Path>) -> PathBuf {
    db.map_or_else(default_db_path, Path::to_path_buf)
}

/// Opens (creating if needed, with its parent directory) the database.
pub fn open(db: Option<&Path>) -> anyhow::Result<Arc<dyn Store>> {
    let path = path(db);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let store = SqliteStore::open(&path)
        .with_context(|| format!("cannot open database {}", path.display()))?;
    Ok(Arc::new(store))
}
