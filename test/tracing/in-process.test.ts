/**
 * OpenTelemetry spans in one process (issue 16 item 4), with the SDK's BasicTracerProvider, an in-memory exporter
 * and the async-hooks context manager: the add span is a child of the span active at `add`, each attempt's span a
 * child of the add span (one per attempt, ERROR on a failure), the work's own spans children of the attempt's, and
 * without an SDK the tasks carry no trace.
 */
import { readFileSync } from 'node:fs';
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { AsyncHooksContextManager } from '@opentelemetry/context-async-hooks';
import {
	BasicTracerProvider,
	InMemorySpanExporter,
	SimpleSpanProcessor,
	type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler, type TaskRecord } from 'lightsched';
import { createTaskRecord } from 'lightsched/kit';
import { FunctionActuator } from 'lightsched/actuators/function';
import { QueueContainer } from 'lightsched/containers/queue';
import {
	ADD_SPAN_NAME,
	ATTEMPT_SPAN_NAME,
	formatTrace,
	parseTrace,
	traceParts,
	TRACER_VERSION,
} from '../../src/tracing.js';

const exporter = new InMemorySpanExporter();
const tracer = (): ReturnType<typeof trace.getTracer> => trace.getTracer('test');

/** Run `fn` inside a new active span named `name`, ended after. */
async function inSpan<T>(name: string, fn: (span: Span) => Promise<T>): Promise<T> {
	return tracer().startActiveSpan(name, async (span) => {
		try {
			return await fn(span);
		} finally {
			span.end();
		}
	});
}

const spans = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === name);
const parentOf = (span: ReadableSpan | undefined): string | undefined => span?.parentSpanContext?.spanId;

describe('without an SDK', () => {
	it('stores no trace and runs as usual', async () => {
		const scheduler = new Scheduler({ container: new QueueContainer(), actuator: new FunctionActuator(() => 1) });
		const added = await scheduler.add({ id: 'plain', item: null });
		await scheduler.onIdle();
		expect(added.trace).toBeNull();
		expect(await scheduler.get('plain')).toMatchObject({ status: 'succeeded', trace: null });
		await scheduler.close();
	});
});

