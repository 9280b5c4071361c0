/**
 * A plain Node request handler serving a registry in Prometheus's text format at `GET /metrics` (any other path or
 * method gets 404 / 405), so it plugs into `node:http`, Express, Fastify (`reply.raw`) or Koa (`ctx.req`, `ctx.res`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

/** A Node request handler. */
export type MetricsRequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * Serve `registry` at `path` (default `/metrics`). A scrape whose collection fails answers 500 with the reason.
 */
export function metricsHandler(registry: Registry, path = '/metrics'): MetricsRequestHandler {
	return (request, response) => {
		const url = new URL(request.url ?? '/', 'http://localhost');
		if (url.pathname !== path) {
			response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n');
			return;
		}
		if (request.method !== 'GET' && request.method !== 'HEAD') {
			response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end();
			return;
		}
		registry.metrics().then(
			(text) => {
				response.writeHead(200, { 'content-type': registry.contentType });
				response.end(request.method === 'HEAD' ? undefined : text);
			},
			(error: unknown) => {
				response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
				response.end(`Collecting metrics failed: ${error instanceof Error ? error.message : String(error)}\n`);
			},
		);
	};
}
