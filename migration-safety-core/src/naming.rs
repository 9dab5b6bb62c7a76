//! Names for new migrations: the files a framework needs for migrations that must run right
//! after an existing one, numbered in the framework's own scheme (timestamps, sequence
//! numbers, Flyway's dotted versions), before the next existing migration and colliding with
//! none.
//!
//! The versions are checked the way [`discover`](crate::layout::discover) orders migrations,
//! so a name chosen here is found there, in the intended place.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::layout::{self, Direction, Framework, Key, LayoutError, Migration};

/// The files of a migration to add, relative to the migrations directory, with `/` separators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMigration {
    /// Its version, in the scheme of the migration it follows.
    pub version: String,
    /// Its name, as the framework accepts it in a file name.
    pub name: String,
    /// The script that applies it: the one file that also holds the down section for goose and
    /// dbmate, `<dir>/up.sql` for diesel, `<dir>/migration.sql` for Prisma.
    pub up: String,
    /// The script that reverts it, where the framework keeps one in a file of its own (and,
    /// for sqlx and Flyway, where the migration it follows has one too).
    pub down: Option<String>,
}

/// Why no name can be given to a new migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamingError {
    /// The directory cannot be read as migrations of the framework.
    Layout(LayoutError),
    /// The migration is not one of the directory's.
    NotFound(String),
    /// The migration has no version to number new ones after (a Flyway repeatable script, a
    /// plain SQL file without a number in front).
    NoVersion(String),
    /// No version of the migration's scheme fits after it (and before the next one, if any).
    NoRoom {
        /// The migration the new ones must follow.
        after: String,
        /// The next existing migration.
        next: Option<String>,
    },
}

impl fmt::Display for NamingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamingError::Layout(error) => error.fmt(f),
            NamingError::NotFound(file) => {
                write!(f, "`{file}` is not a migration of its directory")
            }
            NamingError::NoVersion(file) => write!(
                f,
                "`{file}` has no version, so no migration can be numbered to run right after it"
            ),
            NamingError::NoRoom {
                after,
                next: Some(next),
            } => write!(
                f,
                "no version fits between `{after}` and `{next}`: renumber `{next}` (and the migrations after it, if none has run yet) to make room"
            ),
            NamingError::NoRoom { after, next: None } => write!(
                f,
                "no version of the same width sorts after `{after}`: renumber the migrations with wider versions to make room"
            ),
        }
    }
}

impl std::error::Error for NamingError {}

impl From<LayoutError> for NamingError {
    fn from(error: LayoutError) -> Self {
        NamingError::Layout(error)
    }
}

/// A directory's migrations, as [`discover`](crate::layout::discover) lists them, indexed
/// so that naming new migrations after one of them costs what is named, not the size of the
/// directory (a check names them for every finding whose fix adds migrations).
#[derive(Debug, Clone, Default)]
pub struct Listing {
    migrations: Vec<Migration>,
    /// The up migrations, as indexes into `migrations`, in order.
    ups: Vec<usize>,
    /// For each up migration's file, its place in `ups`.
    up_at: HashMap<String, usize>,
    /// For each file, its first place in `migrations`.
    at: HashMap<String, usize>,
    /// Whether any migration is a down migration.
    has_undo: bool,
    /// Every version, as its framework compares them (see [`normalized`]).
    versions: HashSet<String>,
}

impl Listing {
    /// Index `migrations`, in the order [`discover`](crate::layout::discover) gives them.
    pub fn new(migrations: Vec<Migration>) -> Self {
        let mut listing = Self::default();
        for (i, m) in migrations.iter().enumerate() {
            listing.at.entry(m.file.clone()).or_insert(i);
            if m.direction == Direction::Up {
                listing
                    .up_at
                    .entry(m.file.clone())
                    .or_insert(listing.ups.len());
                listing.ups.push(i);
            } else {
                listing.has_undo = true;
            }
            listing.versions.insert(normalized(&m.version));
        }
        listing.migrations = migrations;
        listing
    }

    /// Whether `file` (as [`Migration::file`] gives it) is an up migration of the listing.
    pub fn has_up(&self, file: &str) -> bool {
        self.up_at.contains_key(file)
    }

