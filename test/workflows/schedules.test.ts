/**
 * Scheduled runs on the memory store, in real time: two `Workflows` on one store (two processes' views) declaring
 * the same schedule make one run per tick, `schedule:<key>:<tick>`; `unschedule` and `close` stop the timers;
 * `missed: 'once'` starts the latest tick once however many declare it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryWorkflowStore, type RunRecord, type Workflows } from 'lightsched/workflows';
import { latestTick } from '../../workflows/schedules.js';
import { makeFlows, until, type FlowSetup } from './fixture.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('flows.schedule', () => {
	let setup: FlowSetup | undefined;
	afterEach(async () => {
		await setup?.close();
		setup = undefined;
	});

	function nightly(store = new MemoryWorkflowStore()): FlowSetup {
		setup = makeFlows('QueueContainer', { echo: (params) => ({ got: params.region }) }, { store });
		return setup;
	}

	function define(flows: Workflows): void {
		flows.define({
			name: 'create-cluster',
			vars: { region: { default: 'eu' } },
			steps: [{ id: 'create', action: 'echo', params: { region: '{{vars.region}}' } }],
		});
	}

	async function scheduled(flows: Workflows, key: string): Promise<RunRecord[]> {
		const { runs } = await flows.list({ definition: 'create-cluster', limit: 1000 });
		return runs.filter((run) => run.id.startsWith(`schedule:${key}:`));
	}

	function tickOf(run: RunRecord, key: string): number {
		return Number(run.id.slice(`schedule:${key}:`.length));
	}

	it('two Workflows on one store declaring the same schedule make one run per tick, with the vars', async () => {
		const { flows, another } = nightly();
		const other = another();
		const created: string[] = [];
		const errors: Error[] = [];
		for (const f of [flows, other]) {
			define(f);
			f.on('run:created', ({ run }) => created.push(run.id));
			f.on('error', (error) => errors.push(error));
		}
		const declared = Date.now();
		const options = { key: 'nightly', definition: 'create-cluster', every: 200, vars: { region: 'us' } };
		const info = flows.schedule(options);
		other.schedule(options);
		expect(info).toMatchObject({ key: 'nightly', definition: 'create-cluster', every: 200, missed: 'skip' });
		expect((info.nextRunAt as number) % 200).toBe(0);
		expect(info.nextRunAt).toBeGreaterThan(declared);
		expect(info.nextRunAt).toBeLessThanOrEqual(Date.now() + 200);
		await until(async () => (await scheduled(flows, 'nightly')).length >= 4, 5000, 'four ticks');
		flows.unschedule('nightly');
		other.unschedule('nightly');
		await sleep(50);
		const runs = await scheduled(flows, 'nightly');
		const ticks = runs.map((run) => tickOf(run, 'nightly'));
		// Each tick is a multiple of `every` after the declare; each run was created once (one process won it).
		for (const tick of ticks) {
			expect(tick % 200).toBe(0);
			expect(tick).toBeGreaterThan(declared);
		}
		expect(new Set(ticks).size).toBe(runs.length);
		expect(created.filter((id) => id.startsWith('schedule:nightly:')).sort()).toEqual(runs.map((r) => r.id).sort());
		expect(errors).toEqual([]);
		for (const run of runs) {
			expect(run.vars).toEqual({ region: 'us' });
			expect((await flows.wait(run.id, { timeoutMs: 3000 })).steps.create?.output).toEqual({ got: 'us' });
		}
		// `unschedule` stopped both timers.
		await sleep(500);
		expect(await scheduled(flows, 'nightly')).toHaveLength(runs.length);
		expect(flows.schedules()).toEqual([]);
	});

	it('lists this process’s schedules with their next tick; close clears the timers', async () => {
		const { flows, another } = nightly();
		const other = another();
		define(flows);
		define(other);
		other.schedule({ key: 'often', definition: 'create-cluster', every: 100, runKey: 'often', unique: false });
		expect(other.schedules()).toEqual([
			expect.objectContaining({ key: 'often', every: 100, runKey: 'often', nextRunAt: expect.any(Number) }),
		]);
		expect(flows.schedules()).toEqual([]);
		await until(async () => (await scheduled(flows, 'often')).length >= 1, 3000, 'a tick');
		await other.close();
		await sleep(50);
		const before = (await scheduled(flows, 'often')).length;
		await sleep(400);
		expect(await scheduled(flows, 'often')).toHaveLength(before);
		expect((await scheduled(flows, 'often'))[0]?.key).toBe('often');
	});

	it("missed: 'once' starts the latest tick when declared, once however many declare it; 'skip' does not", async () => {
		const { flows, another } = nightly();
		const others = [another(), another()];
		for (const f of [flows, ...others]) define(f);
		const now = Date.now();
		const minute = 60_000;
		for (const f of others)
			f.schedule({ key: 'hourly', definition: 'create-cluster', every: minute, missed: 'once' });
		flows.schedule({ key: 'skipped', definition: 'create-cluster', every: minute, missed: 'skip' });
		await until(async () => (await scheduled(flows, 'hourly')).length >= 1, 3000, 'the missed tick');
		await sleep(100);
		const runs = await scheduled(flows, 'hourly');
		// The latest tick at the declare (a minute's start, unless a minute began between `now` and the declare).
		expect(runs).toHaveLength(1);
		expect(tickOf(runs[0] as RunRecord, 'hourly') % minute).toBe(0);
		expect(tickOf(runs[0] as RunRecord, 'hourly')).toBeGreaterThanOrEqual(Math.floor(now / minute) * minute);
		expect(tickOf(runs[0] as RunRecord, 'hourly')).toBeLessThanOrEqual(Date.now());
		expect(await scheduled(flows, 'skipped')).toEqual([]);
		// Declared again (a restart): the tick's run exists, so nothing new.
		others[0]?.schedule({ key: 'hourly', definition: 'create-cluster', every: minute, missed: 'once' });
		await sleep(100);
		expect(await scheduled(flows, 'hourly')).toHaveLength(1);
	});

	it('a cron schedule ticks at whole seconds in its time zone', async () => {
		const { flows } = nightly();
		define(flows);
		flows.schedule({ key: 'secondly', definition: 'create-cluster', cron: '* * * * * *', tz: 'Europe/Paris' });
		await until(async () => (await scheduled(flows, 'secondly')).length >= 1, 3000, 'a cron tick');
		flows.unschedule('secondly');
		const [run] = await scheduled(flows, 'secondly');
		expect(tickOf(run as RunRecord, 'secondly') % 1000).toBe(0);
	});

	it('a tick whose start fails is an error event, and the next tick still comes', async () => {
		const store = new MemoryWorkflowStore();
		const create = store.create.bind(store);
		let failures = 1;
		store.create = async (run) => {
			if (run.id.startsWith('schedule:') && failures-- > 0) throw new Error('store down');
			return create(run);
		};
		const { flows } = nightly(store);
		define(flows);
		const errors: Error[] = [];
		flows.on('error', (error) => errors.push(error));
		flows.schedule({ key: 'flaky', definition: 'create-cluster', every: 150 });
		await until(async () => (await scheduled(flows, 'flaky')).length >= 1, 3000, 'a tick after the failure');
		expect(errors.map((e) => e.message)).toEqual(['store down']);
	});

	it("waits beyond setTimeout's limit without firing early", async () => {
		const { flows } = nightly();
		define(flows);
		const every = 2 ** 40; // the next tick years away, beyond 2^31 - 1 ms
		const info = flows.schedule({ key: 'rare', definition: 'create-cluster', every });
		expect(info.nextRunAt).toBe(Math.floor(Date.now() / every) * every + every);
		await sleep(200);
		expect(await scheduled(flows, 'rare')).toEqual([]);
	});

	it('refuses bad input with a TypeError naming the field', () => {
		const { flows } = nightly();
		define(flows);
		const base = { key: 'k', definition: 'create-cluster', every: 1000 };
		expect(() => flows.schedule({ ...base, every: 5 })).toThrow(/`every`/);
		expect(() => flows.schedule({ ...base, cron: '0 3 * * *' })).toThrow(/exactly one of `every`/);
		expect(() => flows.schedule({ key: 'k', definition: 'create-cluster', cron: 'nope' })).toThrow(/`cron`/);
		expect(() =>
			flows.schedule({ key: 'k', definition: 'create-cluster', cron: '0 3 * * *', tz: 'Mars/Olympus' }),
		).toThrow(/`tz`/);
		expect(() => flows.schedule({ ...base, key: '' })).toThrow(/`key`/);
		expect(() => flows.schedule({ ...base, definition: 'nope' })).toThrow(/Workflow `nope`: `name` is not defined/);
		expect(() => flows.schedule({ ...base, vars: { other: 1 } })).toThrow(/other/);
		expect(() => flows.schedule({ ...base, unique: true })).toThrow(/`unique` needs a `runKey`/);
		expect(() => flows.schedule({ ...base, runKey: '' })).toThrow(/`runKey`/);
		expect(() => flows.schedule({ ...base, missed: 'all' as 'once' })).toThrow(/`missed`/);
		expect(() => flows.schedule({ ...base, item: 1 } as typeof base)).toThrow(/item/);
		expect(() => flows.schedule({ ...base, version: 9 })).toThrow(/9/);
		expect(flows.schedules()).toEqual([]);
	});

	it("finds the latest tick for missed: 'once' with the repeat rules, within a day", () => {
		const noon = Date.parse('2026-12-06T12:00:00Z');
		const paris = { key: 'k', cron: '0 3 * * *', tz: 'Europe/Paris', item: null };
		expect(latestTick(paris, noon)).toBe(Date.parse('2026-12-06T02:00:00Z'));
		expect(latestTick({ key: 'k', cron: '* * * * * *', item: null }, noon + 1500)).toBe(noon + 1000);
		expect(latestTick({ key: 'k', every: 7000, item: null }, noon)).toBe(Math.floor(noon / 7000) * 7000);
		// A tick on the hour exactly is the latest at that time; a weekly tick six days back is beyond the day.
		expect(latestTick({ key: 'k', cron: '0 * * * *', item: null }, noon)).toBe(noon);
		expect(latestTick({ key: 'k', cron: '0 12 * * 1', tz: 'UTC', item: null }, noon)).toBeNull();
	});
});
