'use strict';
// The notes API. Writes need a bearer token; reads are public.
const { requireAuth } = require('../auth');
const { HttpError, readJson } = require('../http-helpers');

const MAX_TITLE = 200;
const MAX_BODY = 10000;

function validateNote(input) {
  const problems = [];
  const title = typeof input.title === 'string' ? input.title.trim() : null;
  if (!title) problems.push('title must be a non-empty string');
  else if (title.length > MAX_TITLE) problems.push(`title must be at most ${MAX_TITLE} characters`);
  const body = input.body ?? '';
  if (typeof body !== 'string') problems.push('body must be a string');
  else if (body.length > MAX_BODY) problems.push(`body must be at most ${MAX_BODY} characters`);
  if (problems.length) throw new HttpError(400, problems.join('; '));
  return { title, body };
}

// Ids are bigserial: a positive integer of at most 19 digits.
function parseId(text) {
  if (!/^[1-9]\d{0,18}$/.test(text)) throw new HttpError(400, 'note id must be a positive integer');
  return text;
}

function registerNotesRoutes(router, { config, notes }) {
  const store = () => {
    if (!notes) throw new HttpError(503, 'database is not configured: set DATABASE_URL');
    return notes;
  };

  router.get('/api/notes', async () => {
    const { notes: list, cache } = await store().list();
    return { body: { notes: list }, headers: { 'X-Cache': cache } };
  });

  router.post('/api/notes', async ({ req }) => {
    const claims = requireAuth(req, config.jwtSecret);
    const note = await store().create({ ...validateNote(await readJson(req)), author: claims.sub });
    return { status: 201, body: note, headers: { Location: `/api/notes/${note.id}` } };
  });

  router.get('/api/notes/:id', async ({ params }) => {
    const note = await store().get(parseId(params.id));
    if (!note) throw new HttpError(404, 'note not found');
    return { body: note };
  });

  router.delete('/api/notes/:id', async ({ req, params }) => {
    requireAuth(req, config.jwtSecret);
    if (!(await store().remove(parseId(params.id)))) throw new HttpError(404, 'note not found');
    return { status: 204 };
  });
}

module.exports = { registerNotesRoutes };