    /// Name `names.len()` new migrations that `framework` runs right after the migration in
    /// `after` (a file as [`Migration::file`] gives it), in the order of `names`, each with a
    /// version of the same scheme as `after`'s: the next seconds of a timestamp, the next
    /// numbers of a sequence, or for Flyway a sub-version (`V3.1`) when the next number is
    /// taken.
    ///
    /// The migrations right after `after` for which `written` holds (those an earlier fix
    /// wrote after it) stay right after it: the new ones follow them.
    ///
    /// ```
    /// use migration_safety_core::{layout::{self, Framework}, naming::Listing};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # for name in ["20240101000000_users.sql", "20240301000000_more.sql"] { std::fs::write(dir.path().join(name), "").unwrap(); }
    /// let listing = Listing::new(layout::discover(dir.path(), Framework::Sqlx)?);
    /// let new = listing.new_migrations(Framework::Sqlx, "20240101000000_users.sql", &["add_index", "validate"], |_| false)?;
    /// let files: Vec<_> = new.iter().map(|m| m.up.as_str()).collect();
    /// assert_eq!(files, ["20240101000001_add_index.sql", "20240101000002_validate.sql"]);
    /// # Ok::<(), migration_safety_core::naming::NamingError>(())
    /// ```
    pub fn new_migrations(
        &self,
        framework: Framework,
        after: &str,
        names: &[&str],
        written: impl Fn(&Migration) -> bool,
    ) -> Result<Vec<NewMigration>, NamingError> {
        let existing = &self.migrations;
        let Some(&at) = self.up_at.get(after) else {
            return Err(NamingError::NotFound(after.to_owned()));
        };
        let chained = self.ups[at + 1..]
            .iter()
            .take_while(|&&i| written(&existing[i]))
            .count();
        let after = &existing[self.ups[at + chained]];
        if after.version.is_empty() {
            return Err(NamingError::NoVersion(after.file.clone()));
        }
        let key = |m: &Migration| key_of(framework, &m.file);
        let after_key = key(after).ok_or_else(|| NamingError::NotFound(after.file.clone()))?;
        // The migrations are in discovery's order, by this key: the next migration is the first
        // after `after` with a greater key (not its own down migration).
        let from = self.at.get(&after.file).copied().unwrap_or(0);
        let next = existing[from..]
            .iter()
            .filter_map(|m| Some((key(m)?, m)))
            .find(|(k, _)| *k > after_key);
        let depths = if framework == Framework::Flyway { 4 } else { 1 };
        for depth in 0..depths {
            let mut planned = Vec::new();
            for (step, name) in (1..).zip(names) {
                let Some(version) = bump(framework, &after.version, depth, step) else {
                    break;
                };
                planned.push(files(framework, after, self.has_undo, &version, name));
            }
            let fits = planned.len() == names.len()
                && planned.iter().all(|new| {
                    let Some(k) = key_of(framework, &new.up) else {
                        return false;
                    };
                    let free = !self.versions.contains(&normalized(&new.version));
                    free && k > after_key && next.as_ref().is_none_or(|(n, _)| k < *n)
                });
            if fits {
                return Ok(planned);
            }
        }
        Err(NamingError::NoRoom {
            after: after.file.clone(),
            next: next.map(|(_, next)| next.file.clone()),
        })
    }
}

/// A version as its framework compares versions: dashes and leading zeros do not count.
fn normalized(version: &str) -> String {
    version
        .chars()
        .filter(|c| *c != '-')
        .skip_while(|c| *c == '0')
        .collect()
}

/// The ordering key of a migration file (relative to the directory), as discovery gives it.
fn key_of(framework: Framework, file: &str) -> Option<Key> {
    let (version, name, _) = layout::parse_file(framework, file)?;
    let entry = match framework {
        Framework::Plain => file,
        Framework::Diesel | Framework::Prisma => file.split('/').next()?,
        _ => file.rsplit('/').next()?,
    };
    Some(layout::order_key(framework, &version, &name, entry))
}

