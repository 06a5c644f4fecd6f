//! The inspector Lambda function: an SQS consumer that reports partial batch failures.

use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    casb_shared::telemetry::init_for_lambda();
    let core = casb_shared::Core::from_lambda_env(casb_connectors::from_env).await?;
    // Build the DLP engine and read the geolocation database now: a cold start pays for them
    // once, and a bad policy or database path stops here.
    core.scanner()?;
    core.geolocation()?;
    let core = &core;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        casb_shared::lambda::inspector_handler(core, event).await
    }))
    .await
}
