//! The REST API's credentials and the tenants' block lists on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::params;

use super::database::{
    collect_strings, docs, first_doc, from_doc, millis, sqlite_error, to_doc, Database,
};
use crate::access::ApiCredential;
use crate::domain::{BlockEntry, BlockList};
use crate::ports::{AccessStore, StoreError};

#[async_trait]
impl AccessStore for Database {
    async fn create_credential(&self, credential: &ApiCredential) -> Result<bool, StoreError> {
        let doc = to_doc(credential)?;
        let (id, tenant) = (credential.id.clone(), credential.tenant_id.clone());
        let purge_at = credential.purge_at().map(millis);
        self.run(move |c| {
            let written = c
                .execute(
                    "INSERT INTO api_credentials (id, tenant_id, purge_at, doc) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (id) DO NOTHING",
                    params![id, tenant, purge_at, doc],
                )
                .map_err(sqlite_error)?;
            Ok(written == 1)
        })
        .await
    }

    async fn get_credential(&self, id: &str) -> Result<Option<ApiCredential>, StoreError> {
        let id = id.to_string();
        let doc: Option<String> = self
            .run(move |c| {
                first_doc(
                    c,
                    "SELECT doc FROM api_credentials WHERE id = ?1",
                    params![id],
                )
            })
            .await?;
        doc.map(|d| from_doc("API credential", &d)).transpose()
    }

    async fn list_credentials(&self, tenant_id: &str) -> Result<Vec<ApiCredential>, StoreError> {
        let tenant = tenant_id.to_string();
        let rows = self
            .run(move |c| {
                collect_strings(
                    c,
                    "SELECT doc FROM api_credentials WHERE tenant_id = ?1",
                    params![tenant],
                )
            })
            .await?;
        let mut credentials: Vec<ApiCredential> = docs("API credential", rows)?;
        credentials.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(credentials)
    }

    async fn revoke_credential(
        &self,
        tenant_id: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (tenant, id) = (tenant_id.to_string(), id.to_string());
        self.run(move |c| {
            let doc = first_doc(
                c,
                "SELECT doc FROM api_credentials WHERE id = ?1 AND tenant_id = ?2",
                params![id, tenant],
            )?;
            let Some(doc) = doc else { return Ok(false) };
            let mut credential: ApiCredential = from_doc("API credential", &doc)?;
            credential.revoked_at.get_or_insert(at);
            c.execute(
                "UPDATE api_credentials SET doc = ?2 WHERE id = ?1",
                params![id, to_doc(&credential)?],
            )
            .map_err(sqlite_error)?;
            Ok(true)
        })
        .await
    }

    async fn add_block_entry(&self, entry: &BlockEntry) -> Result<bool, StoreError> {
        let doc = to_doc(entry)?;
        let row = (
            entry.tenant_id.clone(),
            entry.list.as_str(),
            entry.value.clone(),
        );
        self.run(move |c| {
            let written = c
                .execute(
                    "INSERT INTO block_entries (tenant_id, list, value, doc) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (tenant_id, list, value) DO NOTHING",
                    params![row.0, row.1, row.2, doc],
                )
                .map_err(sqlite_error)?;
            Ok(written == 1)
        })
        .await
    }

    async fn remove_block_entry(
        &self,
        tenant_id: &str,
        list: BlockList,
        value: &str,
    ) -> Result<bool, StoreError> {
        let (tenant, value) = (tenant_id.to_string(), value.to_string());
        self.run(move |c| {
            let removed = c
                .execute(
                    "DELETE FROM block_entries WHERE tenant_id = ?1 AND list = ?2 AND value = ?3",
                    params![tenant, list.as_str(), value],
                )
                .map_err(sqlite_error)?;
            Ok(removed == 1)
        })
        .await
    }

    async fn list_block_entries(
        &self,
        tenant_id: &str,
        list: BlockList,
    ) -> Result<Vec<BlockEntry>, StoreError> {
        let tenant = tenant_id.to_string();
        let rows = self
            .run_before_sync(move |c| {
                collect_strings(
                    c,
                    "SELECT doc FROM block_entries WHERE tenant_id = ?1 AND list = ?2 ORDER BY value",
                    params![tenant, list.as_str()],
                )
            })
            .await?;
        docs("block entry", rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access;

    #[tokio::test]
    async fn expired_access_tokens_are_purged_a_day_later_and_keys_are_kept() {
        let database = Database::in_memory().unwrap();
        let now = Utc::now();
        let user = access::issue_api_user("acme", "bot", now);
        let token = access::issue_access_token(&user.credential, now);
        let key =
            access::issue_api_key("acme", "siem", now, Some(now + chrono::Duration::hours(1)));
        for credential in [&user.credential, &token.credential, &key.credential] {
            assert!(database.create_credential(credential).await.unwrap());
        }
        // Expired an hour ago, but kept for the list until a day has passed.
        database
            .purge_expired(now + chrono::Duration::hours(2))
            .await
            .unwrap();
        assert!(database
            .get_credential(&token.credential.id)
            .await
            .unwrap()
            .is_some());
        database
            .purge_expired(now + chrono::Duration::hours(26))
            .await
            .unwrap();
        assert!(database
            .get_credential(&token.credential.id)
            .await
            .unwrap()
            .is_none());
        assert!(database
            .get_credential(&key.credential.id)
            .await
            .unwrap()
            .is_some());
        assert!(database.get_credential("user:bot").await.unwrap().is_some());
    }
}
