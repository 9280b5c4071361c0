/** Small node:http helpers for the video-cut app: JSON answers, JSON bodies, errors with a status. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error the API answers with `status` and `{ error, field? }`. */
export class HttpError extends Error {
	readonly status: number;
	/** The request field at fault, when one is. */
	readonly field: string | undefined;

	constructor(status: number, message: string, field?: string) {
		super(message);
		this.name = 'HttpError';
		this.status = status;
		this.field = field;
	}
}

/** Headers every answer carries. */
const COMMON_HEADERS = {
	'x-content-type-options': 'nosniff',
	'referrer-policy': 'no-referrer',
	'cache-control': 'no-store',
} as const;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
	const text = JSON.stringify(body);
	res.writeHead(status, {
		...COMMON_HEADERS,
		'content-type': 'application/json; charset=utf-8',
		'content-length': Buffer.byteLength(text),
	});
	res.end(text);
}

export function sendError(res: ServerResponse, error: HttpError): void {
	if (res.headersSent) {
		res.destroy();
		return;
	}
	sendJson(
		res,
		error.status,
		error.field === undefined ? { error: error.message } : { error: error.message, field: error.field },
	);
}

/** Send a fixed text answer (a static page file). */
export function sendText(
	res: ServerResponse,
	status: number,
	type: string,
	body: string | Buffer,
	extra: Record<string, string> = {},
): void {
	res.writeHead(status, {
		...COMMON_HEADERS,
		'content-type': type,
		'content-length': Buffer.byteLength(body),
		...extra,
	});
	res.end(body);
}

/** The largest JSON body accepted, in bytes. */
export const MAX_BODY_BYTES = 16 * 1024;

/** Read a JSON request body (Content-Type `application/json`, at most `MAX_BODY_BYTES`). */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
	const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
	if (type !== 'application/json') {
		throw new HttpError(415, 'Expected a JSON body with `Content-Type: application/json`');
	}
	const chunks: Buffer[] = [];
	let size = 0;
	for await (const chunk of req as AsyncIterable<Buffer>) {
		size += chunk.length;
		if (size > MAX_BODY_BYTES) throw new HttpError(413, `Expected a body of at most ${MAX_BODY_BYTES} bytes`);
		chunks.push(chunk);
	}
	const text = Buffer.concat(chunks).toString('utf8');
	try {
		return JSON.parse(text) as unknown;
	} catch {
		throw new HttpError(400, 'Expected the body to be valid JSON');
	}
}

/** Parse an optional non-negative integer query parameter. */
export function queryInteger(
	params: URLSearchParams,
	name: string,
	fallback: number,
	min: number,
	max: number,
): number {
	const raw = params.get(name);
	if (raw === null || raw === '') return fallback;
	const value = Number(raw);
	if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
		throw new HttpError(
			400,
			`Expected \`${name}\` to be an integer from ${min} to ${max}, got ${JSON.stringify(raw.slice(0, 40))}`,
			name,
		);
	}
	return value;
}
