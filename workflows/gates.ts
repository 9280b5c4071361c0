/**
 * Gates: a step's `preCheck` rules, evaluated in their written order when the step could start; the first rule
 * whose conditions all hold wins (`skip` or `block`). A condition reads the run's vars or shared data; a key the
 * run does not hold makes the condition false. A step an operator continued ignores `block` rules.
 */

/** One condition of a pre-check. */
export interface GateCondition {
	/** Where the key is read. */
	readonly source: 'vars' | 'shared';
	/** The key. */
	readonly key: string;
	/** `in`: the value is one of `values`; `not-in`: it is held and none of them; `exists`: the key is held. */
	readonly op: 'in' | 'not-in' | 'exists';
	/** The values `in` and `not-in` compare with (by JSON equality). */
	readonly values?: readonly unknown[];
}

/** One pre-check rule: when every condition holds, the step is skipped or blocked. */
export interface PreCheck {
	/** A name for logs and errors. */
	readonly name?: string;
	/** What happens when the rule matches. */
	readonly act: 'skip' | 'block';
	/** The conditions, combined with AND. */
	readonly when: readonly GateCondition[];
}

function same(a: unknown, b: unknown): boolean {
	return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function holds(
	condition: GateCondition,
	data: { vars: Record<string, unknown>; shared: Record<string, unknown> },
): boolean {
	const bag = data[condition.source];
	if (!Object.prototype.hasOwnProperty.call(bag, condition.key) || bag[condition.key] === undefined) return false;
	const value = bag[condition.key];
	const values = condition.values ?? [];
	if (condition.op === 'exists') return true;
	const found = values.some((candidate) => same(candidate, value));
	return condition.op === 'in' ? found : !found;
}

/** The act of the first matching rule (`block` rules skipped when `continued`), or `null` when none matches. */
export function evaluateGates(
	checks: readonly PreCheck[],
	data: { vars: Record<string, unknown>; shared: Record<string, unknown> },
	continued: boolean,
): { act: 'skip' | 'block'; index: number } | null {
	for (let index = 0; index < checks.length; index++) {
		const check = checks[index] as PreCheck;
		if (continued && check.act === 'block') continue;
		if (check.when.every((condition) => holds(condition, data))) return { act: check.act, index };
	}
	return null;
}
