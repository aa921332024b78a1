//! Where a database is: a PostgreSQL URL or a SQLite path.
//!
//! These two are compiled whatever the features, so a build without PostgreSQL can still say
//! that a URL names a database it cannot open.

/// True for the URLs that name a PostgreSQL database (`postgres://`, `postgresql://`);
/// anything else is a SQLite path.
pub fn is_postgres_url(text: &str) -> bool {
    let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// The URL without the password (`user:***@`), for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or("");
            if credentials.contains(':') {
                format!("{scheme}://{user}:***@{host}")
            } else {
                url.to_owned()
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_postgres_or_a_path() {
        assert!(is_postgres_url("postgres://u:p@127.0.0.1:5432/db"));
        assert!(is_postgres_url("postgresql://127.0.0.1/db"));
        assert!(is_postgres_url("PostgreSQL://127.0.0.1/db"));
        assert!(!is_postgres_url("laps.db"));
        assert!(!is_postgres_url("./postgres/laps.db"));
        assert!(!is_postgres_url("pg"));
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://purple:s3cret@db:5432/league"),
            "postgres://purple:***@db:5432/league"
        );
        assert_eq!(
            redact_url("postgres://purple@db/league"),
            "postgres://purple@db/league"
        );
        assert_eq!(redact_url("postgres://db/league"), "postgres://db/league");
    }
}
