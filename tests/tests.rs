
mod mirror;
