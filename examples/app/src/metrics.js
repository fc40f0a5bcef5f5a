'use strict';
// Prometheus text exposition format 0.0.4: counters, histograms and gauges
// whose values are read at scrape time.

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeLabelValue(value) {
  return String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text) {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatNumber(value) {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function formatLabels(names, values) {
  if (names.length === 0) return '';
  return `{${names.map((name, i) => `${name}="${escapeLabelValue(values[i])}"`).join(',')}}`;
}

function header(metric) {
  return [`# HELP ${metric.name} ${escapeHelp(metric.help)}`, `# TYPE ${metric.name} ${metric.type}`];
}

// Each metric keeps one series per distinct label combination, keyed by the
// label values in declaration order.
class Metric {
  constructor(type, name, help, labelNames = []) {
    Object.assign(this, { type, name, help, labelNames });
    this.series = new Map();
  }

  labelValues(labels) {
    return this.labelNames.map((name) => {
      if (labels[name] === undefined) throw new Error(`${this.name}: missing label "${name}"`);
      return String(labels[name]);
    });
  }

  seriesFor(labels, create) {
    const values = this.labelValues(labels);
    const key = JSON.stringify(values);
    if (!this.series.has(key)) this.series.set(key, { values, ...create() });
    return this.series.get(key);
  }
}

class Counter extends Metric {
  constructor(name, help, labelNames) {
    super('counter', name, help, labelNames);
  }

  inc(labels = {}, amount = 1) {
    if (amount < 0) throw new Error(`${this.name}: counters only go up`);
    this.seriesFor(labels, () => ({ value: 0 })).value += amount;
  }

  render() {
    const lines = header(this);
    for (const s of this.series.values()) {
      lines.push(`${this.name}${formatLabels(this.labelNames, s.values)} ${formatNumber(s.value)}`);
    }
    return lines;
  }
}

class Histogram extends Metric {
  constructor(name, help, labelNames, buckets) {
    super('histogram', name, help, labelNames);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  observe(labels, value) {
    const s = this.seriesFor(labels, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    this.buckets.forEach((bound, i) => {
      if (value <= bound) s.counts[i] += 1;
    });
    s.sum += value;
    s.count += 1;
  }

  render() {
    const lines = header(this);
    const names = [...this.labelNames, 'le'];
    for (const s of this.series.values()) {
      // Bucket counts are cumulative: each counts observations <= its bound.
      this.buckets.forEach((bound, i) => {
        lines.push(`${this.name}_bucket${formatLabels(names, [...s.values, formatNumber(bound)])} ${s.counts[i]}`);
      });
      lines.push(`${this.name}_bucket${formatLabels(names, [...s.values, '+Inf'])} ${s.count}`);
      lines.push(`${this.name}_sum${formatLabels(this.labelNames, s.values)} ${formatNumber(s.sum)}`);
      lines.push(`${this.name}_count${formatLabels(this.labelNames, s.values)} ${s.count}`);
    }
    return lines;
  }
}

// A gauge whose samples come from a callback at scrape time, e.g. memory use.
class Gauge extends Metric {
  constructor(name, help, labelNames, collect) {
    super('gauge', name, help, labelNames);
    this.collect = collect;
  }

  render() {
    const lines = header(this);
    for (const { labels = {}, value } of this.collect()) {
      lines.push(`${this.name}${formatLabels(this.labelNames, this.labelValues(labels))} ${formatNumber(value)}`);
    }
    return lines;
  }
}

class Registry {
  constructor() {
    this.metrics = [];
  }

  register(metric) {
    if (this.metrics.some((m) => m.name === metric.name)) throw new Error(`metric ${metric.name} registered twice`);
    this.metrics.push(metric);
    return metric;
  }

  render() {
    return this.metrics.flatMap((m) => m.render()).join('\n') + '\n';
  }
}

module.exports = { Registry, Counter, Histogram, Gauge, CONTENT_TYPE };
