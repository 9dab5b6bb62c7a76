//! New migration files, written in the framework's own layout: numbered to run right after the
//! migration being fixed (see [`migration_safety_core::naming`]), with the framework's
//! transaction marker when a script must run outside a transaction, and its down migration
//! where the framework keeps one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use migration_safety_core::naming::{Listing, NewMigration};

use crate::layout::Migration;

/// What the header of every migration a fix writes says, so that a later fix on the same
/// migration puts its own after them.
pub(crate) const WRITTEN_BY: &str = "written by `migration-safety fix`";

use super::{Fix, NewFile};
use crate::framework::{self, Sidecar};
use crate::layout::{self, Direction, Framework};

/// Why `fix` cannot be applied with the fixes applied before it, whose new migrations follow
/// the migrations in `numbered`: two fixes of one migration both number their new migrations
/// against the files on disk, so their versions would collide. Once the first fix's files are
/// written, the next run numbers the other's after them.
pub(crate) fn numbered_twice(fix: &Fix, numbered: &[&Path]) -> Option<String> {
    if fix.new_files.is_empty() {
        return None;
    }
    let edit = fix
        .edits
        .iter()
        .find(|e| numbered.contains(&e.path.as_path()))?;
    Some(format!(
        "another fix adds migrations after `{}` in this run, numbered like these: run `migration-safety fix --write` again once its files are written",
        edit.path.display()
    ))
}

/// A migration to write after the one being fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Script {
    /// Its name in words, made into the file name (`create users_email_idx`).
    pub(crate) name: String,
    /// The comment lines that open it, without `-- `; they mention [`WRITTEN_BY`].
    pub(crate) header: Vec<String>,
    /// Its statements, each with its `;` and any comment line that belongs to it.
    pub(crate) up: Vec<String>,
    /// The statements that revert it, for the frameworks that keep a down migration.
    pub(crate) down: Vec<String>,
    /// Whether it may run inside a transaction (`false` for `CONCURRENTLY`).
    pub(crate) transaction: bool,
}

/// Where a reported migration file lies: its framework's migrations directory, its name there
/// and the directory's listing, when the layout knows it as an up migration.
fn site(path: &Path, framework: Framework) -> Option<(PathBuf, String, Arc<Listing>)> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty())?;
    let nested = match framework {
        Framework::Diesel | Framework::Prisma => true,
        Framework::DbMigrate => parent.file_name().is_some_and(|n| n == "sqls"),
        _ => false,
    };
    let dir = if nested { parent.parent()? } else { parent };
    let file = path.strip_prefix(dir).ok()?.to_str()?.replace('\\', "/");
    let listing = listing(dir, framework)?;
    listing
        .has_up(&file)
        .then(|| (dir.to_path_buf(), file, listing))
}

/// The migrations of `dir` as `framework` lays them out, listed once per state of the
/// directory (its modification time changes when an entry is added, removed or renamed): a
/// check whose findings write new migrations would otherwise list the directory once per
/// finding, quadratic in a large directory.
fn listing(dir: &Path, framework: Framework) -> Option<Arc<Listing>> {
    type Listings = HashMap<(PathBuf, Framework), (SystemTime, Arc<Listing>)>;
    static LISTINGS: OnceLock<Mutex<Listings>> = OnceLock::new();
    let modified = std::fs::metadata(dir).and_then(|m| m.modified()).ok()?;
    let key = (dir.to_path_buf(), framework);
    let mut listings = LISTINGS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some((at, found)) = listings.get(&key)
        && *at == modified
    {
        return Some(Arc::clone(found));
    }
    let found = Arc::new(Listing::new(layout::discover(dir, framework).ok()?));
    listings.insert(key, (modified, Arc::clone(&found)));
    Some(found)
}

/// Why new migration files cannot be written.
pub(crate) fn cannot(framework: Framework, why: impl std::fmt::Display) -> String {
    format!("cannot write new {framework} migrations: {why}")
}

