'use strict';
// Graceful shutdown on SIGTERM/SIGINT: fail readiness, stop accepting
// connections, let in-flight requests finish, close DB and Redis, exit 0.
// If requests outlast the timeout, exit 1 when it expires.

function createShutdown({ server, state, logger, timeoutMs, closeDependencies, exit = process.exit }) {
  return function shutdown(signal) {
    if (state.shuttingDown) {
      logger.warn('shutdown: already in progress', { signal });
      return;
    }
    state.shuttingDown = true;
    logger.info('shutdown: started, /readyz now answers 503', { signal, timeout_ms: timeoutMs });

    const deadline = setTimeout(() => {
      logger.error('shutdown: in-flight requests did not finish in time, exiting with status 1', {
        timeout_ms: timeoutMs, in_flight: state.inFlight,
      });
      exit(1);
    }, timeoutMs);

    server.close(async () => {
      logger.info('shutdown: all connections closed');
      try {
        await closeDependencies();
        logger.info('shutdown: database and Redis connections closed');
      } catch (err) {
        logger.warn('shutdown: closing dependencies failed', { error: err.message });
      }
      clearTimeout(deadline);
      logger.info('shutdown: complete, exiting with status 0');
      exit(0);
    });
    server.closeIdleConnections();
    logger.info('shutdown: stopped accepting connections, closed idle ones, waiting for in-flight requests', {
      in_flight: state.inFlight,
    });
  };
}

module.exports = { createShutdown };
