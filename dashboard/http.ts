/**
 * HTTP helpers of the dashboard: JSON answers with the safety headers, bounded JSON bodies, and the status code of
 * a kit error.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request the dashboard refuses, with the HTTP status to answer. Internal: never leaves the handler. */
export class HttpError extends Error {
	constructor(
		readonly status: number,
		message: string,
	) {
		super(message);
		this.name = 'HttpError';
	}
}

/** The page's Content-Security-Policy: scripts and styles from this origin only (no inline script), no framing. */
export const CSP =
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Headers on every answer of the dashboard. */
export function safetyHeaders(): Record<string, string> {
	return {
		'content-security-policy': CSP,
		'x-content-type-options': 'nosniff',
		'x-frame-options': 'DENY',
		'referrer-policy': 'no-referrer',
		'cross-origin-resource-policy': 'same-origin',
	};
}

/** Answer `value` as JSON (never cached). */
export function sendJson(response: ServerResponse, status: number, value: unknown): void {
	const body = JSON.stringify(value);
	response.writeHead(status, {
		...safetyHeaders(),
		'content-type': 'application/json; charset=utf-8',
		'cache-control': 'no-store',
		'content-length': Buffer.byteLength(body),
	});
	response.end(body);
}

/** Answer an error as `{ error: { message, code } }` with the status it maps to. */
export function sendError(response: ServerResponse, error: unknown): void {
	if (response.headersSent) {
		response.destroy();
		return;
	}
	const status = statusOf(error);
	const message = error instanceof Error ? error.message : String(error);
	const code = (error as { code?: unknown } | null)?.code;
	sendJson(response, status, { error: { message, code: typeof code === 'string' ? code : `HTTP_${status}` } });
}

const CONFLICT = new Set(['ERR_INVALID_STATE', 'ERR_DUPLICATE_TASK', 'ERR_DUPLICATE_KEY', 'ERR_RUN_STATE']);
const NOT_FOUND = new Set(['ERR_TASK_NOT_FOUND', 'ERR_RUN_NOT_FOUND']);

/** The HTTP status of an error: its own for `HttpError`, 404/409 for the kit's codes, 400 for a bad value. */
export function statusOf(error: unknown): number {
	if (error instanceof HttpError) return error.status;
	const code = (error as { code?: unknown } | null)?.code;
	if (typeof code === 'string' && NOT_FOUND.has(code)) return 404;
	if (typeof code === 'string' && CONFLICT.has(code)) return 409;
	if (error instanceof TypeError || error instanceof RangeError) return 400;
	if (typeof code === 'string' && code === 'ERR_INVALID_TASK') return 400;
	return 500;
}

const MAX_BODY = 64 * 1024;

/** Read a JSON object body (at most 64 KiB; an empty body is `{}`). */
export async function readJsonBody(request: IncomingMessage): Promise<Record<string, unknown>> {
	const type = request.headers['content-type'] ?? '';
	const chunks: Buffer[] = [];
	let size = 0;
	for await (const chunk of request as AsyncIterable<Buffer>) {
		size += chunk.length;
		if (size > MAX_BODY) throw new HttpError(413, 'The request body is over 64 KiB');
		chunks.push(chunk);
	}
	if (size === 0) return {};
	if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'Expected a JSON body (application/json)');
	let value: unknown;
	try {
		value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
	} catch {
		throw new HttpError(400, 'The request body is not valid JSON');
	}
	if (typeof value !== 'object' || value === null || Array.isArray(value))
		throw new HttpError(400, 'Expected the request body to be a JSON object');
	return value as Record<string, unknown>;
}

/** A non-negative integer query parameter, `fallback` when absent; `max` caps it. */
export function intParam(params: URLSearchParams, name: string, fallback: number, max: number): number {
	const raw = params.get(name);
	if (raw === null || raw === '') return fallback;
	if (!/^\d{1,15}$/.test(raw))
		throw new HttpError(400, `Expected \`${name}\` to be a whole number, got ${JSON.stringify(raw)}`);
	return Math.min(Number(raw), max);
}

/** `order`: `asc` or `desc` (default `desc`, newest first). */
export function orderParam(params: URLSearchParams): 'asc' | 'desc' {
	const order = params.get('order') ?? 'desc';
	if (order !== 'asc' && order !== 'desc')
		throw new HttpError(400, `Expected \`order\` to be asc or desc, got ${JSON.stringify(order)}`);
	return order;
}