/// The files of `scripts`, to run in order right after the migration reported at `path`,
/// with paths on the same base as `path`. A script that must run outside a transaction is
/// split into one migration per statement where the framework sends a file as one query
/// (PostgreSQL would otherwise run the statements as one implicit transaction).
pub(crate) fn write(
    path: &Path,
    framework: Framework,
    scripts: &[Script],
) -> Result<Vec<NewFile>, String> {
    let (dir, after, existing) = site(path, framework).ok_or_else(|| {
        cannot(
            framework,
            format_args!(
                "`{}` is not a migration of a {framework} migrations directory",
                path.display()
            ),
        )
    })?;
    if scripts.iter().any(|s| !s.transaction) {
        match framework {
            Framework::Refinery => {
                return Err(cannot(
                    framework,
                    "refinery runs every migration inside a transaction, with no way to opt out",
                ));
            }
            Framework::DbMigrate => {
                return Err(cannot(
                    framework,
                    "db-migrate runs every migration inside a transaction unless the whole run uses `--non-transactional`",
                ));
            }
            _ => {}
        }
    }
    let one_query = framework::plan(
        framework,
        Direction::Up,
        "SELECT 1;",
        false,
        &Sidecar::default(),
    )
    .units
    .iter()
    .any(|u| u.single_query);
    let scripts: Vec<Script> = scripts.iter().flat_map(|s| split(s, one_query)).collect();
    let names: Vec<&str> = scripts.iter().map(|s| s.name.as_str()).collect();
    let written = |m: &Migration| {
        std::fs::read_to_string(dir.join(&m.file)).is_ok_and(|text| text.contains(WRITTEN_BY))
    };
    let new = existing
        .new_migrations(framework, &after, &names, written)
        .map_err(|error| cannot(framework, error))?;
    let mut out = Vec::new();
    for (script, migration) in scripts.iter().zip(&new) {
        files(framework, &dir, script, migration, &mut out);
    }
    Ok(out)
}

/// A script that must run outside a transaction, as one script per statement when the
/// framework sends a file as one query.
fn split(script: &Script, one_query: bool) -> Vec<Script> {
    if script.transaction || !one_query || script.up.len() <= 1 {
        return vec![script.clone()];
    }
    let count = script.up.len();
    script
        .up
        .iter()
        .enumerate()
        .map(|(i, statement)| Script {
            name: format!("{} {}", script.name, i + 1),
            header: script.header.clone(),
            up: vec![statement.clone()],
            // The down statements revert the up ones in reverse order.
            down: script
                .down
                .get(count - 1 - i)
                .cloned()
                .into_iter()
                .collect(),
            transaction: false,
        })
        .collect()
}

/// The text of a script's body: its header comments, then its statements, one per line.
fn body(framework: Framework, header: &[String], statements: &[String]) -> String {
    let mut out = String::new();
    for line in header {
        out.push_str(&comment(line));
    }
    for statement in statements {
        out.push_str(&statement_text(framework, statement));
    }
    out
}

/// A statement on lines of its own, as `framework` reads it: goose splits at a `;` that ends
/// a line, so a statement with a body (a `DO` block, a function) keeps together between
/// `StatementBegin` and `StatementEnd`.
pub(crate) fn statement_text(framework: Framework, statement: &str) -> String {
    let statement = statement.trim_end();
    let body = statement.trim_end_matches(';').contains([';', '$']);
    if framework == Framework::Goose && body {
        format!("-- +goose StatementBegin\n{statement}\n-- +goose StatementEnd\n")
    } else {
        format!("{statement}\n")
    }
}

fn comment(line: &str) -> String {
    if line.is_empty() {
        "--\n".to_owned()
    } else {
        format!("-- {line}\n")
    }
}

