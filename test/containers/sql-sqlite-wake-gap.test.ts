/**
 * SQLite's wake-up channel (containers/sql/file-watch.ts) between its own commits: after a change of the
 * write-ahead log the channel waits a gap before looking again (its own commits would otherwise cost a read each),
 * but a change that comes while this process's connection is settled (not taken, given back two turns of the event
 * loop ago) is another process's commit, and is read at once. The gap's timers are held still here (fake timers), so only the cut can let the read through.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import knexModule from 'knex';
import type { ContainerSignal } from 'lightsched';
import { SqlContainer } from 'lightsched/containers/sql';
import { connectionActivity } from '../../containers/sql/connection-activity.js';
import { FileWakeChannel } from '../../containers/sql/file-watch.js';

const realTimeout = globalThis.setTimeout;
const pause = (ms: number): Promise<void> => new Promise((resolve) => realTimeout(resolve, ms));

/** Wait (real time, at most 5 s) until `done()` holds. */
async function until(done: () => boolean, what: string): Promise<void> {
	for (let waited = 0; !done(); waited += 10) {
		if (waited > 5_000) throw new Error(`timed out waiting until ${what}`);
		await pause(10);
	}
}

describe('SQLite wake-up channel: the gap after own commits', () => {
	const dirs: string[] = [];
	afterEach(() => {
		vi.useRealTimers();
		for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
	});

	/** A channel on a file of a fresh folder, `data_version` and whether the connection is settled given by the test. */
	function channel(): {
		wal: string;
		state: { version: number; settled: boolean; reads: number };
		wakes: ContainerSignal[];
		channel: FileWakeChannel;
	} {
		const dir = mkdtempSync(join(tmpdir(), 'lightsched-wake-gap-'));
		dirs.push(dir);
		const file = join(dir, 'tasks.db');
		const wal = `${file}-wal`;
		writeFileSync(wal, '');
		const state = { version: 0, settled: false, reads: 0 };
		const wakes: ContainerSignal[] = [];
		const made = new FileWakeChannel({
			file,
			emit: (signal) => wakes.push(signal),
			safetyMs: 600_000,
			version: async () => {
				state.reads++;
				return state.version;
			},
			settled: () => state.settled,
		});
		return { wal, state, wakes, channel: made };
	}

	it('reads a change that comes while the connection is settled at once, without waiting out the gap', async () => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
		const { wal, state, wakes, channel: c } = channel();
		c.start();
		try {
			await until(() => state.reads === 1, 'the first version is read');
			// Own commits: the log changes while the connection is in use; the read finds no other connection's.
			appendFileSync(wal, 'own');
			await until(() => state.reads === 2, 'the change is read');
			appendFileSync(wal, 'own');
			await pause(100);
			// The second own change waits for the gap (its timer held still).
			expect(state.reads).toBe(2);
			expect(wakes).toEqual([]);
			// Another process commits while this one's connection is settled: read and woken without the gap's end.
			state.version = 1;
			state.settled = true;
			appendFileSync(wal, 'other');
			await until(() => wakes.length > 0, 'the channel wakes');
			expect(wakes).toEqual([{ type: 'wake' }]);
			expect(state.reads).toBe(3);
		} finally {
			c.close();
		}
	});

	it('waits out the gap for a change that comes while the connection is in use (it may be its own commit)', async () => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
		const { wal, state, wakes, channel: c } = channel();
		c.start();
		try {
			await until(() => state.reads === 1, 'the first version is read');
			appendFileSync(wal, 'own');
			await until(() => state.reads === 2, 'the change is read');
			state.version = 1;
			appendFileSync(wal, 'other');
			await pause(100);
			expect(state.reads).toBe(2);
			// The gap ends: the change is read, and it was another connection's.
			vi.advanceTimersByTime(1_000);
			await until(() => wakes.length > 0, 'the channel wakes');
			expect(state.reads).toBe(3);
		} finally {
			c.close();
		}
	});

	it("wakes for a commit that shows only after its log's last change (read once more after a quiet gap)", async () => {
		const { wal, state, wakes, channel: c } = channel();
		c.start();
		try {
			await until(() => state.reads === 1, 'the first version is read');
			// Another process writes its commit's frames (the log changes) but has not marked it committed yet: the
			// read that follows finds nothing new; the commit shows a moment later, with no further change of the log.
			appendFileSync(wal, 'frames');
			await until(() => state.reads === 2, 'the change is read');
			expect(wakes).toEqual([]);
			state.version = 1;
			await until(() => wakes.length > 0, 'the channel wakes');
			expect(wakes).toEqual([{ type: 'wake' }]);
		} finally {
			c.close();
		}
	});

	it('counts the connection of a knex instance the container made: taken in a transaction, settled after', async () => {
		const dir = mkdtempSync(join(tmpdir(), 'lightsched-wake-gap-'));
		dirs.push(dir);
		const connection = { filename: join(dir, 'tasks.db') };
		const container = new SqlContainer({ knex: { client: 'sqlite3', connection, useNullAsDefault: true } });
		const theirs = knexModule({ client: 'sqlite3', connection, useNullAsDefault: true });
		const mine = new SqlContainer({ knex: theirs });
		try {
			await container.migrate();
			const activity = connectionActivity(container.knex);
			expect(activity).not.toBeNull();
			await container.knex.transaction(async (trx) => {
				expect(activity?.settled()).toBe(false);
				await trx.raw('SELECT 1');
				expect(activity?.settled()).toBe(false);
			});
			// Given back: settled two turns of the event loop later (an own commit's change comes before).
			expect(activity?.settled()).toBe(false);
			await new Promise((resolve) => setImmediate(resolve));
			await new Promise((resolve) => setImmediate(resolve));
			await new Promise((resolve) => setImmediate(resolve));
			expect(activity?.settled()).toBe(true);
			// The caller's own instance is left as it is: its use is not counted.
			expect(connectionActivity(mine.knex)).toBeNull();
		} finally {
			await mine.close();
			await theirs.destroy();
			await container.close();
		}
	});
});
