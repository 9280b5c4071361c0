/**
 * Trace context across processes (issue 16 item 4), on SQLite and Redis: one process adds a task inside a span,
 * another runs it (a failed attempt, then a successful one). Each prints the spans its in-memory exporter got
 * (test/tracing/trace-process.ts). The worker's attempt spans must carry the adder's trace id and have its add
 * span as their parent; the work's own span is a child of the attempt's.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';
import type { ExportedSpan, TraceProcessConfig } from './trace-process.js';
import { bundledCommand } from '../support/bundled-command.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = `${ROOT}test/tracing/trace-process.ts`;
const WORKER = await bundledCommand(SCRIPT);
const dir = mkdtempSync(join(tmpdir(), 'lightsched-trace-'));
let redis: RedisServer;

beforeAll(async () => {
	redis = await startRedis();
}, 120_000);
afterAll(async () => {
	await redis?.close();
	rmSync(dir, { recursive: true, force: true });
});

/** Run one side to its end; its spans from the JSON line it prints last. */
function run(config: TraceProcessConfig): Promise<ExportedSpan[]> {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [WORKER[1]], {
			cwd: ROOT,
			env: { ...process.env, LIGHTSCHED_TRACE: JSON.stringify(config) },
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let out = '';
		let err = '';
		child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
		child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
		const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
		child.once('exit', (code) => {
			clearTimeout(timer);
			const last = out.trim().split('\n').at(-1) ?? '';
			if (code !== 0 || !last.startsWith('['))
				reject(new Error(`${config.role} exited with ${String(code)}: ${out}\n${err}`));
			else resolve(JSON.parse(last) as ExportedSpan[]);
		});
	});
}

describe.concurrent.each([['SQLite' as const], ['Redis' as const]])('trace context across processes on %s', (label) => {
	it("makes the worker's attempt spans children of the adder's add span", async () => {
		const kind = label === 'SQLite' ? 'sqlite' : 'redis';
		const base = {
			kind,
			where: kind === 'sqlite' ? join(dir, 'trace.sqlite') : redis.url,
			name: 'traced_',
		} as const;
		const id = `task-${kind}`;
		const added = await run({ ...base, role: 'adder', id });
		const ran = await run({ ...base, role: 'worker', id });

		const request = added.find((s) => s.name === 'request');
		const add = added.find((s) => s.name === 'lightsched.add');
		expect(add).toMatchObject({
			kind: SpanKind.PRODUCER,
			parentSpanId: request?.spanId,
			traceId: request?.traceId,
		});
		expect(added.filter((s) => s.name === 'lightsched.attempt')).toEqual([]);

		const attempts = ran
			.filter((s) => s.name === 'lightsched.attempt')
			.sort(
				(a, b) =>
					Number(a.attributes['lightsched.task.attempt']) - Number(b.attributes['lightsched.task.attempt']),
			);
		expect(attempts).toHaveLength(2);
		for (const attempt of attempts) {
			expect(attempt).toMatchObject({
				kind: SpanKind.CONSUMER,
				traceId: add?.traceId,
				parentSpanId: add?.spanId,
				attributes: { 'lightsched.task.id': id, 'lightsched.actuator': 'function' },
			});
		}
		expect(attempts[0]?.status).toMatchObject({
			code: SpanStatusCode.ERROR,
			message: 'E_FIRST: first attempt fails',
		});
		expect(attempts[0]?.attributes['lightsched.task.status']).toBe('waiting');
		expect(attempts[1]?.status.code).toBe(SpanStatusCode.UNSET);
		expect(attempts[1]?.attributes['lightsched.task.status']).toBe('succeeded');
		const work = ran.find((s) => s.name === 'work');
		expect(work).toMatchObject({ traceId: add?.traceId, parentSpanId: attempts[1]?.spanId });
	});
});
