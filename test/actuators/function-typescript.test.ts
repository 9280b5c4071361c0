/**
 * Worker-thread function modules written in TypeScript (issue 11 item 13). On Node 20 a worker thread
 * ignores `--import` in its `execArgv`, so `execArgv: ['--import', 'tsx']` (what the docs used to suggest)
 * could not load a `.ts` module ("Unknown file extension .ts"); the worker now loads it through tsx's API
 * when Node cannot, on every Node version in `engines`.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Scheduler, type TaskRecord } from 'lightsched';
import { QueueContainer } from 'lightsched/containers/queue';
import { FunctionActuator, type WorkerFunctionOptions } from 'lightsched/actuators/function';

const moduleTs = fileURLToPath(new URL('./ts-worker/sum.ts', import.meta.url));
const open: Scheduler[] = [];

afterEach(async () => {
	await Promise.all(open.splice(0).map((s) => s.close()));
});

async function runOne(
	options: WorkerFunctionOptions,
	item: unknown,
): Promise<{ task: TaskRecord | null; progress: unknown[] }> {
	const scheduler = new Scheduler({ container: new QueueContainer(), actuator: new FunctionActuator(options) });
	open.push(scheduler);
	const progress: unknown[] = [];
	scheduler.on('task:progress', ({ progress: p }) => progress.push(p));
	await scheduler.add({ id: 't', item });
	await scheduler.onIdle();
	return { task: await scheduler.get('t'), progress };
}

describe(`FunctionActuator: a TypeScript worker module (Node ${process.version})`, { timeout: 60_000 }, () => {
	it("loads an ESM .ts module importing another .ts file, with execArgv ['--import', 'tsx'] as the docs once said", async () => {
		const { task, progress } = await runOne({ module: moduleTs, execArgv: ['--import', 'tsx'] }, { a: 2, b: 3 });
		expect(task?.error ?? null).toBeNull();
		expect(task?.status).toBe('succeeded');
		expect(task?.output).toEqual({ value: 10, by: 2 });
		expect(progress).toEqual(['adding']);
	});

	it('loads it without any execArgv, and a file: URL as well', async () => {
		const { task } = await runOne({ module: new URL('./ts-worker/sum.ts', import.meta.url) }, { a: 1, b: 1 });
		expect(task?.output).toEqual({ value: 4, by: 2 });
	});

	it('loads a .ts module outside any "type": "module" package (compiled as CommonJS), by a named export', async () => {
		const dir = await mkdtemp(join(tmpdir(), 'lightsched-ts-worker-'));
		const file = join(dir, 'work.ts');
		await writeFile(
			file,
			'interface Item { readonly n: number }\nexport function triple(item: Item): number {\n\treturn item.n * 3;\n}\n',
		);
		const { task } = await runOne({ module: file, export: 'triple' }, { n: 5 });
		expect(task?.error ?? null).toBeNull();
		expect(task?.output).toBe(15);
		const missing = await runOne({ module: file, export: 'quadruple' }, { n: 5 });
		expect(missing.task?.status).toBe('failed');
		expect(missing.task?.error?.message).toBe(
			`Expected export \`quadruple\` of ${new URL(`file://${file}`).href} to be a function, got undefined`,
		);
	});
});
