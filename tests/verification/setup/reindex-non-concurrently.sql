CREATE INDEX users_email_idx ON world.users (email);
