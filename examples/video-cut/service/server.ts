/**
 * The cut service: a small JSON API over node:http that cuts videos of a media folder with ffmpeg.
 *
 *   POST /cuts {input, start, end}  → 202 {id}
 *   GET  /cuts                      → {cuts: [view…]} (newest first)
 *   GET  /cuts/:id                  → {id, status: 'running'|'succeeded'|'failed', progress, error?, input, start, end, createdAt, finishedAt?}
 *   GET  /cuts/:id/output           → {id, output} (the output file, relative to the media folder); 409 until succeeded
 *   POST /cuts/:id/stop             → {id, status} (kills ffmpeg, deletes the partial output; a finished job is left as is)
 *
 * and the same four operations on `/thumbnails` and `/previews` (a JPEG frame and a short GIF made from a video
 * of the media folder: see `derivative-jobs.ts`).
 *
 * Errors are `{error, field?}` with a 4xx status (`field` names the part of the request at fault).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CutJob, type CutView } from './cut-job.js';
import { DERIVATIVE_PATHS, DerivativeJobs, type DerivativeKind } from './derivative-jobs.js';
import { encoderArgs, findFfmpeg, probeDuration } from './ffmpeg.js';
import { checkTimes, CutRequestError, OUTPUT_FOLDER, outputName, resolveMediaFile } from './media.js';

export { findFfmpeg, probeDuration } from './ffmpeg.js';
export { CutRequestError, OUTPUT_FOLDER, outputName, resolveMediaFile } from './media.js';
export type { CutStatus, CutView } from './cut-job.js';
export { derivativeName, type DerivativeKind, type DerivativeView } from './derivative-jobs.js';

export interface CutServiceOptions {
	/** The folder the inputs are read from; cuts go to its `outputs/` subfolder. Created when missing. */
	readonly mediaDir: string;
	/**
	 * The ffmpeg binary.
	 * @default findFfmpeg()
	 */
	readonly ffmpegPath?: string;
	/**
	 * Kill a cut that runs longer than this, in milliseconds; `0` means no limit.
	 * @default 300000
	 */
	readonly timeoutMs?: number;
	/**
	 * Read inputs at their own speed (ffmpeg `-re`), so a 10 s cut takes about 10 s: handy for a demo
	 * where progress and stop should be visible.
	 * @default false
	 */
	readonly realtime?: boolean;
	/**
	 * Finished jobs kept in memory for status queries; the oldest finished ones are forgotten beyond this.
	 * @default 1000
	 */
	readonly keepFinished?: number;
}

export interface CutService {
	/** The underlying server (already created, not yet listening). */
	readonly server: Server;
	/** The absolute path of the media folder. */
	readonly mediaDir: string;
	readonly ffmpegPath: string;
	/** `http://host:port` once listening. */
	readonly url: string | undefined;
	/**
	 * Start listening; resolves with the base URL.
	 * @param port default 0 (a free port)
	 * @param host default '127.0.0.1'
	 */
	listen(port?: number, host?: string): Promise<string>;
	/** Kill running cuts (deleting their partial files), then stop listening and drop open connections. */
	close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
	const text = JSON.stringify(body);
	res.writeHead(status, {
		'content-type': 'application/json; charset=utf-8',
		'content-length': Buffer.byteLength(text),
		'cache-control': 'no-store',
	});
	res.end(text);
}

function readJson(req: IncomingMessage): Promise<unknown> {
	return new Promise((resolveBody, reject) => {
		const chunks: Buffer[] = [];
		let size = 0;
		req.on('data', (chunk: Buffer) => {
			size += chunk.length;
			if (size > MAX_BODY) {
				reject(new CutRequestError('body', `expected at most ${MAX_BODY} bytes`, 413));
				req.destroy();
				return;
			}
			chunks.push(chunk);
		});
		req.on('end', () => {
			const text = Buffer.concat(chunks).toString('utf8');
			try {
				resolveBody(text.length === 0 ? undefined : (JSON.parse(text) as unknown));
			} catch {
				reject(
					new CutRequestError(
						'body',
						'expected a JSON object such as {"input": "sample.mp4", "start": 0, "end": 10}',
					),
				);
			}
		});
		req.on('error', reject);
	});
}

