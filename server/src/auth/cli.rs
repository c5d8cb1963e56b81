//! `gennaker user add|passwd|list`: user management from the command line, straight on the
//! store (for the first set-up, or when every admin has lost their password).

use std::io::BufRead;

use app::model::auth::{validate_role, validate_user_name};

use crate::auth::service::Auth;
use crate::config::UserCommand;
use crate::store::Store;
use crate::store::users::{UserChanges, UserRecord};

/// The new password: `GENNAKER_PASSWORD`, else the first line of stdin.
fn read_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("GENNAKER_PASSWORD") {
        return Ok(password);
    }
    eprintln!("password (one line on stdin):");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub async fn run(store: &Store, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { name, roles, admin, service_account } => {
            validate_user_name(&name)?;
            for role in &roles {
                validate_role(role)?;
            }
            let hash = if service_account {
                None
            } else {
                Some(Auth::hash_new_password(&read_password()?).await.map_err(|error| anyhow::anyhow!("{error}"))?)
            };
            let record = UserRecord { name: &name, password_hash: hash.as_deref(), roles: &roles, admin, service_account };
            let user = store.insert_user(&record).await?;
            println!("added {}{}", user.name, if user.admin { " (admin)" } else { "" });
        }
        UserCommand::Passwd { name } => {
            let hash = Auth::hash_new_password(&read_password()?).await.map_err(|error| anyhow::anyhow!("{error}"))?;
            store.update_user(&name, &UserChanges { password_hash: Some(&hash), ..UserChanges::default() }).await?;
            store.delete_sessions_of(&name).await?;
            store.delete_api_tokens_of(&name).await?;
            println!("password of {name} changed; their sessions and API tokens are ended");
        }
        UserCommand::List => {
            for user in store.list_users().await? {
                let kind = match (user.admin, user.service_account) {
                    (_, true) => "service account",
                    (true, false) => "admin",
                    (false, false) => "user",
                };
                println!("{}\t{}\t{}", user.name, kind, user.roles.join(","));
            }
        }
    }
    Ok(())
}
