//! The connectors this build offers. The core knows no provider: each lives in its own crate
//! under `connectors/`, with its simulator beside it, and is registered here.

use std::sync::Arc;

use casb_shared::backend::Backend;
use casb_shared::connector::ConnectorRegistry;

/// Every connector, configured from the environment. Their app credentials are read from the
/// back end's secret store when first needed.
pub fn from_env(backend: &Backend) -> ConnectorRegistry {
    let mut registry = ConnectorRegistry::new();
    registry.register(Arc::new(casb_connector_box::BoxConnector::new(
        casb_connector_box::BoxConfig::from_env(),
        backend.secrets.clone(),
    )));
    registry.register(Arc::new(casb_connector_m365::M365Connector::new(
        casb_connector_m365::M365Config::from_env(),
        backend.secrets.clone(),
    )));
    registry.register(Arc::new(casb_connector_netskope::NetskopeConnector::new(
        casb_connector_netskope::NetskopeConfig::from_env(),
    )));
    registry.register(Arc::new(
        casb_connector_trendmicro::TrendMicroConnector::new(
            casb_connector_trendmicro::TrendMicroConfig::from_env(),
        ),
    ));
    registry
}
