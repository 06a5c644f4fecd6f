use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use secrecy::{ExposeSecret, SecretString};

use super::describe;
use crate::ports::{SecretError, SecretStore, StoredSecret};

/// Secrets Manager, every name under this stack's prefix (the functions' IAM policies allow
/// nothing outside it).
#[derive(Clone)]
pub struct SecretsManagerStore {
    client: Client,
    prefix: String,
}

impl SecretsManagerStore {
    pub fn new(client: Client, prefix: &str) -> Self {
        SecretsManagerStore {
            client,
            prefix: prefix.trim_end_matches('/').to_string(),
        }
    }

    fn full_name(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }
}

fn unavailable<E: std::error::Error>(error: E) -> SecretError {
    SecretError::Unavailable(format!("secrets manager: {}", describe(&error)))
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn put_secret(&self, name: &str, value: &SecretString) -> Result<String, SecretError> {
        let id = self.full_name(name);
        let put = self
            .client
            .put_secret_value()
            .secret_id(&id)
            .secret_string(value.expose_secret())
            .send()
            .await;
        let version = match put {
            Ok(output) => output.version_id,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                self.client
                    .create_secret()
                    .name(&id)
                    .secret_string(value.expose_secret())
                    .send()
                    .await
                    .map_err(unavailable)?
                    .version_id
            }
            Err(e) => return Err(unavailable(e)),
        };
        version.ok_or_else(|| {
            SecretError::Rejected(format!("no version id returned for secret '{id}'"))
        })
    }

    async fn get_secret(&self, name: &str) -> Result<Option<StoredSecret>, SecretError> {
        let result = self
            .client
            .get_secret_value()
            .secret_id(self.full_name(name))
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.secret_string.map(|value| StoredSecret {
                value: SecretString::from(value),
                version: output.version_id.unwrap_or_default(),
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn delete_secret(&self, name: &str) -> Result<(), SecretError> {
        let result = self
            .client
            .delete_secret()
            .secret_id(self.full_name(name))
            .force_delete_without_recovery(true)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}
