//! What a rule knows about the statement it checks: the settings, the schema built so far, the
//! transaction it runs in, the `lock_timeout` in force, and its neighbours in the file.

use crate::model::{Name, Statement, StatementKind};
use crate::schema::Schema;
use crate::settings::Settings;

/// The state in force when a top-level statement runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Session {
    /// The transaction block the statement runs in, if any (an id unique within the file).
    pub(crate) transaction: Option<usize>,
    /// The `lock_timeout` in force, when it is set and not zero.
    pub(crate) lock_timeout: Option<String>,
}

/// Walk the top-level statements and record each one's session state.
pub(crate) fn sessions(statements: &[Statement], settings: &Settings) -> Vec<Session> {
    let implicit = settings.target_framework().wraps_file_in_transaction();
    let mut blocks = 0usize;
    let mut current = implicit.then_some(0);
    let mut session_timeout: Option<String> = None;
    let mut local_timeout: Option<Option<String>> = None;
    let mut out = Vec::with_capacity(statements.len());
    for statement in statements {
        let transaction = match &statement.kind {
            StatementKind::Begin => {
                if current.is_none() {
                    blocks += 1;
                    current = Some(blocks);
                }
                None
            }
            StatementKind::Commit | StatementKind::Rollback => {
                let ended = current;
                local_timeout = None;
                current = implicit.then(|| {
                    blocks += 1;
                    blocks
                });
                ended
            }
            _ => current,
        };
        match &statement.kind {
            StatementKind::Set { name, value, local } if name == "lock_timeout" => {
                let value = value.clone().filter(|v| !is_zero(v));
                if *local {
                    if current.is_some() {
                        local_timeout = Some(value);
                    }
                } else {
                    session_timeout = value;
                    local_timeout = None;
                }
            }
            StatementKind::Reset { name }
                if name.as_deref().is_none_or(|n| n == "lock_timeout") =>
            {
                session_timeout = None;
                local_timeout = None;
            }
            _ => {}
        }
        out.push(Session {
            transaction,
            lock_timeout: local_timeout
                .clone()
                .unwrap_or_else(|| session_timeout.clone()),
        });
    }
    out
}

/// `0`, `'0'`, `0s`, `0ms`… mean "no timeout".
fn is_zero(value: &str) -> bool {
    let digits: String = value
        .trim()
        .trim_matches('\'')
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse::<f64>().is_ok_and(|v| v == 0.0)
}

/// What a rule sees.
pub(crate) struct Context<'a> {
    pub(crate) settings: &'a Settings,
    pub(crate) schema: &'a Schema,
    pub(crate) source: &'a str,
    /// Ordinal of the file among the migrations linted together.
    pub(crate) file: usize,
    pub(crate) statements: &'a [Statement],
    pub(crate) sessions: &'a [Session],
    /// The top-level statement (for a statement in a `DO` body: the `DO`).
    pub(crate) index: usize,
    /// Whether the statement is inside a `DO` body (which always runs as one transaction).
    pub(crate) in_do_block: bool,
}

impl Context<'_> {
    pub(crate) fn pg_version(&self) -> u32 {
        self.settings.target_pg_version()
    }

    pub(crate) fn session(&self) -> &Session {
        &self.sessions[self.index]
    }

    /// Whether the statement runs inside a transaction block.
    pub(crate) fn in_transaction(&self) -> bool {
        self.in_do_block || self.session().transaction.is_some()
    }

    /// Whether `name` is a table created earlier in this same migration (new and empty).
    pub(crate) fn is_new_table(&self, name: &Name) -> bool {
        self.schema
            .table(name)
            .is_some_and(|t| t.file == Some(self.file))
    }

    /// Top-level statements after this one in the same transaction block.
    pub(crate) fn later_in_transaction(&self) -> impl Iterator<Item = &Statement> {
        let transaction = self.session().transaction;
        self.statements[self.index + 1..]
            .iter()
            .zip(&self.sessions[self.index + 1..])
            .take_while(move |(_, s)| transaction.is_some() && s.transaction == transaction)
            .map(|(statement, _)| statement)
    }

    /// Whether top-level statement `index` of this file ran in the same transaction block as this one.
    pub(crate) fn same_transaction(&self, index: usize) -> bool {
        let transaction = self.session().transaction;
        transaction.is_some()
            && self
                .sessions
                .get(index)
                .is_some_and(|s| s.transaction == transaction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::split;
    use crate::lower::lower_file;

    fn sessions_of(sql: &str) -> Vec<Session> {
        sessions(&lower_file(sql, &split(sql)), &Settings::default())
    }

    #[test]
    fn transaction_blocks() {
        let s = sessions_of("select 1; begin; select 2; commit; select 3;");
        let blocks: Vec<_> = s.iter().map(|s| s.transaction).collect();
        assert_eq!(blocks, [None, None, Some(1), Some(1), None]);
    }

    #[test]
    fn lock_timeout_scopes() {
        let s = sessions_of(
            "set lock_timeout = '5s'; select 1; set lock_timeout = 0; select 2; \
             begin; set local lock_timeout = '1s'; select 3; commit; select 4; \
             select set_config('lock_timeout', '2s', false); reset lock_timeout; select 5;",
        );
        let t: Vec<_> = s.iter().map(|s| s.lock_timeout.as_deref()).collect();
        assert_eq!(
            t,
            [
                Some("5s"),
                Some("5s"),
                None,
                None,
                None,
                Some("1s"),
                Some("1s"),
                None,
                None,
                Some("2s"),
                None,
                None
            ]
        );
    }

    #[test]
    fn zero_means_no_timeout() {
        assert!(is_zero("0"));
        assert!(is_zero("'0ms'"));
        assert!(!is_zero("10s"));
    }
}
