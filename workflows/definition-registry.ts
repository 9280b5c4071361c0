/**
 * The definitions a `Workflows` instance knows: those defined here (in code or loaded from YAML/JSON files), each
 * version checked when defined and stored once before its first run; and those of runs another process started,
 * read from the store when such a run must advance here (never started here: `start` runs only versions defined
 * in this process).
 */
import { findJsonProblem } from 'lightsched/kit';
import type { RunRecord, WorkflowStore } from '../src/workflow-store.js';
import { canonicalJson, checkDefinition, type CheckedDefinition, type WorkflowDefinition } from './definition.js';
import { WorkflowDefinitionError, WorkflowError } from './errors.js';
import { expandPaths, readDefinitions } from './load.js';
import type { DefinedVersion } from './options.js';

export class DefinitionRegistry {
	readonly #store: WorkflowStore;
	readonly #actionNames: Set<string>;
	readonly #definitions = new Map<string, Map<number, CheckedDefinition>>();
	readonly #fromStore = new Map<string, CheckedDefinition>();
	/**
	 * Definition versions this process stored or is storing (or found stored with the same body): written once, not
	 * per start; concurrent starts share the one write, and a write that failed is tried again by the next start.
	 */
	readonly #stored = new Map<CheckedDefinition, Promise<void>>();
	/**
	 * Definitions made here whose body is the stored one of their version (stored here, or read and compared): only
	 * those advance runs. A run of a version this process defined with another body (edited without a new version)
	 * advances by the stored body, the one it started with.
	 */
	readonly #verified = new WeakSet<CheckedDefinition>();

	constructor(store: WorkflowStore, actionNames: Set<string>) {
		this.#store = store;
		this.#actionNames = actionNames;
	}

	/** Check and add a definition (a new version of a name, or the first). Throws `WorkflowDefinitionError`. */
	define(definition: WorkflowDefinition): DefinedVersion {
		const checked = checkDefinition(definition, this.#actionNames);
		let versions = this.#definitions.get(checked.name);
		if (versions === undefined) this.#definitions.set(checked.name, (versions = new Map()));
		const existing = versions.get(checked.version);
		if (existing !== undefined && canonicalJson(existing.body) !== canonicalJson(checked.body)) {
			throw new WorkflowDefinitionError(
				checked.name,
				undefined,
				'version',
				`${checked.version} is defined already with a different body: give the changed definition a new version`,
			);
		}
		versions.set(checked.version, checked);
		return { name: checked.name, version: checked.version };
	}

	/** Define every definition in YAML or JSON files (`'flows/*.yaml'`, or paths). Resolves with what it defined. */
	async load(paths: string | readonly string[]): Promise<DefinedVersion[]> {
		const defined: DefinedVersion[] = [];
		for (const file of await expandPaths(paths)) {
			const definitions = await readDefinitions(file);
			definitions.forEach((definition, i) => {
				try {
					defined.push(this.define(definition));
				} catch (error) {
					if (!(error instanceof WorkflowDefinitionError)) throw error;
					const where = definitions.length === 1 ? file : `${file} [${i}]`;
					throw new WorkflowDefinitionError(
						`${error.definition}\` in \`${where}`,
						error.step,
						error.field,
						error.message.replace(/^.*?: `[^`]*` /, ''),
					);
				}
			});
		}
		return defined;
	}

	/** Store a definition version once (see `#stored`), before its first run starts; refuses a version stored by another process with another body. */
	store(definition: CheckedDefinition): Promise<void> {
		let storing = this.#stored.get(definition);
		if (storing === undefined) {
			const { name, version, body } = definition;
			storing = this.#store.putDefinition({ name, version, body }).then((stored) => {
				if (canonicalJson(stored.body) !== canonicalJson(body)) {
					throw new WorkflowDefinitionError(
						name,
						undefined,
						'version',
						`${version} is stored with a different body (another process defined it): give the changed definition a new version`,
					);
				}
				this.#verified.add(definition);
			});
			storing.catch(() => this.#stored.delete(definition));
			this.#stored.set(definition, storing);
		}
		return storing;
	}

	/** The version of `name` to start: `version`, or the latest defined here. Throws `WorkflowDefinitionError`. */
	pick(name: string, version?: number): CheckedDefinition {
		const versions = this.#definitions.get(name);
		if (versions === undefined) {
			throw new WorkflowDefinitionError(
				String(name),
				undefined,
				'name',
				`is not defined (defined: ${[...this.#definitions.keys()].join(', ') || 'none'})`,
			);
		}
		const chosen = version ?? Math.max(...versions.keys());
		const definition = versions.get(chosen);
		if (definition === undefined)
			throw new WorkflowDefinitionError(
				name,
				undefined,
				'version',
				`${chosen} is not defined (defined: ${[...versions.keys()].join(', ')})`,
			);
		return definition;
	}

	/** The definition a run was started from when known without a read (defined here, or read before), else `undefined`. */
	forRunAt(run: RunRecord): CheckedDefinition | undefined {
		const exact = this.#definitions.get(run.definition)?.get(run.version);
		if (exact !== undefined && this.#verified.has(exact)) return exact;
		return this.#fromStore.get(`${run.definition}@${run.version}`);
	}

	/** The definition a run was started from: defined here, or read from the store (a run another process started). */
	async forRun(run: RunRecord): Promise<CheckedDefinition> {
		const local = this.#definitions.get(run.definition);
		const exact = local?.get(run.version);
		if (exact !== undefined && this.#verified.has(exact)) return exact;
		const id = `${run.definition}@${run.version}`;
		const cached = this.#fromStore.get(id);
		if (cached !== undefined) return cached;
		const stored = await this.#store.getDefinition(run.definition, run.version);
		// Defined here with the stored body (once per version): this definition, with its callback.
		if (exact !== undefined && (stored === null || canonicalJson(stored.body) === canonicalJson(exact.body))) {
			if (stored !== null) this.#verified.add(exact);
			return exact;
		}
		if (stored === null)
			throw new WorkflowError(
				`Workflow run \`${run.id}\`: definition \`${run.definition}\` version ${run.version} is not stored`,
				'ERR_INVALID_DEFINITION',
			);
		const checked = checkDefinition(stored.body as WorkflowDefinition, null);
		const callbackFrom =
			local === undefined ? undefined : [...local.values()].find((d) => d.onFinished !== undefined);
		const withCallback = { ...checked, onFinished: callbackFrom?.onFinished };
		// Kept apart from the definitions made here: `start` never runs a version this process did not define.
		this.#fromStore.set(id, withCallback);
		return withCallback;
	}
}

/**
 * A run's vars: the definition's defaults, then `given` (each declared, each JSON). Throws a `TypeError` naming the
 * workflow and the var.
 */
export function startVars(
	definition: CheckedDefinition,
	given: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
	const name = definition.name;
	const declared = definition.body.vars ?? {};
	const vars: Record<string, unknown> = {};
	for (const [varName, spec] of Object.entries(declared))
		if (spec.default !== undefined) vars[varName] = spec.default;
	for (const [varName, value] of Object.entries(given)) {
		if (!Object.prototype.hasOwnProperty.call(declared, varName))
			throw new TypeError(
				`Workflow \`${name}\`: \`vars.${varName}\` is not declared (declared: ${Object.keys(declared).join(', ') || 'none'})`,
			);
		const problem = findJsonProblem(value);
		if (problem !== null)
			throw new TypeError(
				`Workflow \`${name}\`: \`vars.${varName}${problem.path}\` must be JSON: ${problem.hint}`,
			);
		if (value !== undefined) vars[varName] = value;
	}
	return vars;
}
