//! One integration test binary (faster to link than one per file).
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod answers;
mod api;
mod bad_input;
mod cli;
mod cluster;
mod gis;
mod hostile;
mod hostile_files;
mod import_fixtures;
mod internet;
mod layers;
mod list_analyses;
mod mirror;
mod report;
mod saved;
mod server;
