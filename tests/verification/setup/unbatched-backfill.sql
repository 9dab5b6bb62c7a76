ALTER TABLE world.users ADD COLUMN plan text, ADD COLUMN seats integer, ADD COLUMN active boolean, ADD COLUMN archived boolean;
