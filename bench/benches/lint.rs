//! Criterion benchmarks of each stage: splitting, parsing, one statement's lint, a 5,000-file
//! directory, and the run of the tests `#[check_migrations]` generates over 1,000 migrations.
//!
//! `cargo bench -p migration-safety-bench` (add `-- NAME` to run one).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use migration_safety::__private::{self as private, Config, Embedded, Suite};
use migration_safety::{Framework, Settings, lint_dir, lint_sql};

/// A typical migration: a table, a column, a backfill, an index and a constraint.
fn migration(i: usize) -> String {
    format!(
        "SET lock_timeout = '2s';\n\
         CREATE TABLE t{i} (id bigint PRIMARY KEY, email text NOT NULL, created_at timestamptz);\n\
         ALTER TABLE t{i} ADD COLUMN note text;\n\
         UPDATE t{i} SET note = 'x' WHERE id < 1000;\n\
         CREATE INDEX CONCURRENTLY t{i}_email_idx ON t{i} (email);\n\
         ALTER TABLE t{i} ADD CONSTRAINT t{i}_email_check CHECK (email <> '') NOT VALID;\n"
    )
}

fn stages(c: &mut Criterion) {
    let file: String = (0..200).map(migration).collect();
    c.bench_function("split 1,200 statements", |b| {
        b.iter(|| private::split_statements(black_box(&file)))
    });
    c.bench_function("parse 1,200 statements", |b| {
        b.iter(|| private::parse_statements(black_box(&file)))
    });
    let settings = Settings::default();
    c.bench_function("lint one statement", |b| {
        b.iter(|| {
            lint_sql(
                black_box("ALTER TABLE users ALTER COLUMN email SET NOT NULL;"),
                &settings,
            )
        })
    });
}

fn directory(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..5000 {
        std::fs::write(dir.path().join(format!("{i:05}_m.sql")), migration(i)).unwrap();
    }
    let settings = Settings::default().framework(Framework::Plain);
    let mut group = c.benchmark_group("directory");
    group.sample_size(10);
    group.bench_function("5,000 files", |b| {
        b.iter(|| lint_dir(dir.path(), &settings).unwrap())
    });
    group.finish();
}

fn generated_tests(c: &mut Criterion) {
    let migrations: &'static [Embedded] = (0..1000)
        .map(|i| Embedded {
            file: Box::leak(format!("{i:05}_m.sql").into_boxed_str()),
            down: false,
            bytes: Box::leak(migration(i).into_bytes().into_boxed_slice()),
        })
        .collect::<Vec<_>>()
        .leak();
    let config: &'static Config = Box::leak(Box::new(Config {
        dir: "migrations",
        manifest_dir: env!("CARGO_MANIFEST_DIR"),
        framework: "plain",
        detected: false,
        pg_version: None,
        allow: &[],
        warn: &[],
        deny: &[],
        check_down: false,
        app: None,
        base_ref: None,
        options: &[],
        config_file: None,
        migrations,
        sidecars: &[],
    }));
    let mut group = c.benchmark_group("check_migrations");
    group.sample_size(10);
    group.bench_function("1,000 generated tests", |b| {
        b.iter(|| {
            let suite = Suite::new(config);
            for i in 0..migrations.len() {
                suite.check(i);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, stages, directory, generated_tests);
criterion_main!(benches);
