'use strict';
// Fault knobs for tests and demos (see README). Read once at start.
const { setTimeout: sleep } = require('node:timers/promises');

class InjectedFault extends Error {
  constructor() {
    super('injected failure (FAULT_ERROR_RATE)');
    this.name = 'InjectedFault';
  }
}

// Runs before every /api/* request: first the delay, then the dice roll.
async function applyApiFaults({ latencyMs, errorRate }, random = Math.random) {
  if (latencyMs > 0) await sleep(latencyMs);
  if (errorRate > 0 && random() < errorRate) throw new InjectedFault();
}

module.exports = { applyApiFaults };
