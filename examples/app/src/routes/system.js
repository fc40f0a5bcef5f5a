'use strict';
// Operational endpoints: liveness, readiness, version and metrics.
const { checkDependencies } = require('../readiness');
const { CONTENT_TYPE } = require('../metrics');

function registerSystemRoutes(router, { config, state, metrics, db, redis, logger, startedAt }) {
  // Liveness: the process can serve HTTP. Dependencies are not checked here,
  // so a database outage does not get every container restarted.
  router.get('/healthz', async () => {
    if (config.faults.healthFail) {
      return { status: 503, body: { status: 'failing', reason: 'FAULT_HEALTH_FAIL is set' } };
    }
    return { body: { status: 'ok' } };
  });

  let lastReady = null;
  router.get('/readyz', async () => {
    if (state.shuttingDown) return { status: 503, body: { status: 'shutting_down' } };
    if (config.faults.readyFail) {
      return { status: 503, body: { status: 'unavailable', reason: 'FAULT_READY_FAIL is set' } };
    }
    const { ok, checks } = await checkDependencies({ db, redis });
    // Log changes only: load balancers poll this endpoint every few seconds.
    if (ok !== lastReady) {
      if (ok) logger.info('ready', { checks });
      else logger.warn('not ready', { checks });
      lastReady = ok;
    }
    return { status: ok ? 200 : 503, body: { status: ok ? 'ok' : 'unavailable', checks } };
  });

  router.get('/version', async () => ({
    body: {
      version: config.version,
      revision: config.revision,
      build_date: config.buildDate,
      node_version: process.version,
      started_at: startedAt.toISOString(),
    },
  }));

  router.get('/metrics', async () => ({
    body: metrics.render(),
    headers: { 'Content-Type': CONTENT_TYPE },
  }));
}

module.exports = { registerSystemRoutes };