describe('with an SDK', () => {
	let contextManager: AsyncHooksContextManager;
	beforeAll(() => {
		contextManager = new AsyncHooksContextManager().enable();
		context.setGlobalContextManager(contextManager);
		trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
	});
	afterAll(() => {
		trace.disable();
		context.disable();
	});
	afterEach(() => exporter.reset());

	it('makes the attempt span a child of the add span, itself a child of the caller’s span; the work’s spans are children of the attempt’s', async () => {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator(async ({ n }: { n: number }) => {
				// Work the app's instrumentation would trace (an HTTP call): a span of the active context.
				return tracer().startActiveSpan('work', (span) => {
					span.end();
					return n * 2;
				});
			}),
		});
		const added = await inSpan('request', () => scheduler.add({ id: 'job-1', item: { n: 21 } }));
		await scheduler.onIdle();
		await scheduler.close();

		const [request] = spans('request');
		const [add] = spans(ADD_SPAN_NAME);
		const [attempt] = spans(ATTEMPT_SPAN_NAME);
		const [work] = spans('work');
		expect(add?.kind).toBe(SpanKind.PRODUCER);
		expect(attempt?.kind).toBe(SpanKind.CONSUMER);
		expect(parentOf(add)).toBe(request?.spanContext().spanId);
		expect(parentOf(attempt)).toBe(add?.spanContext().spanId);
		expect(parentOf(work)).toBe(attempt?.spanContext().spanId);
		const traceId = request?.spanContext().traceId;
		for (const span of [add, attempt, work]) expect(span?.spanContext().traceId).toBe(traceId);
		// The stored trace context is the add span's.
		expect(added.trace).toBe(`00-${traceId}-${add?.spanContext().spanId}-01`);
		expect(add?.instrumentationScope).toMatchObject({ name: 'lightsched', version: TRACER_VERSION });
		expect(add?.attributes).toMatchObject({
			'messaging.system': 'lightsched',
			'messaging.operation.type': 'send',
			'lightsched.task.id': 'job-1',
			'lightsched.container': 'QueueContainer',
		});
		expect(attempt?.attributes).toMatchObject({
			'messaging.system': 'lightsched',
			'messaging.operation.type': 'process',
			'messaging.message.id': 'job-1',
			'lightsched.task.id': 'job-1',
			'lightsched.task.attempt': 1,
			'lightsched.actuator': 'function',
			'lightsched.container': 'QueueContainer',
			'lightsched.scheduler.id': scheduler.id,
			'lightsched.attempt.outcome': 'succeeded',
			'lightsched.task.status': 'succeeded',
		});
		expect(attempt?.status.code).toBe(SpanStatusCode.UNSET);
	});

	it('gives one span per attempt, each a child of the add span; failures are ERROR with the code and message', async () => {
		let calls = 0;
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator(() => {
				calls += 1;
				if (calls < 3) throw Object.assign(new Error(`flaky ${calls}`), { code: 'E_FLAKY' });
				return 'ok';
			}),
			maxAttempts: 3,
			backoff: { type: 'fixed', delayMs: 0 },
		});
		await inSpan('request', () => scheduler.add({ id: 'retried', item: null }));
		await scheduler.onIdle();
		await scheduler.close();

		const [add] = spans(ADD_SPAN_NAME);
		const attempts = spans(ATTEMPT_SPAN_NAME).sort(
			(a, b) => Number(a.attributes['lightsched.task.attempt']) - Number(b.attributes['lightsched.task.attempt']),
		);
		expect(attempts.map((a) => a.attributes['lightsched.task.attempt'])).toEqual([1, 2, 3]);
		for (const attempt of attempts) expect(parentOf(attempt)).toBe(add?.spanContext().spanId);
		expect(new Set(attempts.map((a) => a.spanContext().spanId)).size).toBe(3);
		for (const failed of attempts.slice(0, 2)) {
			expect(failed.status.code).toBe(SpanStatusCode.ERROR);
			expect(failed.status.message).toMatch(/^E_FLAKY: flaky [12]$/);
			expect(failed.attributes).toMatchObject({
				'lightsched.attempt.outcome': 'failed',
				'lightsched.task.status': 'waiting',
				'error.type': 'E_FLAKY',
			});
			expect(failed.events.map((e) => e.name)).toContain('exception');
		}
		expect(attempts[2]?.status.code).toBe(SpanStatusCode.UNSET);
		expect(attempts[2]?.attributes['lightsched.task.status']).toBe('succeeded');
	});

	it('ends the span of a failure for good and of a timeout with ERROR', async () => {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator(async ({ hang }: { hang: boolean }, { signal }) => {
				if (!hang) throw new Error('broken');
				await new Promise((resolve) => signal.addEventListener('abort', resolve));
				return null;
			}),
			maxAttempts: 1,
		});
		await scheduler.add([
			{ id: 'broken', item: { hang: false } },
			{ id: 'slow', item: { hang: true }, timeoutMs: 50 },
		]);
		await scheduler.onIdle();
		await scheduler.close();

		const byId = new Map(spans(ATTEMPT_SPAN_NAME).map((s) => [s.attributes['lightsched.task.id'], s]));
		expect(byId.get('broken')?.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'broken' });
		expect(byId.get('broken')?.attributes).toMatchObject({
			'lightsched.attempt.outcome': 'failed',
			'lightsched.task.status': 'failed',
			'error.type': 'Error',
		});
		expect(byId.get('slow')?.status.code).toBe(SpanStatusCode.ERROR);
		expect(byId.get('slow')?.status.message).toMatch(/^ERR_TASK_TIMEOUT: /);
		expect(byId.get('slow')?.attributes).toMatchObject({
			'lightsched.attempt.outcome': 'timeout',
			'error.type': 'ERR_TASK_TIMEOUT',
		});
		// One add of two tasks: one span, both attempts its children.
		const [add] = spans(ADD_SPAN_NAME);
		expect(add?.attributes['messaging.batch.message_count']).toBe(2);
		for (const s of byId.values()) expect(parentOf(s)).toBe(add?.spanContext().spanId);
	});

	it('ends the span of a stopped attempt, and of one handed back at close, without ERROR', async () => {
		const scheduler = new Scheduler({
			container: new QueueContainer(),
			actuator: new FunctionActuator(async (_item: null, { signal }) => {
				await new Promise((resolve) => signal.addEventListener('abort', resolve));
				return null;
			}),
			concurrency: 2,
		});
		const started = new Promise<void>((resolve) => {
			let n = 0;
			scheduler.on('task:started', () => {
				if (++n === 2) resolve();
			});
		});
		await scheduler.add([
			{ id: 'stopped', item: null },
			{ id: 'handed', item: null },
		]);
		await started;
		await scheduler.stop('stopped');
		await scheduler.close();
		const byId = new Map(spans(ATTEMPT_SPAN_NAME).map((s) => [s.attributes['lightsched.task.id'], s]));
		expect(byId.get('stopped')?.attributes).toMatchObject({
			'lightsched.attempt.outcome': 'stopped',
			'lightsched.task.status': 'stopped',
		});
		expect(byId.get('handed')?.attributes).toMatchObject({
			'lightsched.attempt.outcome': 'handed-back',
			'lightsched.task.status': 'waiting',
		});
		for (const s of byId.values()) expect(s.status.code).toBe(SpanStatusCode.UNSET);
	});

	it('starts a root span for a task stored with no trace, not a child of the context its claim ran in', async () => {
		const container = new QueueContainer();
		const record = createTaskRecord({ id: 'untraced', item: null }, 'task', { maxAttempts: 1 }, Date.now());
		container.add([record as TaskRecord]);
		const scheduler = new Scheduler({ container, actuator: new FunctionActuator(() => null), autoStart: false });
		// The claim that runs it happens inside an add made in a span (the add wakes the claim loop).
		await inSpan('request', () => scheduler.add({ id: 'traced', item: null }));
		scheduler.resume();
		await scheduler.onIdle();
		await scheduler.close();
		const byId = new Map(spans(ATTEMPT_SPAN_NAME).map((s) => [s.attributes['lightsched.task.id'], s]));
		expect(byId.get('untraced')?.parentSpanContext).toBeUndefined();
		expect(byId.get('untraced')?.spanContext().traceId).not.toBe(spans('request')[0]?.spanContext().traceId);
		expect(parentOf(byId.get('traced'))).toBe(spans(ADD_SPAN_NAME)[0]?.spanContext().spanId);
	});
});

