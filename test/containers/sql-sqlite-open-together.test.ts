/**
 * Processes starting together on a new SQLite file: each connection switches the file to WAL, a lock SQLite does
 * not wait for with the busy timeout. Before `applySqlitePragmas` retried it, about 1 connection in 200 failed at
 * once with SQLITE_BUSY ("database is locked"), so a process could fail to start.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openKnex } from '../../containers/sql/connection.js';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-open-together-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(['sqlite3', 'better-sqlite3'] as const)('SQLite connections opened together (%s)', (client) => {
	it('every one of 16 connections on a new file opens, 100 times over', async () => {
		const failures: string[] = [];
		for (let trial = 0; trial < 100; trial++) {
			const filename = join(dir, `${client}-${trial}.sqlite`);
			const connections = Array.from(
				{ length: 16 },
				() =>
					openKnex({ client, connection: { filename } }, { busyTimeoutMs: 5_000, synchronous: 'NORMAL' })
						.knex,
			);
			const outcomes = await Promise.allSettled(connections.map((knex) => knex.raw('PRAGMA journal_mode')));
			for (const outcome of outcomes) if (outcome.status === 'rejected') failures.push(String(outcome.reason));
			for (const outcome of outcomes)
				if (outcome.status === 'fulfilled') expect(JSON.stringify(outcome.value)).toContain('wal');
			await Promise.all(connections.map((knex) => knex.destroy()));
		}
		expect(failures).toEqual([]);
	}, 60_000);
});
