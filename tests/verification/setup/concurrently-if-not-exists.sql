-- For the second fixture: a unique key on a column of its own.
ALTER TABLE world.users ADD COLUMN code text;
