-- rename-column is allowed, and the assumed lock_timeout satisfies missing-lock-timeout.
ALTER TABLE users RENAME COLUMN nickname TO handle;
