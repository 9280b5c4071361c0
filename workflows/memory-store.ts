/**
 * `MemoryWorkflowStore`: runs kept in this process (the default of `Workflows`). Fits the in-process containers;
 * with a shared container, use a shared store so another process can finish a run this one began.
 */
import { SchedulerClosedError } from 'lightsched';
import {
	isFinalRunStatus,
	type RunPage,
	type RunQuery,
	type RunRecord,
	type StoredDefinition,
	type WorkflowStore,
} from '../src/workflow-store.js';
import { cloneJson } from './advance.js';
import { DuplicateRunError, RunStateError } from './errors.js';
import { copyRunReusing } from './json-reuse.js';
import { runTop } from './record-copy.js';
import { isSealed } from './sealed.js';

/** Whether the run holds its unique key (a unique-key run in a status that is not final). */
export function holdsKey(run: Pick<RunRecord, 'key' | 'uniqueKey' | 'status'>): boolean {
	return run.uniqueKey && run.key !== null && !isFinalRunStatus(run.status);
}

/** The message of a unique-key conflict. */
export function keyConflictMessage(key: string, holder: string): string {
	return `An unfinished workflow run (\`${holder}\`) already holds the unique key \`${key}\``;
}

/** Whether `run` matches `query`'s filters. */
export function matchesQuery(run: RunRecord, query: RunQuery): boolean {
	if (query.definition !== undefined && run.definition !== query.definition) return false;
	if (query.key !== undefined && run.key !== query.key) return false;
	if (query.status !== undefined) {
		const statuses = typeof query.status === 'string' ? [query.status] : query.status;
		if (!statuses.includes(run.status)) return false;
	}
	if (query.from !== undefined && run.createdAt < query.from) return false;
	if (query.to !== undefined && run.createdAt >= query.to) return false;
	return true;
}

/** Runs and definitions in this process's memory. */
export class MemoryWorkflowStore implements WorkflowStore {
	/** In-process only. */
	readonly shared = false;
	readonly #runs = new Map<string, RunRecord>();
	readonly #definitions = new Map<string, StoredDefinition>();
	readonly #keys = new Map<string, string>();
	#closed = false;

	async putDefinition(definition: StoredDefinition): Promise<StoredDefinition> {
		this.#check();
		const id = `${definition.name}@${definition.version}`;
		const stored = this.#definitions.get(id);
		if (stored !== undefined) return cloneJson(stored);
		this.#definitions.set(id, cloneJson(definition));
		return cloneJson(definition);
	}

	async getDefinition(name: string, version: number): Promise<StoredDefinition | null> {
		this.#check();
		const stored = this.#definitions.get(`${name}@${version}`);
		return stored === undefined ? null : cloneJson(stored);
	}

	async create(run: RunRecord): Promise<void> {
		this.#check();
		if (this.#runs.has(run.id)) throw new DuplicateRunError(`A workflow run with id \`${run.id}\` exists`);
		if (holdsKey(run)) {
			const holder = this.#keys.get(run.key as string);
			if (holder !== undefined)
				throw new DuplicateRunError(keyConflictMessage(run.key as string, holder), run.key as string);
			this.#keys.set(run.key as string, run.id);
		}
		// A sealed record (the engine's, see sealed.ts) is kept as it is; any other is copied.
		this.#runs.set(run.id, isSealed(run) ? runTop(run) : copyRunReusing(run, undefined));
	}

	async get(id: string): Promise<RunRecord | null> {
		this.#check();
		const run = this.#runs.get(id);
		return run === undefined ? null : cloneJson(run);
	}

	async update(run: RunRecord): Promise<RunRecord | null> {
		this.#check();
		const stored = this.#runs.get(run.id);
		if (stored === undefined || stored.rev !== run.rev || stored.createdAt !== run.createdAt) return null;
		const key = run.key as string;
		if (holdsKey(run)) {
			const holder = this.#keys.get(key);
			if (holder !== undefined && holder !== run.id)
				throw new DuplicateRunError(keyConflictMessage(key, holder), key);
			this.#keys.set(key, run.id);
		} else if (run.key !== null && this.#keys.get(key) === run.id) this.#keys.delete(key);
		if (isSealed(run)) {
			// The engine's record, which no one changes (sealed.ts): kept as it is, its top level copied for the new
			// `rev`, and handed back (the engine changes it no more than the store does).
			const kept = runTop(run);
			kept.rev = run.rev + 1;
			this.#runs.set(run.id, kept);
			return kept;
		}
		// The store's own copy, sharing with the previous one what this write left as it was (json-reuse.ts).
		const next = copyRunReusing(run, stored);
		next.rev = run.rev + 1;
		this.#runs.set(run.id, next);
		// The store keeps its own copy; the caller gets its record back with the new `rev` (a new top level sharing its
		// values with `run`, as the SQL and Redis stores return it): no second deep copy.
		return { ...run, rev: next.rev };
	}

	async list(query: RunQuery = {}): Promise<RunPage> {
		this.#check();
		const offset = query.offset ?? 0;
		const limit = query.limit ?? 100;
		const matching = [...this.#runs.values()].filter((run) => matchesQuery(run, query));
		matching.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
		if (query.order === 'desc') matching.reverse();
		return {
			runs: matching.slice(offset, offset + limit).map((run) => cloneJson(run)),
			total: matching.length,
		};
	}

	async open(limit: number): Promise<RunRecord[]> {
		this.#check();
		const open: RunRecord[] = [];
		for (const run of this.#runs.values()) {
			if (!run.open) continue;
			open.push(cloneJson(run));
			if (open.length >= limit) break;
		}
		return open;
	}

	async remove(id: string, expected?: Pick<RunRecord, 'rev' | 'createdAt'>): Promise<boolean> {
		this.#check();
		const run = this.#runs.get(id);
		if (run === undefined) return false;
		if (expected !== undefined && (run.rev !== expected.rev || run.createdAt !== expected.createdAt)) return false;
		if (run.open)
			throw new RunStateError(
				id,
				`\`remove\` needs a finished run; this one is ${run.status}${isFinalRunStatus(run.status) ? ' with work still settling' : ''}`,
			);
		this.#runs.delete(id);
		return true;
	}

	async close(): Promise<void> {
		this.#closed = true;
	}

	#check(): void {
		if (this.#closed) throw new SchedulerClosedError('workflow store');
	}
}
