/**
 * `lightsched/dashboard`: a web page over any task container (counts, tasks, actions, live charts, workflow runs),
 * served by a plain Node request handler or on its own port. Work in progress: the handler is being built.
 * @module
 */

/** The version of the dashboard's JSON API, sent as `api` in `GET /api/info`. */
export const DASHBOARD_API_VERSION = 1;
