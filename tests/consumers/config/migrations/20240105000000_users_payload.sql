-- prefer-jsonb is a warning, and fail_on = "warning".
ALTER TABLE users ADD COLUMN payload json;
