use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::ports::{SecretError, SecretStore, StoredSecret};

/// Secrets in one JSON file readable by its owner only (mode 0600), rewritten atomically
/// (write a temporary file, then rename) so a crash leaves either the old or the new file.
#[derive(Clone)]
pub struct FileSecretStore {
    path: PathBuf,
    // Serialises read-modify-write cycles within the process.
    lock: Arc<Mutex<()>>,
}

#[derive(Default, Serialize, Deserialize)]
struct SecretsFile {
    secrets: BTreeMap<String, SecretEntry>,
}

#[derive(Serialize, Deserialize)]
struct SecretEntry {
    version: u64,
    value: String,
}

impl FileSecretStore {
    pub fn new(path: &Path) -> Self {
        FileSecretStore {
            path: path.to_path_buf(),
            lock: Arc::new(Mutex::new(())),
        }
    }

    fn read(&self) -> Result<SecretsFile, SecretError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                SecretError::Unavailable(format!(
                    "secrets file {} is not valid JSON ({e}); restore it from a backup",
                    self.path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SecretsFile::default()),
            Err(e) => Err(SecretError::Unavailable(format!(
                "cannot read secrets file {}: {e}",
                self.path.display()
            ))),
        }
    }

    fn write(&self, file: &SecretsFile) -> Result<(), SecretError> {
        let fail = |e: std::io::Error| {
            SecretError::Unavailable(format!(
                "cannot write secrets file {}: {e}",
                self.path.display()
            ))
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let temporary = self.path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut out = options.open(&temporary).map_err(fail)?;
        let json =
            serde_json::to_vec_pretty(file).map_err(|e| SecretError::Rejected(e.to_string()))?;
        out.write_all(&json).map_err(fail)?;
        out.sync_all().map_err(fail)?;
        std::fs::rename(&temporary, &self.path).map_err(fail)
    }
}

#[async_trait]
impl SecretStore for FileSecretStore {
    async fn put_secret(&self, name: &str, value: &SecretString) -> Result<String, SecretError> {
        let _guard = self.lock.lock().await;
        let mut file = self.read()?;
        let version = file.secrets.get(name).map_or(1, |e| e.version + 1);
        file.secrets.insert(
            name.to_string(),
            SecretEntry {
                version,
                value: value.expose_secret().to_string(),
            },
        );
        self.write(&file)?;
        Ok(version.to_string())
    }

    async fn get_secret(&self, name: &str) -> Result<Option<StoredSecret>, SecretError> {
        let _guard = self.lock.lock().await;
        Ok(self.read()?.secrets.remove(name).map(|entry| StoredSecret {
            value: SecretString::from(entry.value),
            version: entry.version.to_string(),
        }))
    }

    async fn delete_secret(&self, name: &str) -> Result<(), SecretError> {
        let _guard = self.lock.lock().await;
        let mut file = self.read()?;
        if file.secrets.remove(name).is_some() {
            self.write(&file)?;
        }
        Ok(())
    }
}
