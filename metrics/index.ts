/**
 * `lightsched/metrics`: Prometheus metrics of schedulers, through prom-client (an optional peer dependency: install
 * it to use this subpath).
 *
 * ```ts
 * const metrics = new SchedulerMetrics();          // or { registry: yourRegistry }
 * metrics.watch(scheduler, { queue: 'videos' });
 * http.createServer(metricsHandler(metrics.registry)).listen(9464);
 * ```
 * @module
 */
export { SchedulerMetrics, type SchedulerMetricsOptions, type WatchOptions } from './scheduler-metrics.js';
export { metricsHandler, type MetricsRequestHandler } from './metrics-handler.js';
