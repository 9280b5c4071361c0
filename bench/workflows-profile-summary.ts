/**
 * Reads the largest `.cpuprofile` in a directory (as `node --cpu-prof --cpu-prof-dir=DIR` writes them) and prints
 * the functions and files with the most self time, as shares of the profile. Used to find where a workflow step
 * costs more than a plain task (issue 13), e.g.:
 *
 *   PEERS=0 ROUNDS=1 node --cpu-prof --cpu-prof-dir=/tmp/wf-prof --import tsx --conditions=lightsched:source \
 *     bench/workflows.ts 500 redis
 *   npx tsx bench/workflows-profile-summary.ts /tmp/wf-prof [top]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
	readonly id: number;
	readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface Profile {
	readonly nodes: readonly ProfileNode[];
	readonly samples: readonly number[];
	readonly timeDeltas: readonly number[];
}

const dir = process.argv[2];
if (dir === undefined) throw new TypeError('Expected a directory of .cpuprofile files as the first argument');
const top = Number(process.argv[3] ?? 30);

const files = readdirSync(dir)
	.filter((name) => name.endsWith('.cpuprofile'))
	.map((name) => join(dir, name))
	.sort((a, b) => statSync(b).size - statSync(a).size);
const file = files[0];
if (file === undefined) throw new Error(`No .cpuprofile in ${dir}`);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const selfById = new Map<number, number>();
profile.samples.forEach((id, index) => {
	selfById.set(id, (selfById.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
});

const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
let total = 0;
for (const node of profile.nodes) {
	const self = selfById.get(node.id) ?? 0;
	total += self;
	const { functionName, url, lineNumber } = node.callFrame;
	const where = url.replace(/^.*?\/(src|workflows|containers|bench|node_modules)\//, '$1/');
	const key = `${functionName === '' ? '(anonymous)' : functionName} ${where}:${lineNumber + 1}`;
	byFunction.set(key, (byFunction.get(key) ?? 0) + self);
	byFile.set(where === '' ? '(native)' : where, (byFile.get(where === '' ? '(native)' : where) ?? 0) + self);
}

function print(title: string, entries: Map<string, number>): void {
	console.log(`\n${title}`);
	for (const [key, micros] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, top))
		console.log(`${((micros / total) * 100).toFixed(1).padStart(5)}%  ${key}`);
}

console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
print('self time by function', byFunction);
print('self time by file', byFile);
