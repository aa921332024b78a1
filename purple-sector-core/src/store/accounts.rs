//! Accounts of a shared server: users with a role and an API token, kept only as its hash.
//!
//! A token is 32 random bytes, shown once as `ps_` and 64 hex digits ([`new_token`]). The
//! store keeps its SHA-256 ([`TokenHash`]): a stolen database gives no usable token, and a
//! lookup is one indexed equality (a token has 256 bits of entropy, so a slow password hash
//! would add nothing but latency to every request).
//!
//! ```
//! use purple_sector_core::store::{MemoryStore, NewUser, Role, Store, TokenHash, new_token};
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let store = MemoryStore::new();
//! let token = new_token()?;
//! let user = store.add_user(NewUser::new("lena", Role::Driver, &token)).await?;
//! let found = store.user_by_token(&TokenHash::of(&token)).await?;
//! assert_eq!(found.map(|u| u.id), Some(user.id));
//! store.revoke_user("lena").await?;
//! assert!(store.user_by_token(&TokenHash::of(&token)).await?.is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::UserId;

/// The prefix of every token this build makes, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "ps_";

name_enum!(
    /// What a user may do.
    Role {
        /// Records, reads everything, and changes or deletes only their own sessions and laps.
        Driver = "driver",
        /// Reads everything, analyses any lap and chats about it; records and deletes nothing.
        Engineer = "engineer",
        /// Everything, users included.
        Admin = "admin",
    }
);

/// The SHA-256 of a token: what the store keeps instead of the token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// The hash of a token as presented.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }
}

impl fmt::Debug for TokenHash {
    /// The first bytes only: enough to tell hashes apart in a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", hex(&self.0[..4]))
    }
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random token: [`TOKEN_PREFIX`] and 64 hex digits (256 bits from the OS).
///
/// # Errors
/// When the operating system has no randomness to give.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
}

/// A user of a shared server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Unique name; sessions and laps name their owner by it.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// The hash of the user's token (never serialised).
    #[serde(skip, default = "no_hash")]
    pub token_hash: TokenHash,
    /// Added, Unix ms.
    pub created_ms: i64,
    /// Revoked, Unix ms: the token is refused from then on.
    pub revoked_ms: Option<i64>,
}

fn no_hash() -> TokenHash {
    TokenHash([0; 32])
}

impl User {
    /// True while the token is accepted.
    pub fn is_active(&self) -> bool {
        self.revoked_ms.is_none()
    }
}

/// A user to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Unique name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The hash of the token given to the user.
    pub token_hash: TokenHash,
}

impl NewUser {
    /// A user with this name and role, whose token is `token` (only its hash is kept).
    pub fn new(name: impl Into<String>, role: Role, token: &str) -> Self {
        Self {
            name: name.into(),
            role,
            token_hash: TokenHash::of(token),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_hex() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        let digits = a.strip_prefix(TOKEN_PREFIX).unwrap();
        assert_eq!(digits.len(), 64);
        assert!(digits.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn hash_is_sha256_of_the_token() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            hex(&TokenHash::of("abc").0),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            format!("{:?}", TokenHash::of("abc")),
            "TokenHash(ba7816bf…)"
        );
    }

    #[test]
    fn roles_round_trip_by_name() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(*role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
