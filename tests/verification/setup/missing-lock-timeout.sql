-- The index bad_index_of_unknown_table.sql reindexes and drops.
CREATE INDEX users_email_idx ON world.users (email);