describe('the stored trace context', () => {
	it('round-trips the traceparent and the tracestate, and refuses what is not one', () => {
		const text = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 congo=t61rcWkgMzE,rojo=00f067aa0ba902b7';
		const parsed = parseTrace(text);
		expect(parsed).toMatchObject({
			traceId: '0af7651916cd43dd8448eb211c80319c',
			spanId: 'b7ad6b7169203331',
			traceFlags: 1,
			isRemote: true,
		});
		expect(parsed?.traceState?.get('rojo')).toBe('00f067aa0ba902b7');
		expect(parsed === null ? null : formatTrace(parsed)).toBe(text);
		expect(parseTrace('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00')).toMatchObject({ traceFlags: 0 });
		for (const bad of ['', 'x', '00-00000000000000000000000000000000-b7ad6b7169203331-01', '01-abc'])
			expect(parseTrace(bad)).toBeNull();
	});

	it('names the tracer with the package version', () => {
		const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
			version: string;
		};
		expect(TRACER_VERSION).toBe(pkg.version);
	});
});

describe('the parts named on the spans', () => {
	it('names actuators by kind and survives parts with no usual constructor', () => {
		expect(traceParts(new QueueContainer(), new FunctionActuator(() => 1), 's')).toEqual({
			actuator: 'function',
			container: 'QueueContainer',
			destination: 'QueueContainer',
			scheduler: 's',
		});
		expect(traceParts(Object.create(null) as object, {}, 's')).toEqual({
			actuator: 'actuator',
			container: 'container',
			destination: 'container',
			scheduler: 's',
		});
	});
});
