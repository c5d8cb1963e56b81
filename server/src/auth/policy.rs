//! Every authorization decision, in one place. Rules (Spinnaker's, made explicit):
//! - admins may do anything;
//! - an application with no permissions set is open to every signed-in user;
//! - otherwise a caller needs one of the roles the application grants for that access, and
//!   WRITE or EXECUTE imply READ (who may change or run it may see it);
//! - users, secrets and the audit log are for admins; anyone signed in may create an
//!   application and manage their own tokens.

use app::error::AppError;
use app::model::Application;
use app::model::auth::{Access, AccountPermissions, Caller, Permissions};

pub fn may_access(caller: &Caller, permissions: &Permissions, access: Access) -> bool {
    if caller.admin || permissions.is_open() {
        return true;
    }
    let holds = |roles: &std::collections::BTreeSet<String>| caller.roles.iter().any(|role| roles.contains(role));
    match access {
        Access::Read => holds(&permissions.read) || holds(&permissions.write) || holds(&permissions.execute),
        Access::Write => holds(&permissions.write),
        Access::Execute => holds(&permissions.execute),
    }
}

pub fn require_application(caller: &Caller, application: &Application, access: Access) -> Result<(), AppError> {
    if may_access(caller, &application.permissions, access) {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "{} needs {access:?} permission on application {}",
            caller.name, application.name
        )))
    }
}

/// Accounts: READ sees what runs there, WRITE deploys to it (and implies READ); admins bypass.
/// An account without READ roles can be read by every signed-in user; an account nobody was
/// granted WRITE on is for admins only: deploying runs processes (the `local` account runs
/// them on gennaker's own machine), so it is never open by default.
pub fn may_use_account(caller: &Caller, permissions: &AccountPermissions, access: Access) -> bool {
    if caller.admin {
        return true;
    }
    let holds = |roles: &std::collections::BTreeSet<String>| caller.roles.iter().any(|role| roles.contains(role));
    match access {
        Access::Read => (permissions.read.is_empty() && permissions.write.is_empty()) || holds(&permissions.read) || holds(&permissions.write),
        Access::Write | Access::Execute => holds(&permissions.write),
    }
}

pub fn require_account(caller: &Caller, account: &str, permissions: &AccountPermissions, access: Access) -> Result<(), AppError> {
    if may_use_account(caller, permissions, access) {
        Ok(())
    } else {
        Err(AppError::forbidden(format!("{} needs {access:?} permission on account {account}", caller.name)))
    }
}

pub fn require_admin(caller: &Caller) -> Result<(), AppError> {
    if caller.admin {
        Ok(())
    } else {
        Err(AppError::forbidden(format!("{} is not an admin", caller.name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::auth::Credential;

    fn caller(roles: &[&str], admin: bool) -> Caller {
        Caller { name: "u".into(), roles: roles.iter().map(|r| r.to_string()).collect(), admin, via: Credential::Token { expires_ts: None } }
    }

    fn permissions(read: &[&str], write: &[&str], execute: &[&str]) -> Permissions {
        let set = |roles: &[&str]| roles.iter().map(|r| r.to_string()).collect();
        Permissions { read: set(read), write: set(write), execute: set(execute) }
    }

    #[test]
    fn open_applications_admit_everyone_signed_in() {
        let open = Permissions::default();
        for access in [Access::Read, Access::Write, Access::Execute] {
            assert!(may_access(&caller(&[], false), &open, access));
        }
    }

    #[test]
    fn accounts_grant_read_and_write() {
        let set = |roles: &[&str]| roles.iter().map(|r| r.to_string()).collect();
        let prod = AccountPermissions { read: set(&["dev"]), write: set(&["ops"]) };
        assert!(may_use_account(&caller(&["dev"], false), &prod, Access::Read));
        assert!(!may_use_account(&caller(&["dev"], false), &prod, Access::Write));
        assert!(may_use_account(&caller(&["ops"], false), &prod, Access::Read), "WRITE implies READ");
        assert!(may_use_account(&caller(&["ops"], false), &prod, Access::Write));
        assert!(!may_use_account(&caller(&[], false), &prod, Access::Read));
        assert!(may_use_account(&caller(&[], false), &AccountPermissions::default(), Access::Read));
        assert!(!may_use_account(&caller(&["dev"], false), &AccountPermissions::default(), Access::Write), "nobody granted WRITE: admins only");
        assert!(may_use_account(&caller(&[], true), &AccountPermissions::default(), Access::Write));
        assert!(require_account(&caller(&["dev"], false), "prod", &prod, Access::Write).is_err());
    }

    #[test]
    fn roles_grant_what_they_are_given() {
        let restricted = permissions(&["dev"], &["ops"], &["release"]);
        let dev = caller(&["dev"], false);
        assert!(may_access(&dev, &restricted, Access::Read));
        assert!(!may_access(&dev, &restricted, Access::Write));
        assert!(!may_access(&dev, &restricted, Access::Execute));
        let ops = caller(&["ops"], false);
        assert!(may_access(&ops, &restricted, Access::Read), "WRITE implies READ");
        assert!(may_access(&ops, &restricted, Access::Write));
        let release = caller(&["release"], false);
        assert!(may_access(&release, &restricted, Access::Read), "EXECUTE implies READ");
        assert!(may_access(&release, &restricted, Access::Execute));
        assert!(!may_access(&caller(&["other"], false), &restricted, Access::Read));
        assert!(may_access(&caller(&[], true), &restricted, Access::Write), "admins bypass");
    }
}
