/**
 * `lightsched dashboard` as a user runs it: a child process over a SQLite file, its API guarded by `--token`,
 * the counts it serves those of the container, and Ctrl+C (SIGINT) ends it with exit code 0.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
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
		const child = spawn(
			CLI[0],
			[CLI[1], '--container', `sqlite:${filename}`, '--json', 'dashboard', '--port', '0', '--token', token],
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
		try {
			expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
			expect((await fetch(`${url}api/stats`)).status).toBe(401);
			const stats = (await (
				await fetch(`${url}api/stats`, { headers: { authorization: `Bearer ${token}` } })
			).json()) as { counts: Record<string, number> };
			expect(stats.counts).toEqual({ waiting: 3, running: 0, exporting: 0, succeeded: 0, failed: 0, stopped: 0 });
			expect((await fetch(url)).status).toBe(200);
		} finally {
			child.kill('SIGINT');
		}
		expect(await exited).toBe(0);
	});
});
