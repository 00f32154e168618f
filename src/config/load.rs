//! Loading: built-in defaults ← optional TOML file ← environment, then
//! validation — the one way a configuration comes to life.

use std::path::Path;

use super::env::{Env, apply};
use super::model::{Config, ConfigError};
use super::validate::validate;

impl Config {
    /// Defaults ← `file` (if any) ← `env`, then validated.
    pub fn load(file: Option<&Path>, env: &Env) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        apply(&mut config, env)?;
        validate(&config)?;
        Ok(config)
    }
}
