-- The JWT subject of whoever created the note. Rows from before this
-- migration have no known author.
ALTER TABLE notes ADD COLUMN author text NOT NULL DEFAULT 'unknown';
