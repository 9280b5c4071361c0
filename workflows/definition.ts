/**
 * Workflow definitions: their shape, and the checks made when one is defined (in code or loaded from a file).
 * Each problem is a `WorkflowDefinitionError` naming the definition, the step and the field.
 */
import type { RunRecord } from '../src/workflow-store.js';
import { findJsonProblem } from 'lightsched/kit';
import { WorkflowDefinitionError } from './errors.js';
import type { GateCondition, PreCheck } from './gates.js';
import { findTemplates } from './template.js';

/** A variable of a definition: the value a run gets when `start` gives none. */
export interface VarDefinition {
	/** The value when `start` gives none; a var without one is missing unless `start` gives it. */
	readonly default?: unknown;
	/** What the variable is for. */
	readonly description?: string;
}

/** One step: an action run as a task, after the steps it depends on. */
export interface StepDefinition {
	/** Unique within the definition: letters, digits, `_`, `-` and `.`. */
	readonly id: string;
	/** The action's name; the `actions` given to `Workflows` must know it. */
	readonly action: string;
	/** The action's params (JSON); strings may hold `{{vars.x}}` and `{{shared.key}}`, rendered when the step starts. */
	readonly params?: Readonly<Record<string, unknown>>;
	/** The steps that must succeed (or be skipped) before this one starts. */
	readonly dependsOn?: readonly string[];
	/** The step task's attempts in all (the scheduler's default when absent). */
	readonly maxAttempts?: number;
	/** The step task's timeout per attempt, in milliseconds (the scheduler's default when absent; 0 = none). */
	readonly timeoutMs?: number;
	/** The step task's priority. */
	readonly priority?: number;
	/** When the step fails for good, it counts as skipped and the run goes on. */
	readonly skipOnFailed?: boolean;
	/** Gates evaluated in order when the step could start; the first match wins. */
	readonly preCheck?: readonly PreCheck[];
}

/** What `Workflows.define` takes. */
export interface WorkflowDefinition {
	/** The definition's name: letters, digits, `_`, `-` and `.`. */
	readonly name: string;
	/**
	 * A positive integer. Runs keep the version they started with. Changing a definition means a new version: a
	 * different body under a version already stored is refused when a run starts.
	 * @default 1
	 */
	readonly version?: number;
	/** What the workflow does. */
	readonly description?: string;
	/** The variables its templates and gates may read. */
	readonly vars?: Readonly<Record<string, VarDefinition>>;
	/** A run still unfinished this long after it started fails with `ERR_RUN_DEADLINE`. */
	readonly deadlineMs?: number;
	/** The steps. */
	readonly steps: readonly StepDefinition[];
	/**
	 * Called once each time a run of this definition reaches a final status (at least once across a crash). A
	 * throw is reported on the `error` event; the run keeps its status. Code definitions only.
	 */
	readonly onFinished?: (run: RunRecord) => void | Promise<void>;
}

/** A checked definition: the JSON body the store keeps, and what the engine derives from it. */
export interface CheckedDefinition {
	/** The definition's name. */
	readonly name: string;
	/** Its version. */
	readonly version: number;
	/** The JSON body (everything but `onFinished`). */
	readonly body: DefinitionBody;
	/** The steps in a dependency order (each after the steps it depends on). */
	readonly order: readonly string[];
	/** Each step's definition, by id. */
	readonly steps: ReadonlyMap<string, StepDefinition>;
	/** The steps that depend on each step directly. */
	readonly dependents: ReadonlyMap<string, readonly string[]>;
	/** The callback, when the definition was defined in this process with one. */
	readonly onFinished: WorkflowDefinition['onFinished'];
}

/** The stored form of a definition. */
export type DefinitionBody = Omit<WorkflowDefinition, 'onFinished'> & { readonly version: number };

