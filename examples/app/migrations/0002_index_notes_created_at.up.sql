-- GET /api/notes lists the newest notes first; this keeps it an index scan.
CREATE INDEX notes_created_at_idx ON notes (created_at DESC, id DESC);
