//! Canary configurations (Kayenta's JSON, `app::model::canary`) and every saved revision of
//! them, stored as pipelines are: the current document in `canary_configs`, each save also in
//! `canary_config_revisions`. The applications a config belongs to are rows of
//! `canary_config_applications` (in the document's order), so a config is listed under each,
//! and an application that is deleted drops out of the configs it shared; the first one owns
//! the config (its name is unique there, and deleting it deletes the config).

use std::collections::HashMap;

use app::model::canary::{CanaryConfig, StoredCanaryConfig};

use super::{Error, Result, Store, is_unique_violation, now_millis, on_pool};

#[derive(Debug, sqlx::FromRow)]
struct CanaryConfigRow {
    id: String,
    config: String,
    revision: i64,
    update_ts: i64,
    last_modified_by: String,
}

impl CanaryConfigRow {
    /// The stored document with its id and save. `applications`, when given, are the ones the
    /// config still belongs to (the document may name one deleted since).
    fn into_model(self, applications: Option<Vec<String>>) -> Result<StoredCanaryConfig> {
        let mut config: CanaryConfig =
            serde_json::from_str(&self.config).map_err(|error| Error::Corrupt(format!("canary config {}: {error}", self.id)))?;
        config.id = Some(self.id);
        if let Some(applications) = applications {
            config.applications = applications;
        }
        Ok(StoredCanaryConfig {
            config,
            revision: self.revision,
            updated_timestamp: self.update_ts,
            updated_timestamp_iso: iso_8601(self.update_ts),
            last_modified_by: self.last_modified_by,
        })
    }
}