const NAME = /^[A-Za-z0-9_.-]{1,100}$/;
const DEFINITION_KEYS = ['name', 'version', 'description', 'vars', 'deadlineMs', 'steps', 'onFinished'];
const STEP_KEYS = [
	'id',
	'action',
	'params',
	'dependsOn',
	'maxAttempts',
	'timeoutMs',
	'priority',
	'skipOnFailed',
	'preCheck',
];
const CHECK_KEYS = ['name', 'act', 'when'];
const CONDITION_KEYS = ['source', 'key', 'op', 'values'];
const MAX_MS = 2_147_483_647;

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
	if (value === undefined) return 'undefined';
	try {
		const text = JSON.stringify(value);
		return text.length > 60 ? `${text.slice(0, 60)}…` : text;
	} catch {
		return String(value);
	}
}

/** Check a definition against the known action names; returns its checked form or throws `WorkflowDefinitionError`. */
export function checkDefinition(
	input: WorkflowDefinition,
	actionNames: ReadonlySet<string> | null,
	label = 'definition',
): CheckedDefinition {
	if (!isObject(input))
		throw new WorkflowDefinitionError(
			label,
			undefined,
			label,
			`must be an object like { name, steps }, got ${describe(input)}`,
		);
	const name = typeof input.name === 'string' && NAME.test(input.name) ? input.name : undefined;
	const fail = (step: string | undefined, field: string, problem: string): never => {
		throw new WorkflowDefinitionError(name ?? label, step, field, problem);
	};
	if (name === undefined)
		fail(undefined, 'name', `must be 1 to 100 letters, digits, _, - or ., got ${describe(input.name)}`);
	for (const key of Object.keys(input))
		if (!DEFINITION_KEYS.includes(key))
			fail(undefined, key, `is not a definition field (known: ${DEFINITION_KEYS.join(', ')})`);
	const version = input.version ?? 1;
	if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1)
		fail(undefined, 'version', `must be a positive integer, got ${describe(input.version)}`);
	if (input.description !== undefined && typeof input.description !== 'string')
		fail(undefined, 'description', `must be a string, got ${describe(input.description)}`);
	if (
		input.deadlineMs !== undefined &&
		(typeof input.deadlineMs !== 'number' ||
			!Number.isInteger(input.deadlineMs) ||
			input.deadlineMs < 1 ||
			input.deadlineMs > MAX_MS)
	) {
		fail(
			undefined,
			'deadlineMs',
			`must be an integer from 1 to ${MAX_MS} (milliseconds), got ${describe(input.deadlineMs)}`,
		);
	}
	if (input.onFinished !== undefined && typeof input.onFinished !== 'function')
		fail(undefined, 'onFinished', `must be a function, got ${describe(input.onFinished)}`);
	const vars = input.vars ?? {};
	if (!isObject(vars))
		fail(undefined, 'vars', `must be an object of { default?, description? }, got ${describe(input.vars)}`);
	for (const [varName, spec] of Object.entries(vars)) {
		if (!/^[A-Za-z0-9_-]+$/.test(varName))
			fail(undefined, `vars.${varName}`, 'must be named with letters, digits, _ and -');
		if (!isObject(spec))
			fail(undefined, `vars.${varName}`, `must be an object like { default: 3 }, got ${describe(spec)}`);
		for (const key of Object.keys(spec))
			if (key !== 'default' && key !== 'description')
				fail(undefined, `vars.${varName}.${key}`, 'is not a var field (known: default, description)');
		if (spec.default !== undefined) {
			const problem = findJsonProblem(spec.default);
			if (problem !== null)
				fail(undefined, `vars.${varName}.default${problem.path}`, `must be JSON: ${problem.hint}`);
		}
	}
	if (!Array.isArray(input.steps) || input.steps.length === 0)
		fail(undefined, 'steps', `must be a non-empty array of steps, got ${describe(input.steps)}`);
	const steps = new Map<string, StepDefinition>();
	input.steps.forEach((step, i) => {
		const field = `steps[${i}]`;
		if (!isObject(step)) fail(undefined, field, `must be an object like { id, action }, got ${describe(step)}`);
		const id = step.id;
		if (typeof id !== 'string' || !NAME.test(id))
			fail(undefined, `${field}.id`, `must be 1 to 100 letters, digits, _, - or ., got ${describe(id)}`);
		if (id === '__proto__')
			fail(undefined, `${field}.id`, 'must not be `__proto__` (a run keeps its steps by id in a JSON object)');
		if (steps.has(id)) fail(id, `${field}.id`, 'is a duplicate step id');
		for (const key of Object.keys(step))
			if (!STEP_KEYS.includes(key)) fail(id, key, `is not a step field (known: ${STEP_KEYS.join(', ')})`);
		if (typeof step.action !== 'string' || step.action === '')
			fail(id, 'action', `must be an action name, got ${describe(step.action)}`);
		if (actionNames !== null && !actionNames.has(step.action)) {
			fail(
				id,
				'action',
				`names an unknown action \`${step.action}\` (known: ${[...actionNames].join(', ') || 'none'})`,
			);
		}
		if (step.params !== undefined) {
			if (!isObject(step.params)) fail(id, 'params', `must be an object, got ${describe(step.params)}`);
			const problem = findJsonProblem(step.params);
			if (problem !== null) fail(id, `params${problem.path}`, `must be JSON: ${problem.hint}`);
			let refs: ReturnType<typeof findTemplates> = [];
			try {
				refs = findTemplates(step.params, 'params');
			} catch (bad) {
				const { field: where, message } = bad as { field: string; message: string };
				fail(id, where, message);
			}
			for (const { field: where, ref } of refs) {
				if (ref.source === 'vars' && !Object.prototype.hasOwnProperty.call(vars, ref.key)) {
					fail(id, where, `names \`{{vars.${ref.key}}}\`, which the definition's vars do not declare`);
				}
			}
		}
		if (
			step.dependsOn !== undefined &&
			(!Array.isArray(step.dependsOn) || step.dependsOn.some((d) => typeof d !== 'string'))
		) {
			fail(id, 'dependsOn', `must be an array of step ids, got ${describe(step.dependsOn)}`);
		}
		if (
			step.maxAttempts !== undefined &&
			(!Number.isInteger(step.maxAttempts) || step.maxAttempts < 1 || step.maxAttempts > 1_000_000)
		) {
			fail(id, 'maxAttempts', `must be an integer from 1 to 1000000, got ${describe(step.maxAttempts)}`);
		}
		if (
			step.timeoutMs !== undefined &&
			(!Number.isInteger(step.timeoutMs) || step.timeoutMs < 0 || step.timeoutMs > MAX_MS)
		) {
			fail(
				id,
				'timeoutMs',
				`must be an integer from 0 to ${MAX_MS} (0 = no timeout), got ${describe(step.timeoutMs)}`,
			);
		}
		if (step.priority !== undefined && !Number.isSafeInteger(step.priority))
			fail(id, 'priority', `must be a safe integer, got ${describe(step.priority)}`);
		if (step.skipOnFailed !== undefined && typeof step.skipOnFailed !== 'boolean')
			fail(id, 'skipOnFailed', `must be a boolean, got ${describe(step.skipOnFailed)}`);
		if (step.preCheck !== undefined)
			checkPreChecks(step.preCheck, vars, (where, problem) => fail(id, where, problem));
		steps.set(id, step as StepDefinition);
	});
	const dependents = new Map<string, string[]>([...steps.keys()].map((id) => [id, []]));
	for (const [id, step] of steps) {
		const seen = new Set<string>();
		(step.dependsOn ?? []).forEach((dep, i) => {
			if (!steps.has(dep)) fail(id, `dependsOn[${i}]`, `names an unknown step \`${dep}\``);
			if (dep === id) fail(id, `dependsOn[${i}]`, 'names the step itself');
			if (seen.has(dep)) fail(id, `dependsOn[${i}]`, `names \`${dep}\` twice`);
			seen.add(dep);
			dependents.get(dep)?.push(id);
		});
	}
	const order = topologicalOrder(steps, (cycle) =>
		fail(cycle[0], 'dependsOn', `makes a cycle: ${cycle.join(' -> ')}`),
	);
	const { onFinished, ...rest } = input;
	const body = JSON.parse(JSON.stringify({ ...rest, version })) as DefinitionBody;
	return { name: name as string, version, body, order, steps, dependents, onFinished };
}

