/**
 * Templates in step params: `{{vars.name}}` and `{{shared.key}}`. Parsed when a definition is defined (a bad
 * template is a definition error), rendered when the step starts: a string that is exactly one template takes
 * the value as it is (a number stays a number); a template inside a longer string is replaced by the value's
 * text (JSON for objects). A key the run does not hold fails the step (`TemplateKeyError`), never renders as ''.
 */
import { TemplateKeyError } from './errors.js';

/** Where a template reads from. */
export type TemplateSource = 'vars' | 'shared';

/** One `{{source.key}}` found in a string. */
export interface TemplateRef {
	/** `vars` or `shared`. */
	readonly source: TemplateSource;
	/** The key. */
	readonly key: string;
}

const OPEN = '{{';
const CLOSE = '}}';
const REF = /^\s*(vars|shared)\.([A-Za-z0-9_-]+)\s*$/;

/** The pieces of a string: literal text and references, in order. Throws a message (string) for a bad template. */
export function parseTemplate(text: string): (string | TemplateRef)[] {
	const parts: (string | TemplateRef)[] = [];
	let at = 0;
	while (at < text.length) {
		const open = text.indexOf(OPEN, at);
		const stray = text.indexOf(CLOSE, at);
		if (stray !== -1 && (open === -1 || stray < open)) throw `has \`}}\` without \`{{\` at offset ${stray}`;
		if (open === -1) {
			parts.push(text.slice(at));
			break;
		}
		if (open > at) parts.push(text.slice(at, open));
		const close = text.indexOf(CLOSE, open + 2);
		if (close === -1) throw `has \`{{\` without \`}}\` at offset ${open}`;
		const inner = text.slice(open + 2, close);
		const match = REF.exec(inner);
		if (match === null)
			throw `has a bad template \`{{${inner}}}\`: expected \`{{vars.name}}\` or \`{{shared.key}}\` (letters, digits, _ and -)`;
		parts.push({ source: match[1] as TemplateSource, key: match[2] as string });
		at = close + 2;
	}
	return parts;
}

/**
 * Every template in a JSON-like value, with the field path of each (`params.region`, `params.list[1]`).
 * Throws `{ field, message }` for the first bad template.
 */
export function findTemplates(
	value: unknown,
	field: string,
	found: { field: string; ref: TemplateRef }[] = [],
): { field: string; ref: TemplateRef }[] {
	if (typeof value === 'string') {
		let parts: (string | TemplateRef)[];
		try {
			parts = parseTemplate(value);
		} catch (problem) {
			throw { field, message: String(problem) };
		}
		for (const part of parts) if (typeof part !== 'string') found.push({ field, ref: part });
	} else if (Array.isArray(value)) {
		value.forEach((item, i) => findTemplates(item, `${field}[${i}]`, found));
	} else if (typeof value === 'object' && value !== null) {
		for (const [key, item] of Object.entries(value)) findTemplates(item, `${field}.${key}`, found);
	}
	return found;
}

/** What templates read when a step starts. */
export interface TemplateData {
	/** The run's vars. */
	readonly vars: Readonly<Record<string, unknown>>;
	/** The run's shared data. */
	readonly shared: Readonly<Record<string, unknown>>;
}

function lookup(ref: TemplateRef, data: TemplateData, step: string, field: string): unknown {
	const bag = data[ref.source];
	if (!Object.prototype.hasOwnProperty.call(bag, ref.key) || bag[ref.key] === undefined) {
		throw new TemplateKeyError(step, field, `${ref.source}.${ref.key}`);
	}
	return bag[ref.key];
}

function renderString(text: string, data: TemplateData, step: string, field: string): unknown {
	if (!text.includes(OPEN)) return text;
	const parts = parseTemplate(text);
	if (parts.length === 1 && typeof parts[0] !== 'string') return lookup(parts[0] as TemplateRef, data, step, field);
	return parts
		.map((part) => {
			if (typeof part === 'string') return part;
			const value = lookup(part, data, step, field);
			return typeof value === 'string' ? value : JSON.stringify(value);
		})
		.join('');
}

/** Per params object of a definition: whether it holds a template (see `holdsTemplates`). */
const templated = new WeakMap<object, boolean>();

/**
 * Whether `params` (a definition step's, checked when defined) holds a template anywhere; remembered per object, so
 * a step without one is not walked at every start. Without one, rendering gives an equal copy.
 */
export function holdsTemplates(params: object): boolean {
	let holds = templated.get(params);
	if (holds === undefined) templated.set(params, (holds = findTemplates(params, 'params').length > 0));
	return holds;
}

/** The value with every template replaced; throws `TemplateKeyError` for a key the run does not hold. */
export function renderTemplates(value: unknown, data: TemplateData, step: string, field = 'params'): unknown {
	if (typeof value === 'string') return renderString(value, data, step, field);
	if (Array.isArray(value)) return value.map((item, i) => renderTemplates(item, data, step, `${field}[${i}]`));
	if (typeof value === 'object' && value !== null) {
		const out: Record<string, unknown> = {};
		for (const [key, item] of Object.entries(value))
			out[key] = renderTemplates(item, data, step, `${field}.${key}`);
		return out;
	}
	return value;
}
