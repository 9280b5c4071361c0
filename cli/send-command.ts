/**
 * `lightsched send --a 10 --b 20`: add a task whose item is made of the command's own `--key value` options, as
 * bk-bscp's `task send` does (its `task run` is `lightsched run`, the worker). A value is JSON when it parses
 * (`--a 10` is the number 10, `--tags '["x"]'` an array), else a string; `--flag` alone is `true`. With `--wait` it
 * waits for the task's end, prints the output (or the error) and exits 0 when it succeeded, 1 when it failed or
 * was stopped.
 */
import type { NewTask, TaskRecord } from 'lightsched';
import { isFinalStatus } from 'lightsched/kit';
import { CliError, EXIT } from './cli-error.js';
import { printJson } from './output.js';
import { parseCount, parseDuration, parseInteger } from './parse-values.js';
import type { Session } from './session.js';

export interface SendOptions {
	readonly id?: string;
	readonly priority?: string;
	readonly maxAttempts?: string;
	readonly timeout?: string;
	readonly delay?: string;
	readonly wait?: boolean;
}

/** How often `--wait` reads the task at first, and at most (it backs off). */
const WAIT_FIRST_MS = 100;
const WAIT_MAX_MS = 1_000;

function fieldValue(raw: string): unknown {
	try {
		return JSON.parse(raw) as unknown;
	} catch {
		return raw;
	}
}

/** `['--a', '10', '--b=20', '--on']` → `{ a: 10, b: 20, on: true }`. */
export function parseSendFields(args: readonly string[]): Record<string, unknown> {
	const item: Record<string, unknown> = {};
	for (let i = 0; i < args.length; i++) {
		const arg = args[i] as string;
		const match = /^--([^=]+)(?:=([\s\S]*))?$/.exec(arg);
		if (match === null || (match[1] as string).startsWith('-'))
			throw new CliError(
				`Expected the item's fields as \`--key value\` (or \`--key=value\`), got ${JSON.stringify(arg)}`,
				EXIT.usage,
			);
		const key = match[1] as string;
		if (match[2] !== undefined) item[key] = fieldValue(match[2]);
		else {
			const next = args[i + 1];
			if (next === undefined || /^--[^-]/.test(next)) item[key] = true;
			else {
				item[key] = fieldValue(next);
				i++;
			}
		}
	}
	return item;
}

/** Read the task until it finished: at first every 100 ms, backing off to once a second. */
async function waitForEnd(s: Session, id: string): Promise<TaskRecord> {
	let delay = WAIT_FIRST_MS;
	for (;;) {
		const task = await s.scheduler.get(id);
		if (task === null) throw new CliError(`Task \`${id}\` was removed while waiting for it`, EXIT.notFound);
		if (isFinalStatus(task.status)) return task;
		await new Promise((resolve) => setTimeout(resolve, delay));
		delay = Math.min(WAIT_MAX_MS, delay * 2);
	}
}

export async function sendCommand(s: Session, args: readonly string[], options: SendOptions): Promise<number> {
	const task: NewTask<unknown> = {
		item: parseSendFields(args),
		...(options.id === undefined ? {} : { id: options.id }),
		...(options.priority === undefined ? {} : { priority: parseInteger('--priority', options.priority) }),
		...(options.maxAttempts === undefined
			? {}
			: { maxAttempts: parseCount('--max-attempts', options.maxAttempts, 1) }),
		...(options.timeout === undefined ? {} : { timeoutMs: parseDuration('--timeout', options.timeout) }),
		...(options.delay === undefined ? {} : { runAt: Date.now() + parseDuration('--delay', options.delay) }),
	};
	const [added] = await s.scheduler.add([task]);
	if (added === undefined) throw new CliError('The container stored no task', EXIT.failed);
	if (options.wait !== true) {
		if (s.json) printJson(s.io, added);
		else s.io.out.write(`sent ${added.id}\n`);
		return EXIT.ok;
	}
	if (!s.json) s.io.err.write(`sent ${added.id}, waiting for a worker to run it...\n`);
	const done = await waitForEnd(s, added.id);
	if (s.json) printJson(s.io, done);
	else if (done.status === 'succeeded') s.io.out.write(`${JSON.stringify(done.output ?? null)}\n`);
	else s.io.err.write(`${done.id} ${done.status}${done.error === null ? '' : `: ${done.error.message}`}\n`);
	return done.status === 'succeeded' ? EXIT.ok : EXIT.failed;
}
