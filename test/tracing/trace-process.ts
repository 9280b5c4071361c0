/**
 * One side of test/tracing/across-processes.test.ts, in its own process with the OpenTelemetry SDK (an in-memory
 * exporter, the async-hooks context manager). Run with `node --conditions=lightsched:source --import tsx
 * test/tracing/trace-process.ts`, configured by `LIGHTSCHED_TRACE` (JSON, `TraceProcessConfig`).
 * - `adder`: adds task `id` inside a span `request`, with a scheduler that runs nothing (`autoStart: false`).
 * - `worker`: runs the tasks (the first attempt fails, the second makes a span `work` and succeeds) until task `id`
 *   succeeded.
 * Either then closes its scheduler and prints its finished spans as one JSON line (`ExportedSpan[]`).
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncHooksContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface TraceProcessConfig {
	readonly role: 'adder' | 'worker';
	readonly kind: 'redis' | 'sqlite';
	/** Redis URL or SQLite file name. */
	readonly where: string;
	/** Redis container name or SQL table prefix. */
	readonly name: string;
	/** The task's id. */
	readonly id: string;
}

/** A finished span as the process prints it. */
export interface ExportedSpan {
	readonly name: string;
	readonly kind: number;
	readonly traceId: string;
	readonly spanId: string;
	readonly parentSpanId: string | null;
	readonly attributes: Record<string, unknown>;
	readonly status: { readonly code: number; readonly message?: string };
}

const config = JSON.parse(process.env['LIGHTSCHED_TRACE'] ?? '{}') as TraceProcessConfig;
const exporter = new InMemorySpanExporter();
context.setGlobalContextManager(new AsyncHooksContextManager().enable());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
const tracer = trace.getTracer('trace-process');

const { Scheduler } = await import('lightsched');
const { FunctionActuator } = await import('lightsched/actuators/function');

async function container() {
	if (config.kind === 'redis') {
		const { RedisContainer } = await import('lightsched/containers/redis');
		return new RedisContainer({ redis: config.where, name: config.name, log: false });
	}
	const { SqlContainer } = await import('lightsched/containers/sql');
	const knex = { client: 'sqlite3', connection: { filename: config.where }, useNullAsDefault: true };
	return new SqlContainer({ knex, tablePrefix: config.name });
}

const scheduler = new Scheduler({
	container: await container(),
	autoStart: config.role === 'worker',
	pollIntervalMs: 100,
	maxAttempts: 2,
	backoff: { type: 'fixed', delayMs: 0 },
	actuator: new FunctionActuator((_item: unknown, { task }) => {
		if (task.attempts === 1) throw Object.assign(new Error('first attempt fails'), { code: 'E_FIRST' });
		return tracer.startActiveSpan('work', (span) => {
			span.end();
			return process.pid;
		});
	}),
});
scheduler.on('error', (error) => process.stderr.write(`scheduler error: ${String(error)}\n`));

if (config.role === 'adder') {
	await tracer.startActiveSpan('request', async (span) => {
		await scheduler.add({ id: config.id, item: 'traced' });
		span.end();
	});
} else {
	await new Promise<void>((resolve) => {
		scheduler.on('task:succeeded', ({ task }) => {
			if (task.id === config.id) resolve();
		});
	});
}
await scheduler.close();

const spans: ExportedSpan[] = exporter.getFinishedSpans().map((span) => ({
	name: span.name,
	kind: span.kind,
	traceId: span.spanContext().traceId,
	spanId: span.spanContext().spanId,
	parentSpanId: span.parentSpanContext?.spanId ?? null,
	attributes: { ...span.attributes },
	status: span.status,
}));
process.stdout.write(`${JSON.stringify(spans)}\n`);
process.exit(0);