function checkPreChecks(
	checks: unknown,
	vars: Record<string, unknown>,
	fail: (field: string, problem: string) => never,
): void {
	if (!Array.isArray(checks)) fail('preCheck', `must be an array of { act, when }, got ${describe(checks)}`);
	(checks as unknown[]).forEach((check, i) => {
		const field = `preCheck[${i}]`;
		if (!isObject(check))
			fail(field, `must be an object like { act: 'skip', when: [...] }, got ${describe(check)}`);
		for (const key of Object.keys(check))
			if (!CHECK_KEYS.includes(key))
				fail(`${field}.${key}`, `is not a pre-check field (known: ${CHECK_KEYS.join(', ')})`);
		if (check.act !== 'skip' && check.act !== 'block')
			fail(`${field}.act`, `must be 'skip' or 'block', got ${describe(check.act)}`);
		if (!Array.isArray(check.when) || check.when.length === 0)
			fail(`${field}.when`, `must be a non-empty array of conditions, got ${describe(check.when)}`);
		(check.when as unknown[]).forEach((condition, j) => {
			const where = `${field}.when[${j}]`;
			if (!isObject(condition))
				fail(where, `must be an object like { source, key, op, values }, got ${describe(condition)}`);
			for (const key of Object.keys(condition))
				if (!CONDITION_KEYS.includes(key))
					fail(`${where}.${key}`, `is not a condition field (known: ${CONDITION_KEYS.join(', ')})`);
			const c = condition as Partial<GateCondition>;
			if (c.source !== 'vars' && c.source !== 'shared')
				fail(`${where}.source`, `must be 'vars' or 'shared', got ${describe(c.source)}`);
			if (typeof c.key !== 'string' || c.key === '')
				fail(`${where}.key`, `must be a key, got ${describe(c.key)}`);
			if (c.source === 'vars' && !Object.prototype.hasOwnProperty.call(vars, c.key as string))
				fail(`${where}.key`, `names the var \`${c.key}\`, which the definition's vars do not declare`);
			if (c.op !== 'in' && c.op !== 'not-in' && c.op !== 'exists')
				fail(`${where}.op`, `must be 'in', 'not-in' or 'exists', got ${describe(c.op)}`);
			if (c.op === 'exists' ? c.values !== undefined : !Array.isArray(c.values)) {
				fail(
					`${where}.values`,
					c.op === 'exists'
						? "must be absent for 'exists'"
						: `must be an array of values for '${c.op}', got ${describe(c.values)}`,
				);
			}
		});
	});
}

