CREATE INDEX users_handle_idx ON users (handle);
