DROP INDEX users_id_email_idx;
