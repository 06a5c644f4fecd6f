//! The api Lambda function: its axum router, served by lambda_http.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    casb_shared::telemetry::init_for_lambda();
    let core = casb_shared::Core::from_lambda_env(casb_connectors::from_env).await?;
    lambda_http::run(casb_shared::http::api::router(core)).await
}