/// The version `step` places after `version`. Flyway at `depth` > 0 adds parts instead of
/// counting on the last one: `3` gives `3.1` at depth 1, `3.0.1` at depth 2.
fn bump(framework: Framework, version: &str, depth: usize, step: u64) -> Option<String> {
    if framework != Framework::Flyway {
        return bump_template(version, step);
    }
    let sep = version
        .chars()
        .find(|c| matches!(c, '.' | '_'))
        .unwrap_or('.');
    if depth == 0 {
        let (head, last) = match version.rfind(['.', '_']) {
            Some(at) => version.split_at(at + 1),
            None => ("", version),
        };
        return Some(format!("{head}{}", bump_template(last, step)?));
    }
    let zeros = std::iter::repeat_n("0".to_owned(), depth - 1);
    let parts: Vec<String> = zeros.chain([step.to_string()]).collect();
    Some(format!("{version}{sep}{}", parts.join(&sep.to_string())))
}

/// Count `step` on from a version whose digits, read together, are a timestamp
/// (`YYYYMMDDHHMMSS`, in seconds) or a number (keeping its width), and put the digits back
/// between the same separators (diesel's `2024-01-01-120000`).
fn bump_template(version: &str, step: u64) -> Option<String> {
    let digits: String = version.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    let next = match timestamp_seconds(&digits) {
        Some(seconds) => format_timestamp(seconds + i64::try_from(step).ok()?),
        None => {
            let value: u128 = digits.parse().ok()?;
            format!("{:0width$}", value + u128::from(step), width = digits.len())
        }
    };
    if next.len() == digits.len() {
        let mut out = String::new();
        let mut new = next.chars();
        for c in version.chars() {
            out.push(if c.is_ascii_digit() { new.next()? } else { c });
        }
        Some(out)
    } else if digits.len() == version.len() {
        Some(next)
    } else {
        None
    }
}

