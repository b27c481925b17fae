//! Monitoring: data-quality checks with history, anomaly detection and alerts.
//!
//! Not built yet: the checks and alerts arrive with the monitoring work. The crate
//! exists so the workspace has its final shape from the start.
