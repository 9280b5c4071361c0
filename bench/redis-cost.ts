/**
 * Cost per task of lightsched on Redis at one concurrency, in one process: the worker's CPU time per task
 * (`process.cpuUsage()`), Redis's CPU time per task (`INFO cpu`, main thread), the bytes Redis read and wrote per
 * task (`INFO stats`), and its calls and microseconds per task by command (`INFO commandstats`), for a run of `N`
 * no-op tasks added first and then processed (after a warm-up run of `WARMUP` tasks on a queue of its own). For A/B
 * of per-task work, alternating old/new runs: CPU time depends on load far less than a rate does, but still swings
 * by about 15 % between runs on a busy machine; the byte and call counts do not. Wall-clock rates and ratios to
 * BullMQ stay in `bench/redis.ts`.
 *
 * Usage (after `npm run build`): `PORT=6379 N=20000 CONCURRENCY=100 npx tsx bench/redis-cost.ts` against a
 * redis-server of its own (it resets the server's stats: not on a shared server). With `MARK` set, that shell command
 * runs with the argument `start` just before the measured run's processing and `end` just after: e.g. a script that
 * zeroes and switches on, then switches off and dumps (`callgrind_control -z`, `-i on`, `-i off`, `-d`) a
 * redis-server run under `valgrind --tool=callgrind --instr-atstart=no`, to count Redis's instructions per task over
 * the processing only (a count that does not depend on the machine's load). With `MARK_PHASE=add` the marks are
 * around the measured run's adds instead (their cost per task).
 */
import { execSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';

const port = Number(process.env.PORT ?? 6379);
const count = Number(process.env.N ?? 20000);
const concurrency = Number(process.env.CONCURRENCY ?? 100);
const warmup = Number(process.env.WARMUP ?? 5000);
const mark = process.env.MARK;
const markAdds = process.env.MARK_PHASE === 'add';

const admin = new Redis({ host: '127.0.0.1', port });

/** Redis's CPU time in µs: its main thread's where the server reports it (Redis ≥ 6.2), else the process's. */
async function redisCpuUs(): Promise<number> {
	const info = await admin.info('cpu');
	const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
	const main = field('used_cpu_sys_main_thread') + field('used_cpu_user_main_thread');
	return (main > 0 ? main : field('used_cpu_sys') + field('used_cpu_user')) * 1e6;
}

/** Bytes Redis has read from and written to its clients so far (`INFO stats`). */
async function netBytes(): Promise<{ input: number; output: number }> {
	const info = await admin.info('stats');
	const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
	return { input: field('total_net_input_bytes'), output: field('total_net_output_bytes') };
}

async function commandStats(): Promise<Map<string, { calls: number; usec: number }>> {
	const stats = new Map<string, { calls: number; usec: number }>();
	for (const line of (await admin.info('commandstats')).split('\n')) {
		const match = /^cmdstat_(\S+):calls=(\d+),usec=(\d+)/.exec(line);
		if (match) stats.set(match[1] ?? '', { calls: Number(match[2]), usec: Number(match[3]) });
	}
	return stats;
}

/** Adds `n` no-op tasks, then processes them; returns the worker's and Redis's CPU µs during processing. */
async function run(
	name: string,
	n: number,
	measured = false,
): Promise<{ worker: number; redis: number; input: number; output: number }> {
	const container = new RedisContainer({ redis: { host: '127.0.0.1', port }, name, log: false });
	const scheduler = new Scheduler({
		container,
		concurrency,
		autoStart: false,
		actuator: new FunctionActuator(async () => {}),
	});
	let done = 0;
	let resolveAll = (): void => {};
	const all = new Promise<void>((resolve) => (resolveAll = resolve));
	scheduler.on('task:succeeded', () => {
		if (++done === n) resolveAll();
	});
	const marking = measured && mark !== undefined;
	if (marking && markAdds) execSync(`${mark} start`, { stdio: 'inherit' });
	for (let i = 0; i < n; i += 1000)
		await scheduler.add(Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ id: `t${i + j}`, item: null })));
	if (marking && markAdds) execSync(`${mark} end`, { stdio: 'inherit' });
	await admin.config('RESETSTAT');
	const redis0 = await redisCpuUs();
	const net0 = await netBytes();
	if (marking && !markAdds) execSync(`${mark} start`, { stdio: 'inherit' });
	const cpu0 = process.cpuUsage();
	scheduler.resume();
	await all;
	const cpu = process.cpuUsage(cpu0);
	if (marking && !markAdds) execSync(`${mark} end`, { stdio: 'inherit' });
	const redis = (await redisCpuUs()) - redis0;
	const net = await netBytes();
	await scheduler.close();
	return {
		worker: cpu.user + cpu.system,
		redis,
		input: net.input - net0.input,
		output: net.output - net0.output,
	};
}

if (warmup > 0) await run(`cost-warmup-${process.pid}`, warmup);
const { worker, redis, input, output } = await run(`cost-${process.pid}`, count, true);
const stats = await commandStats();
console.log(`tasks ${count} concurrency ${concurrency}`);
console.log(`worker cpu µs/task ${(worker / count).toFixed(2)}`);
console.log(`redis cpu µs/task ${(redis / count).toFixed(2)}`);
console.log(`redis bytes/task in ${(input / count).toFixed(1)} out ${(output / count).toFixed(1)}`);
for (const [command, { calls, usec }] of [...stats].sort((a, b) => b[1].usec - a[1].usec))
	if (command !== 'info' && command !== 'config|resetstat')
		console.log(
			`  ${command}: ${(calls / count).toFixed(3)} calls/task, ${(usec / count).toFixed(2)} µs/task, ${(usec / Math.max(calls, 1)).toFixed(1)} µs/call`,
		);
await admin.quit();
process.exit(0);
