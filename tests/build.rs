//! Marks which real-server tests can run: `postgres_server` when `MIGRATION_SAFETY_TEST_PG` names
//! a server, `postgres_bin` when `MIGRATION_SAFETY_TEST_PG_BIN` names PostgreSQL's binaries,
//! `postgres_servers` when a `MIGRATION_SAFETY_TEST_PG_<major>` (12 to 18) names one.
//! Tests that need them are `#[ignore]`d otherwise, so that a run without PostgreSQL shows them
//! as ignored, with the reason, instead of passing without checking anything.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_servers)");
    let mut servers = false;
    for major in 12..=18 {
        let variable = format!("MIGRATION_SAFETY_TEST_PG_{major}");
        println!("cargo::rerun-if-env-changed={variable}");
        servers |= std::env::var_os(&variable).is_some_and(|v| !v.is_empty());
    }
    if servers {
        println!("cargo::rustc-cfg=postgres_servers");
    }
    for (variable, cfg) in [
        ("MIGRATION_SAFETY_TEST_PG", "postgres_server"),
        ("MIGRATION_SAFETY_TEST_PG_BIN", "postgres_bin"),
    ] {
        println!("cargo::rerun-if-env-changed={variable}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if std::env::var_os(variable).is_some_and(|v| !v.is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
