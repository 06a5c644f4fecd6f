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
        let json =
            serde_json::to_vec_pretty(file).map_err(|e| SecretError::Rejected(e.to_string()))?;
        write_owner_only(&self.path, &json, true)
            .map(|_| ())
            .map_err(|e| {
                SecretError::Unavailable(format!(
                    "cannot write secrets file {}: {e}",
                    self.path.display()
                ))
            })
    }
}

/// Writes `bytes` to `path`, readable by its owner only (mode 0600), through a temporary file
/// beside it, so a crash leaves either the old content or the new. With `replace` the new
/// content replaces any old one (a rename); without it an existing file is kept and `false`
/// returned (a hard link, which fails if the name exists: of two processes creating the file at
/// once, exactly one wins and both then read the same content).
pub(crate) fn write_owner_only(path: &Path, bytes: &[u8], replace: bool) -> std::io::Result<bool> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = path.with_extension(format!(
        "tmp-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&temporary).and_then(|mut out| {
        out.write_all(bytes)?;
        out.sync_all()
    });
    let placed = written.and_then(|()| {
        if replace {
            std::fs::rename(&temporary, path).map(|()| true)
        } else {
            match std::fs::hard_link(&temporary, path) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e),
            }
        }
    });
    // After a rename there is nothing left to remove; otherwise the temporary goes.
    let _ = std::fs::remove_file(&temporary);
    placed
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
