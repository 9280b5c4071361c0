/**
 * One JSON request with a timeout and retries on transport errors only. A non-2xx answer is never retried:
 * it fails at once with an `ActuatorError` naming the method, the URL and the status.
 */
import { ActuatorError } from 'lightsched';

/** Whether a request may be sent again after a transport error. */
export type RetryScope =
	/** Only when the request surely never reached the service (connection refused, DNS failure). */
	| 'connect'
	/** After any transport error: refused, reset, closed socket, timeout. Only for idempotent calls. */
	| 'transport';

export interface RequestSettings {
	readonly headers: Readonly<Record<string, string>>;
	readonly timeoutMs: number;
	/** Extra tries after the first one. */
	readonly retries: number;
	/** The wait before the first retry; doubles for each further one. */
	readonly retryDelayMs: number;
}

export interface JsonRequest {
	readonly method: string;
	readonly url: string;
	/** A query string (without `?`) added to `url` when the request is sent; messages name `url` without it. */
	readonly query?: string;
	readonly body?: unknown;
	/** Parse the answer as JSON (otherwise the body is read and dropped). */
	readonly json: boolean;
	readonly retry: RetryScope;
	/** Abort the request for good (the attempt was stopped, the actuator closed); never retried. */
	readonly signals?: readonly AbortSignal[];
}

/** The service could not be reached or did not answer in time (as opposed to answering with an error). */
export class HttpTransportError extends ActuatorError {
	override name = 'HttpTransportError';
	/** The request surely never reached the service. */
	readonly beforeSend: boolean;

	constructor(message: string, beforeSend: boolean, cause: unknown) {
		super(message, { cause });
		this.beforeSend = beforeSend;
	}
}

/** The service answered with a non-2xx status. */
export class HttpStatusError extends ActuatorError {
	override name = 'HttpStatusError';
	/** The request's method. */
	readonly method: string;
	/** The request's URL. */
	readonly url: string;
	/** The HTTP status of the answer. */
	readonly status: number;
	/** What the service said: the `error` of a JSON error body, or the body's text (shortened). */
	readonly detail: string;

	constructor(method: string, url: string, status: number, detail: string) {
		const said =
			detail.length === 0
				? ' with an empty body'
				: detail.startsWith('an HTML page')
					? ` with ${detail}`
					: `: ${JSON.stringify(detail)}`;
		super(`${method} ${url} answered HTTP ${status}${said}`);
		this.method = method;
		this.url = url;
		this.status = status;
		this.detail = detail;
	}
}

const CONNECT_CODES = new Set([
	'ECONNREFUSED',
	'ENOTFOUND',
	'EAI_AGAIN',
	'EHOSTUNREACH',
	'ENETUNREACH',
	'UND_ERR_CONNECT_TIMEOUT',
]);

/** The `code` of a fetch failure's cause chain (`ECONNREFUSED`, `UND_ERR_SOCKET`…), if any. */
function causeCode(error: unknown): string | undefined {
	let current: unknown = error;
	for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
		const code = (current as { code?: unknown }).code;
		if (typeof code === 'string') return code;
		const errors = (current as { errors?: unknown }).errors;
		if (Array.isArray(errors) && errors.length > 0) current = errors[0];
		else current = (current as { cause?: unknown }).cause;
	}
	return undefined;
}

/** Turn what `fetch` threw into a transport error, or rethrow an abort by the caller. */
function classify(error: unknown, request: JsonRequest, timeoutMs: number): HttpTransportError {
	const aborted = request.signals?.find((s) => s.aborted);
	if (aborted) throw aborted.reason ?? error;
	const where = `${request.method} ${request.url}`;
	if ((error as { name?: unknown } | null)?.name === 'TimeoutError') {
		return new HttpTransportError(`${where} timed out after ${timeoutMs} ms`, false, error);
	}
	const code = causeCode(error);
	const detail = code ?? (error instanceof Error ? error.message : String(error));
	return new HttpTransportError(
		`${where} failed: ${detail} (the service could not be reached)`,
		code !== undefined && CONNECT_CODES.has(code),
		error,
	);
}

