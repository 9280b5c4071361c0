/** Definitions checked at define (each error names definition, step and field), versions, loading files. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
	MemoryWorkflowStore,
	WorkflowDefinitionError,
	Workflows,
	type StepDefinition,
	type WorkflowDefinition,
} from 'lightsched/workflows';
import { gate, makeFlows, type FlowSetup } from './fixture.js';

const step = (id: string, more: Partial<StepDefinition> = {}): StepDefinition => ({ id, action: 'work', ...more });

describe('workflow definitions', () => {
	let setup: FlowSetup | undefined;
	afterEach(async () => {
		await setup?.close();
		setup = undefined;
	});

	const cases: [string, unknown, string][] = [
		[
			'a cycle',
			{
				name: 'd',
				steps: [
					step('a', { dependsOn: ['c'] }),
					step('b', { dependsOn: ['a'] }),
					step('c', { dependsOn: ['b'] }),
				],
			},
			'Workflow `d` step `a`: `dependsOn` makes a cycle: a -> b -> c -> a',
		],
		[
			'a self-dependency',
			{ name: 'd', steps: [step('a', { dependsOn: ['a'] })] },
			'Workflow `d` step `a`: `dependsOn[0]` names the step itself',
		],
		[
			'an unknown dependency',
			{ name: 'd', steps: [step('a'), step('b', { dependsOn: ['a', 'mastrs'] })] },
			'Workflow `d` step `b`: `dependsOn[1]` names an unknown step `mastrs`',
		],
		[
			'a duplicate step id',
			{ name: 'd', steps: [step('a'), step('a')] },
			'Workflow `d` step `a`: `steps[1].id` is a duplicate step id',
		],
		[
			// A run keeps its steps in an object by id: `steps['__proto__'] = …` would set its prototype instead.
			'a step id that names the prototype',
			{ name: 'd', steps: [step('__proto__')] },
			'Workflow `d`: `steps[0].id` must not be `__proto__` (a run keeps its steps by id in a JSON object)',
		],
		[
			'an unknown action',
			{ name: 'd', steps: [step('a', { action: 'wrok' })] },
			'Workflow `d` step `a`: `action` names an unknown action `wrok` (known: work)',
		],
		[
			'an unclosed template',
			{ name: 'd', steps: [step('a', { params: { x: ['ok', 'a {{vars.x'] } })] },
			'Workflow `d` step `a`: `params.x[1]` has `{{` without `}}` at offset 2',
		],
		[
			'a template of an unknown source',
			{ name: 'd', steps: [step('a', { params: { x: '{{env.HOME}}' } })] },
			'Workflow `d` step `a`: `params.x` has a bad template `{{env.HOME}}`: expected `{{vars.name}}` or `{{shared.key}}` (letters, digits, _ and -)',
		],
		[
			'a template of an undeclared var',
			{ name: 'd', vars: { region: {} }, steps: [step('a', { params: { x: '{{vars.regoin}}' } })] },
			"Workflow `d` step `a`: `params.x` names `{{vars.regoin}}`, which the definition's vars do not declare",
		],
		[
			'a misspelt step field',
			{ name: 'd', steps: [{ id: 'a', action: 'work', dependOn: ['x'] }] },
			'Workflow `d` step `a`: `dependOn` is not a step field (known: id, action, params, dependsOn, maxAttempts, timeoutMs, priority, skipOnFailed, preCheck)',
		],
		[
			'a bad pre-check op',
			{
				name: 'd',
				vars: { env: {} },
				steps: [
					step('a', {
						preCheck: [
							{ act: 'skip', when: [{ source: 'vars', key: 'env', op: 'eq' as 'in', values: [1] }] },
						],
					}),
				],
			},
			"Workflow `d` step `a`: `preCheck[0].when[0].op` must be 'in', 'not-in' or 'exists', got \"eq\"",
		],
		[
			'a bad maxAttempts',
			{ name: 'd', steps: [step('a', { maxAttempts: 0 })] },
			'Workflow `d` step `a`: `maxAttempts` must be an integer from 1 to 1000000, got 0',
		],
		['no steps', { name: 'd', steps: [] }, 'Workflow `d`: `steps` must be a non-empty array of steps, got []'],
		[
			'a bad name',
			{ name: 'has space', steps: [step('a')] },
			'Workflow `definition`: `name` must be 1 to 100 letters, digits, _, - or ., got "has space"',
		],
	];
	it.each(cases)('refuses %s, naming definition, step and field', (_what, definition, message) => {
		setup = makeFlows('QueueContainer', { work: () => null });
		const error = (() => {
			try {
				setup.flows.define(definition as WorkflowDefinition);
			} catch (e) {
				return e;
			}
			return undefined;
		})();
		expect(error).toBeInstanceOf(WorkflowDefinitionError);
		expect((error as Error).message).toBe(message);
		expect((error as WorkflowDefinitionError).code).toBe('ERR_INVALID_DEFINITION');
	});

	it('a version: the same version with another body is refused; a running run keeps the version it started with', async () => {
		const release = gate();
		const ran: string[] = [];
		setup = makeFlows('QueueContainer', {
			work: async (_p, ctx) => {
				ran.push(ctx.stepId);
				if (ctx.stepId === 'one') await release.promise;
			},
		});
		const { flows } = setup;
		expect(flows.define({ name: 'v', steps: [step('one'), step('two', { dependsOn: ['one'] })] })).toEqual({
			name: 'v',
			version: 1,
		});
		expect(() => flows.define({ name: 'v', steps: [step('one')] })).toThrow(
			'Workflow `v`: `version` 1 is defined already with a different body: give the changed definition a new version',
		);
		const old = await flows.start('v');
		flows.define({ name: 'v', version: 2, steps: [step('one'), step('three', { dependsOn: ['one'] })] });
		const newer = await flows.start('v');
		expect(newer.version).toBe(2);
		release.open();
		const oldDone = await flows.wait(old.id);
		expect(Object.keys(oldDone.steps)).toEqual(['one', 'two']);
		expect(oldDone.status).toBe('succeeded');
		expect((await flows.wait(newer.id)).steps.three?.status).toBe('succeeded');
		expect(ran.sort()).toEqual(['one', 'one', 'three', 'two']);
	});

	it('concurrent starts store a definition version once; a failed write is tried again by the next start', async () => {
		const store = new MemoryWorkflowStore();
		const put = store.putDefinition.bind(store);
		let puts = 0;
		let failNext = true;
		store.putDefinition = async (definition) => {
			puts++;
			await new Promise((resolve) => setTimeout(resolve, 5));
			if (failNext) {
				failNext = false;
				throw new Error('store down');
			}
			return put(definition);
		};
		setup = makeFlows('QueueContainer', { work: () => null }, { store });
		const { flows } = setup;
		flows.define({ name: 'once', steps: [step('a')] });
		// The first batch shares one failed write; the second shares one write that lands; later starts write nothing.
		const first = await Promise.allSettled(Array.from({ length: 5 }, () => flows.start('once')));
		expect(first.map((r) => r.status)).toEqual(Array(5).fill('rejected'));
		expect(puts).toBe(1);
		const runs = await Promise.all(Array.from({ length: 20 }, () => flows.start('once')));
		await flows.start('once');
		expect(puts).toBe(2);
		expect(new Set(runs.map((r) => r.id)).size).toBe(20);
		for (const run of runs) expect((await flows.wait(run.id)).status).toBe('succeeded');
	});

	it('Workflows refuses misspelt options, bad actions, and actions attached to another store', async () => {
		setup = makeFlows('QueueContainer', { work: () => null });
		const { scheduler, actions, store } = setup;
		expect(() => new Workflows({ scheduler, actions, sweepMS: 10 } as never)).toThrow(
			'Unknown option `sweepMS` of Workflows: did you mean `sweepMs`?',
		);
		expect(() => new Workflows({ scheduler, actions: { build: 'docker' } as never })).toThrow(
			'Expected `actions` of Workflows to be workflowActions({...}) or an object of item builders by action name',
		);
		expect(() => new Workflows({ scheduler, actions, store: new MemoryWorkflowStore() })).toThrow(
			'These workflowActions are attached to another store already: make one set per store',
		);
		expect(() => new Workflows({ scheduler, actions, store, sweepMs: 0 })).toThrow(
			'Expected `sweepMs` to be an integer from 10 to 2147483647 (milliseconds), got 0',
		);
	});

	it('start refuses undeclared vars and unknown definitions', async () => {
		setup = makeFlows('QueueContainer', { work: () => null });
		const { flows } = setup;
		flows.define({ name: 'x', vars: { region: { default: 'eu' } }, steps: [step('a')] });
		await expect(flows.start('x', { vars: { regoin: 'us' } })).rejects.toThrow(
			'Workflow `x`: `vars.regoin` is not declared (declared: region)',
		);
		await expect(flows.start('y')).rejects.toThrow('Workflow `y`: `name` is not defined (defined: x)');
	});

	it('loads YAML and JSON files by pattern; an error names the file', async () => {
		setup = makeFlows('QueueContainer', { work: (params) => params });
		const dir = mkdtempSync(join(tmpdir(), 'lightsched-flows-'));
		writeFileSync(
			join(dir, 'a.yaml'),
			'name: from-yaml\nvars:\n  who: { default: world }\nsteps:\n  - id: hello\n    action: work\n    params: { greeting: "hi {{vars.who}}" }\n',
		);
		writeFileSync(
			join(dir, 'b.json'),
			JSON.stringify([{ name: 'from-json', steps: [{ id: 's', action: 'work' }] }]),
		);
		writeFileSync(join(dir, 'bad.yml'), 'name: broken\nsteps:\n  - id: s\n    action: nope\n');
		const { flows } = setup;
		expect(await flows.load([join(dir, '*.yaml'), join(dir, 'b.json')])).toEqual([
			{ name: 'from-yaml', version: 1 },
			{ name: 'from-json', version: 1 },
		]);
		const done = await flows.wait((await flows.start('from-yaml')).id);
		expect(done.steps.hello?.output).toEqual({ greeting: 'hi world' });
		await expect(flows.load(join(dir, '*.yml'))).rejects.toThrow(
			`Workflow \`broken\` in \`${join(dir, 'bad.yml')}\` step \`s\`: \`action\` names an unknown action \`nope\` (known: work)`,
		);
		await expect(flows.load(join(dir, '*.toml'))).rejects.toThrow('matches no file');
	});
});
