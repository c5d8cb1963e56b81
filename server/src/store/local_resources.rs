//! The local cloud's desired state, one JSON document per resource.

use super::{Result, Store, on_pool};

impl Store {
    pub async fn local_resources(&self, kind: &str) -> Result<Vec<(String, String)>> {
        let rows: Vec<(String, String)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT name, body FROM local_resources WHERE kind = $1 ORDER BY name").bind(kind).fetch_all(pool).await
        })?;
        Ok(rows)
    }

    pub async fn put_local_resource(&self, kind: &str, name: &str, body: &str) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query("INSERT INTO local_resources (kind, name, body) VALUES ($1, $2, $3) ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body")
                .bind(kind).bind(name).bind(body).execute(pool).await.map(drop)
        })?;
        Ok(())
    }

    pub async fn delete_local_resource(&self, kind: &str, name: &str) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query("DELETE FROM local_resources WHERE kind = $1 AND name = $2").bind(kind).bind(name).execute(pool).await.map(drop)
        })?;
        Ok(())
    }
}