/** Kahn's order in the written order of the steps; reports a cycle (as a path) when one exists. */
function topologicalOrder(steps: ReadonlyMap<string, StepDefinition>, cycle: (path: string[]) => never): string[] {
	const order: string[] = [];
	const done = new Set<string>();
	while (order.length < steps.size) {
		let progressed = false;
		for (const [id, step] of steps) {
			if (done.has(id)) continue;
			if ((step.dependsOn ?? []).every((dep) => done.has(dep))) {
				order.push(id);
				done.add(id);
				progressed = true;
			}
		}
		if (!progressed) {
			// Walk dependencies among the rest until a step repeats: that is a cycle.
			const rest = [...steps.keys()].filter((id) => !done.has(id));
			const path: string[] = [rest[0] as string];
			for (;;) {
				const last = path[path.length - 1] as string;
				const next = (steps.get(last)?.dependsOn ?? []).find((dep) => !done.has(dep)) as string;
				const at = path.indexOf(next);
				if (at !== -1) cycle([...path.slice(at), next].reverse());
				path.push(next);
			}
		}
	}
	return order;
}

/** The steps downstream of `id` (those that depend on it, directly or not), `id` excluded. */
export function downstreamOf(definition: CheckedDefinition, id: string): Set<string> {
	const found = new Set<string>();
	const stack = [...(definition.dependents.get(id) ?? [])];
	while (stack.length > 0) {
		const next = stack.pop() as string;
		if (found.has(next)) continue;
		found.add(next);
		stack.push(...(definition.dependents.get(next) ?? []));
	}
	return found;
}

/** JSON text with sorted keys, to compare definition bodies. */
export function canonicalJson(value: unknown): string {
	if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
	if (isObject(value)) {
		return `{${Object.keys(value)
			.filter((key) => value[key] !== undefined)
			.sort()
			.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`)
			.join(',')}}`;
	}
	return JSON.stringify(value);
}