/// Seconds since 1970 of a `YYYYMMDDHHMMSS` timestamp, when the digits are one.
fn timestamp_seconds(digits: &str) -> Option<i64> {
    if digits.len() != 14 {
        return None;
    }
    let part = |range: std::ops::Range<usize>| digits[range].parse::<i64>().ok();
    let (y, mo, d) = (part(0..4)?, part(4..6)?, part(6..8)?);
    let (h, mi, s) = (part(8..10)?, part(10..12)?, part(12..14)?);
    let valid = (1970..=9999).contains(&y)
        && (1..=12).contains(&mo)
        && (1..=days_in_month(y, mo)).contains(&d)
        && h < 24
        && mi < 60
        && s < 60;
    valid.then(|| days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

fn format_timestamp(seconds: i64) -> String {
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A name as the framework accepts it: refinery only takes word characters, db-migrate's
/// names are dasherized, the others keep snake_case.
fn file_name_part(framework: Framework, name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '_'
        };
        if c != '_' || !out.ends_with('_') {
            out.push(c);
        }
    }
    let out = out.trim_matches('_');
    if framework == Framework::DbMigrate {
        out.replace('_', "-")
    } else {
        out.to_owned()
    }
}

/// The files of a new migration `version`/`name` placed like `after`.
fn files(
    framework: Framework,
    after: &Migration,
    has_undo: bool,
    version: &str,
    name: &str,
) -> NewMigration {
    let name = file_name_part(framework, name);
    // The subdirectory `after` lies in, for the layouts that search recursively.
    let folder = match after.file.rfind('/') {
        Some(at)
            if matches!(
                framework,
                Framework::Plain | Framework::Refinery | Framework::Flyway | Framework::DbMigrate
            ) =>
        {
            &after.file[..=at]
        }
        _ => "",
    };
    let file = |f: String| format!("{folder}{f}");
    let (up, down) = match framework {
        Framework::Plain => {
            let stem = after.file[folder.len()..].trim_end_matches(".sql");
            let sep = stem[after.version.len()..]
                .chars()
                .next()
                .filter(|c| matches!(c, '_' | '-' | '.'))
                .unwrap_or('_');
            (file(format!("{version}{sep}{name}.sql")), None)
        }
        Framework::Sqlx if after.file.ends_with(".up.sql") => (
            file(format!("{version}_{name}.up.sql")),
            Some(file(format!("{version}_{name}.down.sql"))),
        ),
        Framework::Sqlx | Framework::Goose | Framework::Dbmate | Framework::Atlas => {
            (file(format!("{version}_{name}.sql")), None)
        }
        Framework::GolangMigrate => (
            file(format!("{version}_{name}.up.sql")),
            Some(file(format!("{version}_{name}.down.sql"))),
        ),
        Framework::Diesel => (
            format!("{version}_{name}/up.sql"),
            Some(format!("{version}_{name}/down.sql")),
        ),
        Framework::Prisma => (format!("{version}_{name}/migration.sql"), None),
        Framework::Refinery => (file(format!("V{version}__{name}.sql")), None),
        Framework::Flyway => (
            file(format!("V{version}__{name}.sql")),
            has_undo.then(|| file(format!("U{version}__{name}.sql"))),
        ),
        Framework::DbMigrate => (
            file(format!("{version}-{name}-up.sql")),
            Some(file(format!("{version}-{name}-down.sql"))),
        ),
    };
    NewMigration {
        version: version.to_owned(),
        name,
        up,
        down,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "-- migrate:up\n").unwrap();
        }
        dir
    }

    fn names(
        framework: Framework,
        files: &[&str],
        after: &str,
        count: usize,
    ) -> Result<Vec<String>, NamingError> {
        let dir = dir_with(files);
        let names: Vec<String> = (1..=count).map(|i| format!("step {i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let listing = Listing::new(layout::discover(dir.path(), framework)?);
        let new =
            listing.new_migrations(framework, after, &names, |m| m.name.starts_with("step"))?;
        // Written out, discovery finds them right after `after`, in order.
        for m in &new {
            for file in [Some(&m.up), m.down.as_ref()].into_iter().flatten() {
                let path = dir.path().join(file);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, "-- migrate:up\n").unwrap();
            }
        }
        let order: Vec<String> = layout::discover(dir.path(), framework)
            .unwrap()
            .into_iter()
            .filter(|m| m.direction == Direction::Up)
            .map(|m| m.file)
            .collect();
        let at = order.iter().position(|f| f == after).unwrap();
        let first = order.iter().position(|f| *f == new[0].up).unwrap();
        assert!(
            order[at + 1..first].iter().all(|f| f.contains("step")),
            "{order:?}"
        );
        let ups: Vec<String> = new.iter().map(|m| m.up.clone()).collect();
        assert_eq!(order[first..first + count], ups, "{order:?}");
        Ok(new
            .into_iter()
            .flat_map(|m| [Some(m.up), m.down])
            .flatten()
            .collect())
    }

    #[test]
    fn timestamps_count_seconds_across_days_and_years() {
        assert_eq!(
            names(
                Framework::Sqlx,
                &["20231231235959_a.sql"],
                "20231231235959_a.sql",
                2
            )
            .unwrap(),
            ["20240101000000_step_1.sql", "20240101000001_step_2.sql"]
        );
        assert_eq!(
            names(
                Framework::Diesel,
                &["2024-02-28-235959_a/up.sql"],
                "2024-02-28-235959_a/up.sql",
                1
            )
            .unwrap(),
            [
                "2024-02-29-000000_step_1/up.sql",
                "2024-02-29-000000_step_1/down.sql"
            ]
        );
    }

    #[test]
    fn sequences_keep_their_width() {
        assert_eq!(
            names(
                Framework::GolangMigrate,
                &["0009_a.up.sql", "0009_a.down.sql"],
                "0009_a.up.sql",
                1
            )
            .unwrap(),
            ["0010_step_1.up.sql", "0010_step_1.down.sql"]
        );
        assert_eq!(
            names(
                Framework::Goose,
                &["00001_a.sql", "00005_b.sql"],
                "00001_a.sql",
                3
            )
            .unwrap(),
            ["00002_step_1.sql", "00003_step_2.sql", "00004_step_3.sql"]
        );
    }

    #[test]
    fn each_layout_names_its_files() {
        let cases: &[(Framework, &[&str], &str, &[&str])] = &[
            (
                Framework::Plain,
                &["sub/7-a.sql"],
                "sub/7-a.sql",
                &["sub/8-step_1.sql"],
            ),
            (
                Framework::Sqlx,
                &["1_a.up.sql", "1_a.down.sql"],
                "1_a.up.sql",
                &["2_step_1.up.sql", "2_step_1.down.sql"],
            ),
            (
                Framework::Dbmate,
                &["20240101000000_a.sql"],
                "20240101000000_a.sql",
                &["20240101000001_step_1.sql"],
            ),
            (
                Framework::Atlas,
                &["atlas.sum", "20240101000000.sql"],
                "20240101000000.sql",
                &["20240101000001_step_1.sql"],
            ),
            (
                Framework::Prisma,
                &["20240101000000_a/migration.sql"],
                "20240101000000_a/migration.sql",
                &["20240101000001_step_1/migration.sql"],
            ),
            (
                Framework::Refinery,
                &["V1__a.sql"],
                "V1__a.sql",
                &["V2__step_1.sql"],
            ),
            (
                Framework::Flyway,
                &["V1__a.sql", "U1__a.sql"],
                "V1__a.sql",
                &["V2__step_1.sql", "U2__step_1.sql"],
            ),
            (
                Framework::DbMigrate,
                &["sqls/20240101000000-a-up.sql"],
                "sqls/20240101000000-a-up.sql",
                &[
                    "sqls/20240101000001-step-1-up.sql",
                    "sqls/20240101000001-step-1-down.sql",
                ],
            ),
        ];
        for (framework, files, after, expected) in cases {
            assert_eq!(
                names(*framework, files, after, 1).unwrap(),
                *expected,
                "{framework}"
            );
        }
    }

    #[test]
    fn flyway_makes_room_with_sub_versions() {
        assert_eq!(
            names(
                Framework::Flyway,
                &["V1__a.sql", "V2__b.sql"],
                "V1__a.sql",
                2
            )
            .unwrap(),
            ["V1.1__step_1.sql", "V1.2__step_2.sql"]
        );
        assert_eq!(
            names(
                Framework::Flyway,
                &["V1_1__a.sql", "V1_1_1__b.sql"],
                "V1_1__a.sql",
                1
            )
            .unwrap(),
            ["V1_1_0_1__step_1.sql"]
        );
    }

    #[test]
    fn an_adjacent_next_migration_leaves_no_room() {
        for (framework, files) in [
            (Framework::Sqlx, ["3_a.sql", "4_b.sql"]),
            (
                Framework::Dbmate,
                ["20240101000000_a.sql", "20240101000001_b.sql"],
            ),
        ] {
            let error = names(framework, &files, files[0], 1).unwrap_err();
            assert_eq!(
                error,
                NamingError::NoRoom {
                    after: files[0].to_owned(),
                    next: Some(files[1].to_owned())
                },
                "{framework}"
            );
            assert!(
                error
                    .to_string()
                    .contains(&format!("renumber `{}`", files[1]))
            );
        }
        // dbmate sorts names as text: `10_` would run before `9_`.
        assert!(matches!(
            names(Framework::Dbmate, &["9_a.sql"], "9_a.sql", 1),
            Err(NamingError::NoRoom { next: None, .. })
        ));
    }

    #[test]
    fn migrations_written_after_it_stay_right_after_it() {
        let files = [
            "20240101000000_a.sql",
            "20240101000001_step_1.sql",
            "20240201000000_b.sql",
        ];
        assert_eq!(
            names(Framework::Sqlx, &files, files[0], 1).unwrap(),
            ["20240101000002_step_1.sql"]
        );
    }

    #[test]
    fn versions_already_taken_are_skipped_or_refused() {
        // sqlx reads `02` and `2` as the same version.
        let error = names(Framework::Sqlx, &["1_a.sql", "02_b.sql"], "1_a.sql", 1).unwrap_err();
        assert!(matches!(error, NamingError::NoRoom { .. }), "{error}");
        assert!(matches!(
            names(
                Framework::Flyway,
                &["R__views.sql", "V1__a.sql"],
                "R__views.sql",
                1
            ),
            Err(NamingError::NoVersion(_))
        ));
        assert!(matches!(
            names(Framework::Plain, &["schema.sql"], "schema.sql", 1),
            Err(NamingError::NoVersion(_))
        ));
    }
}
