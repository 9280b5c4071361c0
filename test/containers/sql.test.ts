import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { SqlContainer } from 'lightsched/containers/sql';
import { describeContainerContract } from '../contracts/container.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'lightsched-sql-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeContainerContract(
	'SqlContainer (SQLite)',
	() => new SqlContainer({ knex: { client: 'sqlite3', connection: { filename: join(dir, `c${++n}.db`) }, useNullAsDefault: true } }),
	{ priority: true, json: true },
);
