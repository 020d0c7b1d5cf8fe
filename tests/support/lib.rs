//! Shared helpers for the workspace's cross-crate integration tests.

pub mod relay;
