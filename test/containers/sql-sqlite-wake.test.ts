/**
 * SQLite's wake-up channel (containers/sql/file-watch.ts): a scheduler whose poll and safety wake-up are 10 minutes
 * apart still runs, at once, the tasks another process adds to the same file, because each commit changes the
 * write-ahead log the container watches; its own commits do not wake it; the safety wake-up comes on its own;
 * `notify: false` offers no channel. A change follower is woken the same way, by any commit.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { Scheduler, type ContainerSignal } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { SqlContainer } from 'lightsched/containers/sql';
import { records } from '../contracts/container.contract.js';
import { sqliteBackend } from '../support/sql.js';
import { bundledCommand } from '../support/bundled-command.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ADDER = `${ROOT}test/fixtures/sqlite-adder.ts`;
const WORKER = await bundledCommand(ADDER);
const TEN_MINUTES = 600_000;

const sqlite = sqliteBackend();
afterAll(() => sqlite.stop());

/** Another process adds `count` tasks to `file`, `gapMs` apart; resolves with their ids once it exits. */
async function addFromAnotherProcess(file: string, count: number, gapMs: number): Promise<string[]> {
	const { stdout } = await promisify(execFile)(process.execPath, [WORKER[1], file, String(count), String(gapMs)], {
		cwd: ROOT,
	});
	return stdout
		.split('\n')
		.filter((line) => line.startsWith('added '))
		.map((line) => line.slice('added '.length));
}

const fileOf = (knex: { connection?: unknown }): string => (knex.connection as { filename: string }).filename;

