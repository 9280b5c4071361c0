/**
 * What the OpenTelemetry spans cost on the in-memory hot path (docs/tracing.md): 100,000 no-op tasks, each added by
 * its own call, at concurrency 1, 100 and 1,000 (QueueContainer + FunctionActuator), median of ROUNDS rounds.
 * `TRACING=off` (the default): no SDK installed, the API's no-op; `TRACING=sdk`: a BasicTracerProvider that
 * records every span (always-on sampler, no exporter) and the AsyncLocalStorage context manager (`CONTEXT=hooks`:
 * the async-hooks one), as an app with tracing on would run it. Compare `off` with the same script on a commit before the spans to see the no-SDK cost.
 *
 *   node --expose-gc --conditions=lightsched:source --import tsx bench/tracing.ts   (TRACING=sdk ROUNDS=7 TASKS=100000)
 */
import { Scheduler } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator } from 'lightsched/actuators/function';
import { median } from './stats.js';

const TASKS = Number(process.env.TASKS ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const TRACING = process.env.TRACING === 'sdk' ? 'sdk' : 'off';
const CONCURRENCIES = (process.env.CONCURRENCIES ?? '1,100,1000').split(',').map(Number);

if (TRACING === 'sdk') {
	const { context, trace } = await import('@opentelemetry/api');
	const { AsyncHooksContextManager, AsyncLocalStorageContextManager } =
		await import('@opentelemetry/context-async-hooks');
	const { BasicTracerProvider } = await import('@opentelemetry/sdk-trace-base');
	context.setGlobalContextManager(
		process.env.CONTEXT === 'hooks'
			? new AsyncHooksContextManager().enable()
			: new AsyncLocalStorageContextManager().enable(),
	);
	trace.setGlobalTracerProvider(new BasicTracerProvider());
}

const noop = async (): Promise<void> => {};

/** One round: wall milliseconds and CPU microseconds (user + system, less swayed by other load) per task. */
async function run(concurrency: number): Promise<{ ms: number; cpuUs: number }> {
	const scheduler = new Scheduler({
		container: new QueueContainer(),
		actuator: new FunctionActuator(noop),
		concurrency,
	});
	let succeeded = 0;
	scheduler.on('task:succeeded', () => succeeded++);
	const started = performance.now();
	const cpu = process.cpuUsage();
	for (let i = 0; i < TASKS; i++) void scheduler.add({ item: i });
	await scheduler.onIdle();
	const ms = performance.now() - started;
	const used = process.cpuUsage(cpu);
	if (succeeded !== TASKS) throw new Error(`finished ${succeeded} of ${TASKS}`);
	await scheduler.close();
	return { ms, cpuUs: (used.user + used.system) / TASKS };
}

console.log(
	`# tracing ${TRACING === 'sdk' ? `sdk (${process.env.CONTEXT === 'hooks' ? 'async hooks' : 'AsyncLocalStorage'})` : 'off'}: ${TASKS} no-op tasks, median of ${ROUNDS} rounds, node ${process.version}`,
);
for (const concurrency of CONCURRENCIES) {
	await run(concurrency); // warm-up
	const times: number[] = [];
	const cpus: number[] = [];
	for (let round = 0; round < ROUNDS; round++) {
		globalThis.gc?.();
		const { ms, cpuUs } = await run(concurrency);
		times.push(ms);
		cpus.push(cpuUs);
	}
	console.log(
		`concurrency ${concurrency}: ${Math.round((TASKS / median(times)) * 1000)} tasks/s, ${median(cpus).toFixed(2)} us CPU per task`,
	);
}
