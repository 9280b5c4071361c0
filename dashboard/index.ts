/**
 * `lightsched/dashboard`: a web page over any task container: live counts per status, throughput and failure
 * charts, queue latency, the task list (filter, search, paging) and each task's item, output, logs and timeline,
 * the actions (stop, retry, remove, clean, pause and resume the queue), workflow runs drawn as graphs with their
 * commands, and Prometheus metrics. Served by a plain Node request handler or on a port of its own.
 *
 * ```ts
 * http.createServer(dashboardHandler({ container, auth: process.env.DASHBOARD_TOKEN })).listen(4555);
 * const dashboard = await startDashboard({ container, port: 4555 }); // 127.0.0.1 by default
 * ```
 * See docs/dashboard.md.
 * @module
 */
export { dashboardHandler, ACTION_HEADER, type DashboardHandler } from './handler.js';
export { startDashboard, type RunningDashboard, type StartDashboardOptions } from './server.js';
export type { DashboardAuth, DashboardOptions } from './options.js';
export type { RunEngine } from './runs-api.js';
export type { QueueLatency, RatePoint, StatsSnapshot } from './sampler.js';