/// Push the files of one migration.
fn files(
    framework: Framework,
    dir: &Path,
    script: &Script,
    migration: &NewMigration,
    out: &mut Vec<NewFile>,
) {
    let tx = script.transaction;
    let up = if framework == Framework::Plain && tx && script.up.len() > 1 {
        // psql runs statement by statement: the phase's own transaction block.
        let statements: Vec<String> = std::iter::once("BEGIN;".to_owned())
            .chain(script.up.iter().cloned())
            .chain(["COMMIT;".to_owned()])
            .collect();
        body(framework, &script.header, &statements)
    } else {
        body(framework, &script.header, &script.up)
    };
    let down = body(framework, &[], &script.down);
    let mut push = |rel: &str, contents: String| {
        out.push(NewFile {
            path: dir.join(rel),
            contents,
        })
    };
    let up_text = match framework {
        Framework::Sqlx if !tx => format!("-- no-transaction\n{up}"),
        Framework::Goose => {
            let marker = if tx { "" } else { "-- +goose NO TRANSACTION\n" };
            format!("{marker}-- +goose Up\n{up}\n-- +goose Down\n{down}")
        }
        Framework::Dbmate => {
            let option = if tx { "" } else { " transaction:false" };
            format!("-- migrate:up{option}\n{up}\n-- migrate:down{option}\n{down}")
        }
        Framework::Atlas if !tx => format!("-- atlas:txmode none\n\n{up}"),
        _ => up,
    };
    push(&migration.up, up_text);
    if let Some(down_file) = &migration.down {
        let down_text = match framework {
            Framework::Sqlx if !tx => format!("-- no-transaction\n{down}"),
            _ => down,
        };
        push(down_file, down_text);
    }
    match framework {
        Framework::Diesel if !tx => {
            let folder = migration.up.trim_end_matches("up.sql");
            push(
                &format!("{folder}metadata.toml"),
                "run_in_transaction = false\n".to_owned(),
            );
        }
        Framework::Flyway if !tx => {
            for script in [Some(&migration.up), migration.down.as_ref()]
                .into_iter()
                .flatten()
            {
                push(
                    &format!("{script}.conf"),
                    "executeInTransaction=false\n".to_owned(),
                );
            }
        }
        Framework::DbMigrate => {
            // The `.js` migration db-migrate runs, next to `sqls/`, reading the two scripts.
            let name = |rel: &str| rel.rsplit('/').next().unwrap_or(rel).to_owned();
            let js = Path::new(&migration.up)
                .parent()
                .and_then(Path::parent)
                .map_or_else(PathBuf::new, Path::to_path_buf)
                .join(format!("{}-{}.js", migration.version, migration.name));
            let down = migration.down.as_deref().map(name).unwrap_or_default();
            push(
                &js.to_string_lossy(),
                db_migrate_js(&name(&migration.up), &down),
            );
        }
        _ => {}
    }
}

/// A db-migrate migration that runs the SQL of its two scripts.
fn db_migrate_js(up: &str, down: &str) -> String {
    format!(
        r#"'use strict';

const fs = require('fs');
const path = require('path');

function runScript(db, name) {{
  const sql = fs.readFileSync(path.join(__dirname, 'sqls', name), 'utf8');
  return db.runSql(sql);
}}

exports.up = function (db) {{
  return runScript(db, '{up}');
}};

exports.down = function (db) {{
  return runScript(db, '{down}');
}};

exports._meta = {{
  version: 1,
}};
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(transaction: bool, up: &[&str], down: &[&str]) -> Script {
        Script {
            name: "create users_email_idx".to_owned(),
            header: vec![format!("Runs outside a transaction, {WRITTEN_BY}.")],
            up: up.iter().map(|s| (*s).to_owned()).collect(),
            down: down.iter().map(|s| (*s).to_owned()).collect(),
            transaction,
        }
    }

    #[test]
    fn frameworks_without_an_opt_out_refuse_non_transactional_scripts() {
        for (framework, file) in [
            (Framework::Refinery, "V1__a.sql"),
            (Framework::DbMigrate, "sqls/1-a-up.sql"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "").unwrap();
            let error = write(&path, framework, &[script(false, &["SELECT 1;"], &[])]).unwrap_err();
            assert!(error.contains("inside a transaction"), "{error}");
            assert!(write(&path, framework, &[script(true, &["SELECT 1;"], &[])]).is_ok());
        }
    }

    #[test]
    fn a_file_outside_a_migrations_directory_has_no_new_files() {
        let error = write(
            Path::new("input.sql"),
            Framework::Plain,
            &[script(true, &["SELECT 1;"], &[])],
        )
        .unwrap_err();
        assert!(error.contains("is not a migration"), "{error}");
    }

    #[test]
    fn statements_outside_a_transaction_get_a_file_each_where_the_file_is_one_query() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1_a.sql");
        std::fs::write(&path, "").unwrap();
        let two = script(
            false,
            &[
                "CREATE INDEX CONCURRENTLY a ON t (a);",
                "CREATE INDEX CONCURRENTLY b ON t (b);",
            ],
            &["DROP INDEX CONCURRENTLY a;", "DROP INDEX CONCURRENTLY b;"],
        );
        let names = |framework| {
            write(&path, framework, std::slice::from_ref(&two))
                .unwrap()
                .into_iter()
                .map(|f| f.path.file_name().unwrap().to_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(Framework::Sqlx),
            [
                "2_create_users_email_idx_1.sql",
                "3_create_users_email_idx_2.sql"
            ]
        );
        assert_eq!(names(Framework::Plain), ["2_create_users_email_idx.sql"]);
    }
}