describe('SqlContainer on SQLite: wake-up channel (file watch)', () => {
	it('runs tasks another process adds without polling: each commit wakes the idle scheduler', async () => {
		const knex = await sqlite.freshDatabase();
		const container = new SqlContainer({ knex, notifyProbe: { intervalMs: TEN_MINUTES } });
		await container.migrate();
		expect(typeof container.watch).toBe('function');
		const started = new Set<string>();
		let allStarted: () => void = () => undefined;
		const scheduler = new Scheduler<number, void>({
			container,
			pollIntervalMs: TEN_MINUTES,
			actuator: new FunctionActuator((_item: number, { task }) => {
				started.add(task.id);
				if (started.size === 5) allStarted();
			}),
		});
		try {
			// Idle first: the scheduler has looked and found nothing, and sleeps.
			await scheduler.onIdle();
			const all = new Promise<void>((resolve) => (allStarted = resolve));
			const ids = await addFromAnotherProcess(fileOf(knex), 5, 50);
			await all;
			expect([...started].sort()).toEqual(ids.sort());
		} finally {
			await scheduler.close();
			await container.close();
		}
	});

	it("does not wake for its own commits (they would feed a claim loop), only for another process's", async () => {
		const knex = await sqlite.freshDatabase();
		const container = new SqlContainer({ knex, notifyProbe: { intervalMs: TEN_MINUTES } });
		await container.migrate();
		const wakes: number[] = [];
		let woken: () => void = () => undefined;
		const unwatch = container.watch?.((signal) => {
			if (signal.type !== 'wake') return;
			wakes.push(Date.now());
			woken();
		});
		try {
			// Its own writes change the log as well; give each change time to be looked at.
			for (let i = 0; i < 5; i++) {
				await container.add(records([{ id: `own-${i}`, item: i }]));
				await new Promise((resolve) => setTimeout(resolve, 100));
			}
			expect(wakes).toEqual([]);
			const wake = new Promise<void>((resolve) => (woken = resolve));
			await addFromAnotherProcess(fileOf(knex), 1, 0);
			await wake;
			expect(wakes.length).toBeGreaterThan(0);
		} finally {
			unwatch?.();
			await container.close();
		}
	});

	it("wakes for another connection's commit while its own commits keep the log changing", async () => {
		const knex = await sqlite.freshDatabase();
		const busy = new SqlContainer({ knex, notifyProbe: { intervalMs: TEN_MINUTES } });
		// Another connection to the same file (its own pool), which offers no channel.
		const other = new SqlContainer({ knex: { ...knex }, notify: false });
		await busy.migrate();
		await other.migrate();
		let woken = false;
		const unwatch = busy.watch?.((signal) => {
			if (signal.type === 'wake') woken = true;
		});
		try {
			// Own commits back to back: each changes the log, and the reads that follow find only own commits,
			// so the channel spaces them out (up to MAX_GAP_MS).
			let own = 0;
			const started = Date.now();
			const writing = (async () => {
				while (!woken && Date.now() - started < 5000) {
					await busy.add(records([{ id: `own-${own}`, item: own }]));
					own++;
				}
			})();
			await new Promise((resolve) => setTimeout(resolve, 300));
			expect(woken).toBe(false);
			await other.add(records([{ id: 'from-other', item: 0 }]));
			await writing;
			// Woken by the other connection's commit while still writing, not by the (ten-minute) safety wake-up.
			expect(woken).toBe(true);
			expect(Date.now() - started).toBeLessThan(5000);
		} finally {
			unwatch?.();
			await other.close();
			await busy.close();
		}
	});

	it('wakes on its own every notifyProbe.intervalMs, with no change, in case a change event was dropped', async () => {
		const knex = await sqlite.freshDatabase();
		const container = new SqlContainer({ knex, notifyProbe: { intervalMs: 100 } });
		await container.migrate();
		const signals: ContainerSignal[] = [];
		let two: () => void = () => undefined;
		const twice = new Promise<void>((resolve) => (two = resolve));
		const unwatch = container.watch?.((signal) => {
			signals.push(signal);
			if (signals.filter((s) => s.type === 'wake').length >= 2) two();
		});
		try {
			await twice;
			expect(signals.every((s) => s.type === 'wake')).toBe(true);
		} finally {
			unwatch?.();
			await container.close();
		}
	});

	it('offers no channel with notify: false (schedulers poll) nor on a database without a file', async () => {
		const off = new SqlContainer({ knex: await sqlite.freshDatabase(), notify: false });
		const memory = new SqlContainer({
			knex: { client: 'sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true },
		});
		expect(off.watch).toBeUndefined();
		expect(memory.watch).toBeUndefined();
		await off.close();
		await memory.close();
	});

	it('wakes a change follower (readChanges) on any commit instead of polling the change log', async () => {
		const knex = await sqlite.freshDatabase();
		const container = new SqlContainer({ knex, notifyProbe: { intervalMs: TEN_MINUTES } });
		await container.migrate();
		let reads = 0;
		container.knex.on('query', (query: { sql?: string }) => {
			if (/SELECT record, pos/.test(query.sql ?? '')) reads++;
		});
		const read = container.readChanges?.bind(container);
		if (read === undefined) throw new Error('SqlContainer has no readChanges');
		try {
			const start = await read({ after: null, limit: 100, waitMs: 0 });
			// Nothing commits for 400 ms: a waiting reader reads the change log once, then sleeps (before, it read it
			// every 100 ms).
			const waiting = read({ after: start.next, limit: 100, waitMs: 20_000 });
			await new Promise((resolve) => setTimeout(resolve, 400));
			expect(reads).toBe(1);
			// Another process's commit wakes it, with the change.
			const [id] = await addFromAnotherProcess(fileOf(knex), 1, 0);
			const page = await waiting;
			expect(page.changes.map((change) => [change.id, change.type])).toEqual([[id, 'added']]);
			// So does a commit of its own process.
			const own = read({ after: page.next, limit: 100, waitMs: 20_000 });
			await container.add(records([{ id: 'own', item: 1 }]));
			expect((await own).changes.map((change) => change.id)).toEqual(['own']);
		} finally {
			await container.close();
		}
	});
});
