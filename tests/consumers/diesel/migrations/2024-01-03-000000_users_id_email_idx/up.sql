CREATE INDEX CONCURRENTLY users_id_email_idx ON users (id, email);
