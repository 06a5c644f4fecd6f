//! The AWS back end: DynamoDB for every store, SQS for the queues, Secrets Manager for tokens and
//! keys, SES for notifications. Reached only through the AWS SDK for Rust; tests run these
//! adapters against moto's server mode over HTTP.

mod dynamodb;
pub mod provision;
mod s3;
mod secrets_manager;
mod ses;
mod sqs;

pub use dynamodb::{DynamoStores, TableNames};
pub use s3::S3Sink;
pub use secrets_manager::SecretsManagerStore;
pub use ses::SesMailer;
pub use sqs::SqsQueue;

/// Loads the SDK configuration from the environment (Lambda's role, `AWS_REGION`, ...), pointed
/// at `endpoint_url` when one is given (moto, LocalStack) instead of AWS.
pub async fn sdk_config(endpoint_url: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// The text of an SDK error with its whole cause chain (the SDK's `Display` alone says only
/// "service error").
pub fn describe_error<E: std::error::Error>(error: &E) -> String {
    describe(error)
}

pub(crate) fn describe<E: std::error::Error>(error: &E) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
