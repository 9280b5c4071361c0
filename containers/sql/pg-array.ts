/**
 * PostgreSQL array literals written by the store and the release's insert themselves, where the driver's own (pg's
 * `arrayString`) makes each element a string, then replaces backslashes and quotes in it, one regular expression
 * each.
 */

/** Whether a text needs backslashes in an array literal's quoted element. */
const NEEDS_ESCAPE = /["\\]/;

/**
 * `values` as a PostgreSQL array literal, as the driver writes an array (pg's `arrayString`: each element quoted,
 * `"` and `\` escaped, NULL for null), but with one test a text instead of two replacements, and numbers and
 * booleans unquoted: the run writes' small columns cost a third of what the driver's formatting did. Anything else
 * (an object, a nested array: none of these columns holds one) goes to the driver as the array itself.
 */
export function arrayLiteral(values: readonly unknown[]): unknown {
	let literal = '{';
	for (let i = 0; i < values.length; i++) {
		const value = values[i];
		if (i > 0) literal += ',';
		if (value === null || value === undefined) literal += 'NULL';
		else if (typeof value === 'string')
			literal += NEEDS_ESCAPE.test(value) ? `"${value.replace(/[\\"]/g, '\\$&')}"` : `"${value}"`;
		else if (typeof value === 'number' || typeof value === 'boolean') literal += String(value);
		else return values;
	}
	return `${literal}}`;
}
