CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email varchar(255) NOT NULL,
    name text
);

-- A brand-new table is empty: indexing it directly is fine.
CREATE INDEX users_email_idx ON users (email);
