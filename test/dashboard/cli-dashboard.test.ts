/**
 * `lightsched dashboard` as a user runs it: a child process over a SQLite file, its API guarded by `--token`,
 * the counts it serves those of the container, and Ctrl+C (SIGINT) ends it with exit code 0. It shows the container's
 * workflow runs and takes their commands, which an in-test `Workflows` (the workers') carries out in its sweep.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { Workflows, workflowActions, type RunRecord } from 'lightsched/workflows';
import { afterAll, describe, expect, it } from 'vitest';
import { cliCommand } from '../support/bundled-command.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'lightsched-dashboard-cli-'));
const CLI = await cliCommand();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lightsched dashboard', () => {
	it('serves the container behind --token until SIGINT', async () => {
		const filename = join(dir, 'tasks.db');
		const container = new SqlContainer({
			knex: { client: 'sqlite3', connection: { filename }, useNullAsDefault: true },
		});
		const scheduler = new Scheduler({
			container,
			autoStart: false,
			actuator: new FunctionActuator((n: number) => n + 1),
		});
		await scheduler.add([{ item: 1 }, { item: 2 }, { item: 3, runAt: Date.now() + 3_600_000 }]);
		await scheduler.close();

		const token = 'cli-token-1234';
		const { url, exited, kill } = await dashboard(filename, ['--token', token]);
		try {
			expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
			expect((await fetch(`${url}api/stats`)).status).toBe(401);
			const stats = (await (
				await fetch(`${url}api/stats`, { headers: { authorization: `Bearer ${token}` } })
			).json()) as { counts: Record<string, number> };
			expect(stats.counts).toEqual({ waiting: 3, running: 0, exporting: 0, succeeded: 0, failed: 0, stopped: 0 });
			expect((await fetch(url)).status).toBe(200);
		} finally {
			kill();
		}
		expect(await exited).toBe(0);
	});

	it('shows the workflow runs and takes their commands; the workers carry them out', async () => {
		const filename = join(dir, 'runs.db');
		const container = new SqlContainer({
			knex: { client: 'sqlite3', connection: { filename }, useNullAsDefault: true },
		});
		let healed = false;
		const actions = workflowActions({
			flaky: () => {
				if (!healed) throw new Error('not yet');
				return 'fixed';
			},
		});
		const scheduler = new Scheduler({ container, actuator: new FunctionActuator(actions) });
		const flows = new Workflows({ scheduler, actions, sweepMs: 50 });
		flows.define({ name: 'flaky', steps: [{ id: 'a', action: 'flaky', maxAttempts: 1 }] });
		const failed = await flows.wait((await flows.start('flaky')).id);
		expect(failed.status).toBe('failed');
		const { url, exited, kill } = await dashboard(filename, []);
		const post = (path: string) =>
			fetch(`${url}api/${path}`, {
				method: 'POST',
				headers: { 'x-lightsched-dashboard': '1', 'content-type': 'application/json' },
				body: '{}',
			});
		try {
			expect(await (await fetch(`${url}api/info`)).json()).toMatchObject({ workflows: true, runCommands: true });
			const page = (await (await fetch(`${url}api/runs?status=failed`)).json()) as { runs: { id: string }[] };
			expect(page.runs.map((run) => run.id)).toEqual([failed.id]);
			const refused = await post(`runs/${failed.id}/resume`);
			expect(refused.status).toBe(409);
			healed = true;
			const retried = await post(`runs/${failed.id}/retry`);
			expect(retried.status).toBe(200);
			expect(((await retried.json()) as { run: RunRecord }).run.status).toBe('running');
			const done = await flows.wait(failed.id, { timeoutMs: 20_000 });
			expect(done.steps.a).toMatchObject({ status: 'succeeded', output: 'fixed', generation: 2 });
		} finally {
			kill();
			await flows.close();
			await scheduler.close();
		}
		expect(await exited).toBe(0);
	});
});

/** Start `lightsched dashboard` on a free port over the SQLite file; resolves once it printed its address. */
async function dashboard(
	filename: string,
	more: readonly string[],
): Promise<{ url: string; exited: Promise<number | null>; kill: () => void }> {
	const child = spawn(
		CLI[0],
		[CLI[1], '--container', `sqlite:${filename}`, '--json', 'dashboard', '--port', '0', ...more],
		{ cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LIGHTSCHED_CONTAINER: '' } },
	);
	const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
	let out = '';
	let err = '';
	child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
	const url = await new Promise<string>((resolve, reject) => {
		child.stdout.on('data', (chunk: Buffer) => {
			out += chunk.toString();
			const match = /"url": "([^"]+)"/.exec(out);
			if (match?.[1] !== undefined) resolve(match[1]);
		});
		void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
	});
	return { url, exited, kill: () => child.kill('SIGINT') };
}
