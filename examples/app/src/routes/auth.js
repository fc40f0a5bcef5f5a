'use strict';
// Demo login: any well-formed user name gets a token. There is no password
// store; the point is exercising JWT_SECRET, not user management.
const jwt = require('../jwt');
const { requireAuth } = require('../auth');
const { HttpError, readJson } = require('../http-helpers');

const TOKEN_TTL_SECONDS = 3600;
const USERNAME = /^[A-Za-z0-9_.-]{1,64}$/;

function registerAuthRoutes(router, { config }) {
  router.post('/api/login', async ({ req }) => {
    const { username } = await readJson(req);
    if (typeof username !== 'string' || !USERNAME.test(username)) {
      throw new HttpError(400, 'username must be 1-64 characters of letters, digits, "_", "." or "-"');
    }
    const token = jwt.sign({ sub: username }, config.jwtSecret, { expiresInSeconds: TOKEN_TTL_SECONDS });
    return { body: { token, token_type: 'Bearer', expires_in: TOKEN_TTL_SECONDS } };
  });

  router.get('/api/me', async ({ req }) => ({ body: requireAuth(req, config.jwtSecret) }));
}

module.exports = { registerAuthRoutes };
