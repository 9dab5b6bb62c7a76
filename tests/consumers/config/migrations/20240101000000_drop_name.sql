-- Already ran in production: before start_after.
ALTER TABLE users DROP COLUMN name;
