//! `purple-sector users add|list|revoke`: the accounts of a shared server.

use clap::Subcommand;
use purple_sector_core::store::{NewUser, Role, Store, User, new_token};
use serde::Serialize;

use crate::output::Output;
use crate::{Global, Outcome};

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Adds a user and prints their API token, once: only its hash is kept.
    Add {
        /// A unique name.
        name: String,
        /// `driver` (records, reads, deletes their own), `engineer` (reads, analyses, chats)
        /// or `admin` (everything, users included).
        #[arg(long, value_parser = parse_role, default_value = "driver")]
        role: Role,
    },
    /// Every user, oldest first.
    List,
    /// Revokes a user's token (the user and what they made stay).
    Revoke {
        /// The user's name.
        name: String,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| format!("`{text}` is not a role: driver, engineer or admin"))
}

/// One user as `--json` prints it; `token` only from `add`.
#[derive(Serialize)]
struct UserLine<'a> {
    id: i64,
    name: &'a str,
    role: &'static str,
    created_ms: i64,
    revoked_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
}

impl<'a> UserLine<'a> {
    fn new(user: &'a User, token: Option<&'a str>) -> Self {
        Self {
            id: user.id.0,
            name: &user.name,
            role: user.role.as_str(),
            created_ms: user.created_ms,
            revoked_ms: user.revoked_ms,
            token,
        }
    }
}

pub fn run(command: &UsersCommand, global: Global<'_>) -> anyhow::Result<Outcome> {
    let store = crate::db::open(global.db)?;
    crate::runtime()?.block_on(users(command, &*store, global.json))
}

async fn users(command: &UsersCommand, store: &dyn Store, json: bool) -> anyhow::Result<Outcome> {
    let mut out = Output::stdout();
    match command {
        UsersCommand::Add { name, role } => {
            let token = new_token()?;
            let user = store.add_user(NewUser::new(name, *role, &token)).await?;
            if json {
                out.json("user", &UserLine::new(&user, Some(&token)))?;
            } else {
                out.line(format_args!("added {} ({})", user.name, user.role))?;
                out.line(format_args!("token: {token}"))?;
                out.line(format_args!(
                    "(shown this once: only its hash is kept; give it to {} as their bearer token)",
                    user.name
                ))?;
            }
        }
        UsersCommand::List => {
            let users = store.list_users().await?;
            if !json {
                out.line(format_args!(
                    "{:>4} {:<24} {:<9} {:<8}",
                    "id", "name", "role", "status"
                ))?;
            }
            for user in &users {
                if json {
                    out.json("user", &UserLine::new(user, None))?;
                } else {
                    out.line(format_args!(
                        "{:>4} {:<24} {:<9} {:<8}",
                        user.id.0,
                        user.name,
                        user.role.as_str(),
                        if user.is_active() {
                            "active"
                        } else {
                            "revoked"
                        }
                    ))?;
                }
            }
            out.flush()?;
            if users.is_empty() {
                return Ok(Outcome::Nothing);
            }
        }
        UsersCommand::Revoke { name } => {
            let user = store.revoke_user(name).await?;
            if json {
                out.json("user", &UserLine::new(&user, None))?;
            } else {
                out.line(format_args!("revoked {} ({})", user.name, user.role))?;
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Done)
}
