//! The configuration file: any text is a configuration or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use migration_safety::config::Config;

fuzz_target!(|text: &str| {
    if let Err(error) = Config::parse(text, "migration-safety.toml") {
        error.to_string();
    }
});
