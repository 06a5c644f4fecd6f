//! The poller Lambda function: run on the EventBridge schedule, polls every pull integration.

use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    casb_shared::telemetry::init_for_lambda();
    let core = casb_shared::Core::from_lambda_env(casb_connectors::from_env).await?;
    let core = &core;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        casb_shared::lambda::poller_handler(core, event).await
    }))
    .await
}
