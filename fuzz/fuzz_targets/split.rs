//! The splitter: statements and the text between them rebuild the input, and only blanks,
//! comments and semicolons lie between statements.
#![no_main]

use libfuzzer_sys::fuzz_target;
use migration_safety::split_statements;

fuzz_target!(|sql: &str| {
    let mut end = 0;
    for range in split_statements(sql) {
        assert!(end <= range.start && range.start < range.end && range.end <= sql.len());
        assert!(split_statements(&sql[end..range.start]).is_empty());
        end = range.end;
    }
    assert!(split_statements(&sql[end..]).is_empty());
});
