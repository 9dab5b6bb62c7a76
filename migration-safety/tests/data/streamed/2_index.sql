CREATE INDEX users_email_idx ON users (email);
-- migration-safety: ignore drop-table -- unused since 2023
DROP TABLE old_users;
