//! S3 as an export sink: the exporter's files as objects in a bucket (the export bucket for
//! SIEMs, or Security Lake's bucket for its custom sources).

use async_trait::async_trait;

use super::describe;
use crate::ports::{ObjectSink, StoreError};

#[derive(Clone)]
pub struct S3Sink {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Sink {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3Sink {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl ObjectSink for S3Sink {
    async fn put_object(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StoreError> {
        // One PUT: S3 stores the whole object or nothing, and a second PUT of the same key
        // replaces it (an exporter recovering a batch rewrites it in place).
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!("s3://{}/{key}: {}", self.bucket, describe(&e)))
            })?;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("s3://{}", self.bucket)
    }
}