/// Milliseconds since the epoch as Java's `Instant.toString()` writes them (what Kayenta
/// answers): `2026-12-02T10:00:00.250Z`, without the fraction when it is zero.
fn iso_8601(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|instant| instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// Which configs a read is about; each variant binds at most `$1`.
#[derive(Clone, Copy)]
enum Which<'a> {
    All,
    Id(&'a str),
    OfApplication(&'a str),
}

impl<'a> Which<'a> {
    /// A condition on `canary_configs` (as `c`) and one on `canary_config_applications`.
    fn conditions(self) -> (&'static str, &'static str) {
        match self {
            Which::All => ("1 = 1", "1 = 1"),
            Which::Id(_) => ("c.id = $1", "config_id = $1"),
            Which::OfApplication(_) => (
                "c.id IN (SELECT config_id FROM canary_config_applications WHERE application = $1)",
                "config_id IN (SELECT config_id FROM canary_config_applications WHERE application = $1)",
            ),
        }
    }

    fn value(self) -> Option<&'a str> {
        match self {
            Which::All => None,
            Which::Id(value) | Which::OfApplication(value) => Some(value),
        }
    }
}

impl Store {
    /// The configs `application` is one of the applications of, by name.
    pub async fn list_canary_configs(&self, application: &str) -> Result<Vec<StoredCanaryConfig>> {
        self.read_canary_configs(Which::OfApplication(application)).await
    }

    /// Every config, by name (callers filter by what the reader may see).
    pub async fn list_all_canary_configs(&self) -> Result<Vec<StoredCanaryConfig>> {
        self.read_canary_configs(Which::All).await
    }

    /// `NotFound` when there is no config `id`.
    pub async fn get_canary_config(&self, id: &str) -> Result<StoredCanaryConfig> {
        self.read_canary_configs(Which::Id(id)).await?.pop().ok_or_else(|| Error::NotFound(format!("canary config {id}")))
    }

    async fn read_canary_configs(&self, which: Which<'_>) -> Result<Vec<StoredCanaryConfig>> {
        let (configs, links) = which.conditions();
        let value = which.value();
        let sql = format!("SELECT c.id, c.config, c.revision, c.update_ts, c.last_modified_by FROM canary_configs c WHERE {configs} ORDER BY c.name, c.id");
        let rows: Vec<CanaryConfigRow> = on_pool!(self, pool => {
            let query = sqlx::query_as(&sql);
            let query = match value { Some(value) => query.bind(value), None => query };
            query.fetch_all(pool).await
        })?;
        let sql = format!("SELECT config_id, application FROM canary_config_applications WHERE {links} ORDER BY config_id, position");
        let pairs: Vec<(String, String)> = on_pool!(self, pool => {
            let query = sqlx::query_as(&sql);
            let query = match value { Some(value) => query.bind(value), None => query };
            query.fetch_all(pool).await
        })?;
        let mut applications: HashMap<String, Vec<String>> = HashMap::new();
        for (config_id, application) in pairs {
            applications.entry(config_id).or_default().push(application);
        }
        rows.into_iter()
            .map(|row| {
                let of_row = applications.remove(&row.id).unwrap_or_default();
                row.into_model(Some(of_row))
            })
            .collect()
    }

    /// Saves `config` as a new config (revision 1) when no config has its id, else as the next
    /// revision of that one; the last save wins. `config.id` must be set and its applications
    /// must exist (the caller checks both).
    pub async fn save_canary_config(&self, config: &CanaryConfig, user: &str) -> Result<StoredCanaryConfig> {
        self.save_canary_config_over(config, None, user).await
    }

    /// As [`Store::save_canary_config`], but an existing config is only updated while it is still
    /// at revision `expected` (`Stale` otherwise: no lost updates).
    pub async fn save_canary_config_over(&self, config: &CanaryConfig, expected: Option<i64>, user: &str) -> Result<StoredCanaryConfig> {
        let Some(id) = config.id.as_deref().filter(|id| !id.is_empty()) else {
            return Err(Error::Corrupt("a canary config is saved with its id".into()));
        };
        let Some(owner) = config.applications.first() else {
            return Err(Error::Corrupt(format!("canary config {id} has no application")));
        };
        let now = now_millis();
        let document = serde_json::to_string(config).expect("canary configs serialize");
        // Ok(None): the stored revision was not `expected`.
        let outcome: Result<Option<i64>, sqlx::Error> = on_pool!(self, pool => {
            async {
                let mut tx = pool.begin().await?;
                // A write first: on SQLite it takes the write lock before anything is read (a
                // read that later turns into a write fails at once, "database is locked", when
                // another writer is busy); on PostgreSQL it locks the config's row.
                sqlx::query("UPDATE canary_configs SET revision = revision WHERE id = $1").bind(id).execute(&mut *tx).await?;
                let current: Option<(i64,)> = sqlx::query_as("SELECT revision FROM canary_configs WHERE id = $1")
                    .bind(id).fetch_optional(&mut *tx).await?;
                let revision = match current {
                    None => {
                        sqlx::query("INSERT INTO canary_configs (id, application, name, config, revision, update_ts, last_modified_by) VALUES ($1, $2, $3, $4, 1, $5, $6)")
                            .bind(id).bind(owner).bind(&config.name).bind(&document).bind(now).bind(user)
                            .execute(&mut *tx).await?;
                        1
                    }
                    Some((current,)) => {
                        if expected.is_some_and(|expected| expected != current) {
                            return Ok(None);
                        }
                        let updated = sqlx::query("UPDATE canary_configs SET application = $2, name = $3, config = $4, revision = $5, update_ts = $6, last_modified_by = $7 WHERE id = $1 AND revision = $8")
                            .bind(id).bind(owner).bind(&config.name).bind(&document).bind(current + 1).bind(now).bind(user).bind(current)
                            .execute(&mut *tx).await?.rows_affected();
                        if updated == 0 {
                            return Ok(None);
                        }
                        sqlx::query("DELETE FROM canary_config_applications WHERE config_id = $1").bind(id).execute(&mut *tx).await?;
                        current + 1
                    }
                };
                for (position, application) in config.applications.iter().enumerate() {
                    sqlx::query("INSERT INTO canary_config_applications (config_id, application, position) VALUES ($1, $2, $3)")
                        .bind(id).bind(application).bind(position as i64)
                        .execute(&mut *tx).await?;
                }
                sqlx::query("INSERT INTO canary_config_revisions (config_id, revision, config, update_ts, last_modified_by) VALUES ($1, $2, $3, $4, $5)")
                    .bind(id).bind(revision).bind(&document).bind(now).bind(user)
                    .execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(Some(revision))
            }.await
        });
        match outcome {
            Ok(Some(_)) => self.get_canary_config(id).await,
            Ok(None) => Err(Error::Stale(match expected {
                Some(expected) => format!("canary config {} changed since revision {expected}", config.name),
                None => format!("canary config {} changed while it was being saved: save again", config.name),
            })),
            Err(error) if is_unique_violation(&error) => Err(Error::Duplicate(format!("canary config {} of application {owner}", config.name))),
            Err(error) => Err(error.into()),
        }
    }

    /// Every revision of config `id`, newest first, each as it was saved (with the applications
    /// it named then); empty when there is no such config.
    pub async fn canary_config_revisions(&self, id: &str) -> Result<Vec<StoredCanaryConfig>> {
        let rows: Vec<(i64, String, i64, String)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT revision, config, update_ts, last_modified_by FROM canary_config_revisions WHERE config_id = $1 ORDER BY revision DESC")
                .bind(id).fetch_all(pool).await
        })?;
        rows.into_iter()
            .map(|(revision, config, update_ts, last_modified_by)| {
                CanaryConfigRow { id: id.to_string(), config, revision, update_ts, last_modified_by }.into_model(None)
            })
            .collect()
    }

    /// Deletes the config and its revisions; `NotFound` when there is none.
    pub async fn delete_canary_config(&self, id: &str) -> Result<()> {
        let deleted = on_pool!(self, pool => {
            sqlx::query("DELETE FROM canary_configs WHERE id = $1").bind(id).execute(pool).await.map(|done| done.rows_affected())
        })?;
        if deleted == 0 {
            return Err(Error::NotFound(format!("canary config {id}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::iso_8601;

    #[test]
    fn timestamps_read_as_java_instants() {
        assert_eq!(iso_8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_8601(1_569_534_009_252), "2019-09-26T21:40:09.252Z");
    }
}
