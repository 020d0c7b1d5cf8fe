//! Shared helpers for the workspace's cross-crate integration tests.

pub mod cluster;
pub mod relay;