function shorten(text: string): string {
	const flat = text.replace(/\s+/g, ' ').trim();
	return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

/** An HTML page (a proxy's or web server's error page, a login page): `an HTML page titled "502 Bad Gateway"`. */
function htmlPage(text: string): string | undefined {
	if (!/^\s*(<!doctype html|<html|<head|<body)/i.test(text)) return undefined;
	const title = /<title[^>]*>([^<]*)<\/title>/i.exec(text)?.[1] ?? /<h1[^>]*>([^<]*)<\/h1>/i.exec(text)?.[1];
	const clean = title?.replace(/\s+/g, ' ').trim();
	return clean === undefined || clean.length === 0
		? 'an HTML page'
		: `an HTML page titled ${JSON.stringify(shorten(clean))}`;
}

/** What the service answered in the `error` field of a JSON error body, the title of an HTML page, or the body itself, shortened. */
function errorDetail(text: string): string {
	const page = htmlPage(text);
	if (page !== undefined) return page;
	try {
		const parsed = JSON.parse(text) as unknown;
		const message = (parsed as { error?: unknown } | null)?.error;
		if (typeof message === 'string') return shorten(message);
		if (
			message !== null &&
			typeof message === 'object' &&
			typeof (message as { message?: unknown }).message === 'string'
		) {
			return shorten((message as { message: string }).message);
		}
	} catch {
		// Not JSON: show the text.
	}
	return shorten(text);
}

/**
 * One signal that aborts when any source does, with listeners removed by `dispose` (unlike `AbortSignal.any`,
 * which keeps a dependant per call on a long-lived source: a known leak).
 */
function linkSignals(sources: readonly AbortSignal[]): { signal: AbortSignal; dispose(): void } {
	const controller = new AbortController();
	const listeners: [AbortSignal, () => void][] = [];
	for (const source of sources) {
		if (source.aborted) {
			controller.abort(source.reason);
			break;
		}
		const listener = (): void => controller.abort(source.reason);
		source.addEventListener('abort', listener, { once: true });
		listeners.push([source, listener]);
	}
	return {
		signal: controller.signal,
		dispose: () => {
			for (const [source, listener] of listeners) source.removeEventListener('abort', listener);
		},
	};
}

async function once(request: JsonRequest, settings: RequestSettings): Promise<unknown> {
	const timeout = AbortSignal.timeout(settings.timeoutMs);
	const linked = linkSignals([...(request.signals ?? []), timeout]);
	try {
		return await send(request, settings, linked.signal);
	} finally {
		linked.dispose();
	}
}

async function send(request: JsonRequest, settings: RequestSettings, signal: AbortSignal): Promise<unknown> {
	const headers: Record<string, string> = { accept: 'application/json' };
	for (const [name, value] of Object.entries(settings.headers)) headers[name.toLowerCase()] = value;
	const init: RequestInit = { method: request.method, headers, signal };
	if (request.body !== undefined) {
		headers['content-type'] ??= 'application/json';
		init.body = JSON.stringify(request.body);
	}
	let status: number;
	let text: string;
	try {
		const url =
			request.query === undefined
				? request.url
				: `${request.url}${request.url.includes('?') ? '&' : '?'}${request.query}`;
		const response = await fetch(url, init);
		status = response.status;
		text = await response.text();
	} catch (error) {
		throw classify(error, request, settings.timeoutMs);
	}
	const where = `${request.method} ${request.url}`;
	if (status < 200 || status > 299) {
		throw new HttpStatusError(request.method, request.url, status, errorDetail(text));
	}
	if (!request.json) return undefined;
	try {
		return JSON.parse(text) as unknown;
	} catch (error) {
		const page = htmlPage(text);
		if (page !== undefined) {
			throw new ActuatorError(
				`${where} answered HTTP ${status} with ${page} instead of JSON (is \`baseUrl\` the job service, not a web page or a proxy's?)`,
				{ cause: error },
			);
		}
		throw new ActuatorError(
			`${where} answered HTTP ${status} with a body that is not JSON: ${text.length === 0 ? 'an empty body' : JSON.stringify(shorten(text))}`,
			{ cause: error },
		);
	}
}

function sleep(ms: number, sources: readonly AbortSignal[] | undefined): Promise<void> {
	const { signal, dispose } = linkSignals(sources ?? []);
	return new Promise<void>((resolve, reject) => {
		if (signal.aborted) {
			reject(signal.reason);
			return;
		}
		const timer = setTimeout(resolve, ms);
		signal.addEventListener(
			'abort',
			() => {
				clearTimeout(timer);
				reject(signal.reason);
			},
			{ once: true },
		);
	}).finally(dispose);
}

/**
 * Send the request; on a transport error within `request.retry`, wait and try again up to `settings.retries`
 * more times. Throws `HttpTransportError` when the service stays unreachable, `ActuatorError` for a non-2xx
 * answer or a body that is not JSON, or the signal's reason when the caller aborted.
 */
export async function requestJson(request: JsonRequest, settings: RequestSettings): Promise<unknown> {
	for (let attempt = 0; ; attempt++) {
		try {
			return await once(request, settings);
		} catch (error) {
			if (!(error instanceof HttpTransportError)) throw error;
			const retryable = request.retry === 'transport' || error.beforeSend;
			if (!retryable || attempt >= settings.retries) {
				if (attempt === 0) throw error;
				throw new HttpTransportError(
					`${error.message}; gave up after ${attempt + 1} tries`,
					error.beforeSend,
					error.cause,
				);
			}
			await sleep(settings.retryDelayMs * 2 ** attempt, request.signals);
		}
	}
}
