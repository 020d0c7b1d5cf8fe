//! Shared helpers for the workspace's cross-crate integration tests and the adapters' benches.

pub mod bench;
pub mod cluster;
pub mod relay;
