'use strict';
// The request pipeline around every route: fault injection, routing,
// error mapping, metrics and the access log.
const { HttpError, send } = require('./http-helpers');
const { applyApiFaults } = require('./faults');

// Polled every few seconds by Docker, load balancers and Prometheus: logged
// at debug level so they do not drown the interesting lines.
const PROBE_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

function createApp({ config, logger, router, metrics, sentry, state }) {
  function errorResponse(err, request) {
    if (err instanceof HttpError) return { status: err.status, body: { error: err.message }, headers: err.headers };
    const eventId = sentry ? sentry.capture(err, request) : undefined;
    logger.error('request failed', { ...request, error: err, sentry_event_id: eventId });
    return { status: 500, body: { error: 'internal server error' } };
  }

  async function route(req, path, match) {
    if (path.startsWith('/api/')) await applyApiFaults(config.faults);
    if (!match.route) throw new HttpError(404, 'not found');
    if (!match.handler) {
      throw new HttpError(405, `method ${req.method} is not allowed here`, { Allow: match.allowed.join(', ') });
    }
    return match.handler({ req, params: match.params });
  }

  return async function handle(req, res) {
    const started = process.hrtime.bigint();
    const path = req.url.split('?')[0];
    const match = router.match(req.method, path);
    const routeLabel = match.route ?? 'unmatched';

    state.inFlight += 1;
    res.once('close', () => {
      state.inFlight -= 1;
    });
    res.once('finish', () => {
      const durationSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.observeRequest({ method: req.method, route: routeLabel, status: res.statusCode, durationSeconds });
      logger[PROBE_ROUTES.has(routeLabel) ? 'debug' : 'info']('request', {
        method: req.method,
        route: routeLabel,
        path,
        status: res.statusCode,
        duration_ms: Math.round(durationSeconds * 1e4) / 10,
      });
    });

    let result;
    try {
      result = await route(req, path, match);
    } catch (err) {
      result = errorResponse(err, { method: req.method, url: path, route: routeLabel });
    }
    // Once shutdown has begun, keep-alive connections end with this response.
    if (state.shuttingDown) result.headers = { ...result.headers, Connection: 'close' };
    send(res, result);
  };
}

module.exports = { createApp };
