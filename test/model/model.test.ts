/**
 * The model-based test: random sequences of add, claim, transition (the moves of src/task-moves.ts, with right
 * and wrong status and owner), renew, clock advances, reclaimExpired, requestStop, remove and reads, from three
 * owners, run against every container and against the reference model (model.ts), every result and every stored
 * record compared (runner.ts). A difference fails with the shrunk sequence, printed step by step.
 *
 * Bounded in `npm test`. Longer on demand (see docs/internals/state-machine.md):
 *   MODEL_RUNS=2000 npx vitest run test/model/model.test.ts
 * MODEL_RUNS (sequences per container), MODEL_LENGTH (most commands per sequence, default 30), MODEL_SEED (replay
 * a seed fast-check printed), MODEL_CONTAINERS (a comma-separated subset of the set-up names, e.g. `queue,redis`),
 * MODEL_REDIS_CLAIM_AHEAD=1 (leave Redis's claim-ahead on), MODEL_SQL_CLAIM_AHEAD=1 (leave PostgreSQL's on),
 * MODEL_RENEW_ANY=1 (only the pass whose renews may leave out tasks their owner holds, full count; see `passes`).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { command } from './commands.js';
import { runAgainstModel } from './runner.js';
import { SETUP_NAMES, startSetups, type SetupName, type Setups } from './setups.js';

/** Sequences per container in `npm test`: enough to cover every move in a few seconds per container. */
const DEFAULT_RUNS: Record<SetupName, number> = {
	queue: 150,
	'ordered-map': 150,
	'queue(sync)': 150,
	'ordered-map(sync)': 150,
	sqlite: 20,
	'sqlite(better-sqlite3)': 20,
	postgres: 12,
	redis: 30,
	'redis(per-owner)': 15,
	'combined(queue+sqlite)': 15,
	'combined(ordered-map+sqlite)': 15,
};

const env = process.env;
const runsOverride = env['MODEL_RUNS'] === undefined ? undefined : Number(env['MODEL_RUNS']);
const maxLength = Number(env['MODEL_LENGTH'] ?? 30);
const seed = env['MODEL_SEED'] === undefined ? undefined : Number(env['MODEL_SEED']);
const only = env['MODEL_CONTAINERS']?.split(',').map((name) => name.trim()) as SetupName[] | undefined;
for (const name of only ?? [])
	if (!SETUP_NAMES.includes(name))
		throw new Error(`MODEL_CONTAINERS: unknown set-up \`${name}\` (known: ${SETUP_NAMES.join(', ')})`);
if (runsOverride !== undefined && !(Number.isInteger(runsOverride) && runsOverride > 0))
	throw new Error('MODEL_RUNS: expected a positive integer');

const names = only ?? SETUP_NAMES;
let setups: Setups;
beforeAll(async () => {
	setups = await startSetups(names, {
		redisClaimAhead: env['MODEL_REDIS_CLAIM_AHEAD'] === '1',
		sqlClaimAhead: env['MODEL_SQL_CLAIM_AHEAD'] === '1',
	});
});
afterAll(() => setups?.stop());

/** A day ahead of the real clock: every container sees due times the caller sets as ahead of its own clock too. */
const clockStart = (): number => Math.floor(Date.now() / 1_000) * 1_000 + 86_400_000;

/**
 * The passes of `npm test`: the main one, and a shorter one whose renews may leave out tasks their owner holds
 * (which must come back as `unknown`: it found two Redis bugs, test/model/regressions.test.ts). MODEL_RENEW_ANY=1
 * runs only the latter, with the full count.
 */
const passes: { renewAny: boolean; share: number; title: string }[] =
	env['MODEL_RENEW_ANY'] === '1'
		? [{ renewAny: true, share: 1, title: 'renews naming any tasks' }]
		: [
				{ renewAny: false, share: 1, title: 'renews naming their own tasks' },
				{ renewAny: true, share: 1 / 3, title: 'renews naming any tasks' },
			];

describe('every container follows the reference model of the state machine', () => {
	for (const pass of passes)
		for (const name of names) {
			const runs = runsOverride ?? Math.max(5, Math.ceil(DEFAULT_RUNS[name] * pass.share));
			it(
				`${name}, ${pass.title} (${runs} sequences of up to ${maxLength} commands)`,
				{ timeout: 120_000 + runs * 2_000 },
				async () => {
					const setup = setups.all.find((s) => s.name === name);
					if (setup === undefined) throw new Error(`no set-up ${name}`);
					await fc.assert(
						fc.asyncProperty(fc.array(command, { maxLength, size: 'max' }), async (commands) => {
							const container = await setup.make();
							try {
								await runAgainstModel(container, commands, {
									priority: setup.priority,
									start: clockStart(),
									renewAnyIds: pass.renewAny,
									getEach: name.startsWith('combined') || !/sql|postgres|redis/.test(name),
								});
							} finally {
								await container.close();
							}
						}),
						{ numRuns: runs, ...(seed === undefined ? {} : { seed }) },
					);
				},
			);
		}
});
