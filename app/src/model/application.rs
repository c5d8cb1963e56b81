//! An application: the unit users own, which groups clusters, load balancers and pipelines.

use serde::{Deserialize, Serialize};

use super::auth::Permissions;
use super::names;
use super::time::EpochMillis;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// Lowercase letters and digits; unique.
    pub name: String,
    pub description: String,
    /// The owner's email address; empty when unset.
    pub email: String,
    pub create_ts: EpochMillis,
    pub update_ts: EpochMillis,
    /// Roles granted READ, WRITE and EXECUTE; all empty means open to every signed-in user.
    #[serde(default)]
    pub permissions: Permissions,
    /// Notification defaults (`NotificationConfig`s), added to every run of its pipelines.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<Object>))]
    pub notifications: Vec<serde_json::Value>,
}

/// The body of `POST /api/v1/applications`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApplication {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub email: String,
}

/// The body of `PATCH /api/v1/applications/{name}`: fields left out stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Replaces the notification defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Vec<Object>>))]
    pub notifications: Option<Vec<serde_json::Value>>,
}

/// What is wrong with an application's fields; `field` is the JSON name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

pub const MAX_DESCRIPTION_LEN: usize = 4096;

impl NewApplication {
    /// Checks every field and folds the name to lowercase (Spinnaker's names are
    /// case-insensitive, so `Shop` and `shop` must not both exist).
    pub fn validated(mut self) -> Result<Self, Invalid> {
        self.name = self.name.trim().to_ascii_lowercase();
        names::validate_application(&self.name)
            .map_err(|e| Invalid { field: "name", message: e.to_string() })?;
        self.description = validate_description(&self.description)?;
        self.email = validate_email(&self.email)?;
        Ok(self)
    }
}

impl ApplicationPatch {
    pub fn validated(self) -> Result<Self, Invalid> {
        if let Some(notifications) = &self.notifications {
            for raw in notifications {
                let config: super::notification::NotificationConfig = serde_json::from_value(raw.clone())
                    .map_err(|error| Invalid { field: "notifications", message: error.to_string() })?;
                config.check().map_err(|(_, message)| Invalid { field: "notifications", message })?;
            }
        }
        Ok(Self {
            description: self.description.as_deref().map(validate_description).transpose()?,
            email: self.email.as_deref().map(validate_email).transpose()?,
            notifications: self.notifications,
        })
    }
}

fn validate_description(description: &str) -> Result<String, Invalid> {
    if description.len() > MAX_DESCRIPTION_LEN {
        return Err(Invalid {
            field: "description",
            message: format!("description must be at most {MAX_DESCRIPTION_LEN} bytes"),
        });
    }
    Ok(description.trim().to_string())
}

/// A light check: something before and after one `@`, no spaces. Real validation is sending mail.
fn validate_email(email: &str) -> Result<String, Invalid> {
    let email = email.trim();
    if email.is_empty() {
        return Ok(String::new());
    }
    let well_formed = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !domain.contains('@') && !email.contains(char::is_whitespace)
        }
        None => false,
    };
    if well_formed && email.len() <= 254 {
        Ok(email.to_string())
    } else {
        Err(Invalid { field: "email", message: format!("email is not an email address: {email:?}") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: &str, email: &str) -> NewApplication {
        NewApplication { name: name.into(), description: String::new(), email: email.into() }
    }

    #[test]
    fn names_are_folded_to_lowercase() {
        assert_eq!(new(" Shop ", "").validated().unwrap().name, "shop");
    }

    #[test]
    fn bad_fields_are_named() {
        assert_eq!(new("bad name!", "").validated().unwrap_err().field, "name");
        assert_eq!(new("shop", "nobody").validated().unwrap_err().field, "email");
        assert_eq!(new("shop", "a@b c.d").validated().unwrap_err().field, "email");
        assert!(new("shop", "team@example.com").validated().is_ok());
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let parsed: Result<NewApplication, _> = serde_json::from_str(r#"{"name":"a","owner":"x"}"#);
        assert!(parsed.unwrap_err().to_string().contains("unknown field `owner`"));
    }
}