/** Create the cut service (not listening yet: call `listen`). Throws when no ffmpeg can be found. */
export function createCutService(options: CutServiceOptions): CutService {
	if (
		options === null ||
		typeof options !== 'object' ||
		typeof options.mediaDir !== 'string' ||
		options.mediaDir.length === 0
	) {
		throw new TypeError('Expected `mediaDir` to be the path of the media folder');
	}
	const timeoutMs = options.timeoutMs ?? 300_000;
	if (!Number.isInteger(timeoutMs) || timeoutMs < 0)
		throw new TypeError(`Expected \`timeoutMs\` to be an integer >= 0, got ${String(timeoutMs)}`);
	const keepFinished = options.keepFinished ?? 1000;
	const ffmpegPath = options.ffmpegPath ?? findFfmpeg();
	const mediaDir = resolve(options.mediaDir);
	const ready = mkdir(resolve(mediaDir, OUTPUT_FOLDER), { recursive: true });
	const jobs = new Map<string, CutJob>();
	const derivatives = new DerivativeJobs({ mediaDir, ffmpegPath, timeoutMs, keepFinished });
	let url: string | undefined;

	function forgetOldFinished(): void {
		let finished = 0;
		for (const job of jobs.values()) if (job.status !== 'running') finished++;
		for (const [id, job] of jobs) {
			if (finished <= keepFinished) break;
			if (job.status !== 'running') {
				jobs.delete(id);
				finished--;
			}
		}
	}

	async function createCut(body: unknown): Promise<CutJob> {
		if (body === null || typeof body !== 'object' || Array.isArray(body)) {
			throw new CutRequestError(
				'body',
				'expected a JSON object such as {"input": "sample.mp4", "start": 0, "end": 10}',
			);
		}
		const { input, start, end } = body as { input?: unknown; start?: unknown; end?: unknown };
		await ready;
		const inputPath = await resolveMediaFile(mediaDir, input, 'input');
		checkTimes(start, end, null);
		const duration = await probeDuration(ffmpegPath, inputPath);
		if (duration === null)
			throw new CutRequestError('input', `${JSON.stringify(input)} is not a video ffmpeg can read`);
		const times = checkTimes(start, end, duration);
		const id = `cut-${randomBytes(6).toString('hex')}`;
		const job = new CutJob({
			id,
			mediaDir,
			ffmpegPath,
			input: input as string,
			inputPath,
			...times,
			output: outputName(input as string, times.start, times.end),
			encoderArgs: await encoderArgs(ffmpegPath),
			timeoutMs,
			realtime: options.realtime === true,
		});
		jobs.set(id, job);
		void job.done.then(forgetOldFinished);
		return job;
	}

	function jobOr404(id: string): CutJob {
		const job = jobs.get(id);
		if (job === undefined) throw new CutRequestError('id', `no cut with id ${JSON.stringify(id)}`, 404);
		return job;
	}

	/** `/thumbnails…` and `/previews…`: the same four operations as the cuts. */
	async function routeDerivative(
		req: IncomingMessage,
		res: ServerResponse,
		kind: DerivativeKind,
		base: string,
		rest: string,
	): Promise<void> {
		const method = req.method ?? 'GET';
		if (rest === '') {
			if (method === 'POST') {
				await ready;
				const job = await derivatives.create(kind, await readJson(req));
				return send(res, 202, { id: job.id });
			}
			if (method === 'GET') return send(res, 200, { [`${kind}s`]: derivatives.list(kind) });
			throw new CutRequestError('method', `expected GET or POST on ${base}, got ${method}`, 405);
		}
		const match = /^\/([^/]+)(\/output|\/stop)?$/.exec(rest);
		if (match === null) throw new CutRequestError('path', `no route ${method} ${base}${rest}`, 404);
		const id = decodeURIComponent(match[1] ?? '');
		const action = match[2] ?? '';
		const expected = action === '/stop' ? 'POST' : 'GET';
		if (method !== expected)
			throw new CutRequestError('method', `expected ${expected} on ${base}/:id${action}, got ${method}`, 405);
		const job = derivatives.get(kind, id);
		if (action === '') return send(res, 200, job.view());
		if (action === '/output') {
			if (job.status !== 'succeeded')
				throw new CutRequestError(
					'id',
					`${kind} ${JSON.stringify(id)} has no output: it is ${job.status}`,
					409,
				);
			return send(res, 200, { id, output: job.output });
		}
		await job.stop();
		return send(res, 200, { id, status: job.status });
	}

	async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
		const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '');
		const method = req.method ?? 'GET';
		const base = /^\/[a-z]+/.exec(path)?.[0] ?? '';
		const kind = Object.hasOwn(DERIVATIVE_PATHS, base) ? DERIVATIVE_PATHS[base] : undefined;
		if (kind !== undefined) return routeDerivative(req, res, kind, base, path.slice(base.length));
		if (path === '/cuts') {
			if (method === 'POST') {
				const job = await createCut(await readJson(req));
				return send(res, 202, { id: job.settings.id });
			}
			if (method === 'GET') {
				const cuts: CutView[] = [...jobs.values()].map((job) => job.view()).reverse();
				return send(res, 200, { cuts });
			}
			throw new CutRequestError('method', `expected GET or POST on /cuts, got ${method}`, 405);
		}
		const match = /^\/cuts\/([^/]+)(\/output|\/stop)?$/.exec(path);
		if (match === null) throw new CutRequestError('path', `no route ${method} ${path}`, 404);
		const id = decodeURIComponent(match[1] ?? '');
		const action = match[2];
		if (action === undefined) {
			if (method !== 'GET') throw new CutRequestError('method', `expected GET on /cuts/:id, got ${method}`, 405);
			return send(res, 200, jobOr404(id).view());
		}
		if (action === '/output') {
			if (method !== 'GET')
				throw new CutRequestError('method', `expected GET on /cuts/:id/output, got ${method}`, 405);
			const job = jobOr404(id);
			if (job.output === undefined)
				throw new CutRequestError('id', `cut ${JSON.stringify(id)} has no output: it is ${job.status}`, 409);
			return send(res, 200, { id, output: job.output });
		}
		if (method !== 'POST')
			throw new CutRequestError('method', `expected POST on /cuts/:id/stop, got ${method}`, 405);
		const job = jobOr404(id);
		await job.stop();
		return send(res, 200, { id, status: job.status });
	}

	const server = createServer((req, res) => {
		route(req, res).catch((error: unknown) => {
			if (res.headersSent) {
				res.destroy();
				return;
			}
			if (error instanceof CutRequestError)
				return send(res, error.status, { error: error.message, field: error.field });
			send(res, 500, { error: error instanceof Error ? error.message : String(error) });
		});
	});

	return {
		server,
		mediaDir,
		ffmpegPath,
		get url() {
			return url;
		},
		listen(port = 0, host = '127.0.0.1') {
			return new Promise<string>((resolveUrl, reject) => {
				server.once('error', reject);
				server.listen(port, host, () => {
					server.off('error', reject);
					const address = server.address() as AddressInfo;
					url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
					resolveUrl(url);
				});
			});
		},
		async close() {
			await Promise.all([
				...[...jobs.values()].map((job) => job.stop('the service is shutting down')),
				derivatives.stopAll('the service is shutting down'),
			]);
			if (!server.listening) return;
			server.closeAllConnections();
			await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
		},
	};
}
