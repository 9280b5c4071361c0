/**
 * Every TypeScript block of README.md and docs/**\/*.md type-checks (one tsc program for all of them). A block
 * marked ```ts fragment is shown but not checked; see docs/testing.md.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
	isFragment,
	markdownFiles,
	readText,
	typeCheckBlocks,
	typeScriptBlocks,
	type CodeBlock,
} from './code-blocks.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('docs code blocks', () => {
	it('finds fenced blocks with their language, indentation and first line', () => {
		const markdown = [
			'# Title', //                       1
			'```ts', //                         2
			'const a = 1;', //                  3
			'```', //                           4
			'1. A step:', //                    5
			'   ```typescript', //              6
			'   const b: string = "x";', //     7
			'   ```', //                        8
			'````ts fragment', //               9
			'```ts', //                         10: inside a longer fence, not a fence of its own
			'````', //                          11
			'```sh', //                         12
			'npm test', //                      13
			'```', //                           14
			'```` ```ts fragment ```` marks a fragment.', // 15: inline code starting a line, not a fence
		].join('\n');
		const blocks = typeScriptBlocks(markdown, 'x.md');
		expect(blocks.map(({ line, indent, info, code }) => ({ line, indent, info, code }))).toEqual([
			{ line: 3, indent: 0, info: 'ts', code: 'const a = 1;' },
			{ line: 7, indent: 3, info: 'typescript', code: 'const b: string = "x";' },
			{ line: 10, indent: 0, info: 'ts fragment', code: '```ts' },
		]);
		expect(blocks.map(isFragment)).toEqual([false, false, true]);
	});

	it('every ```ts block of the README and docs/ type-checks; a bad block is named by file and line', async () => {
		const blocks: CodeBlock[] = [];
		for (const file of await markdownFiles(root))
			blocks.push(...typeScriptBlocks(await readText(root, file), file));
		const checked = blocks.filter((block) => !isFragment(block));
		expect(checked.filter((block) => block.file === 'README.md').length).toBeGreaterThan(0);

		// A block known to be wrong goes through the same run: it must be reported, at its place, and nothing else.
		const probe: CodeBlock = {
			file: 'probe.md',
			line: 11,
			indent: 2,
			info: 'ts',
			code: "import { Scheduler } from 'lightsched';\nconst n: number = Scheduler.name;\nconst s: string = 42;",
		};
		const workDir = join(root, 'test-output', `docs-code-blocks-${process.pid}-${randomBytes(4).toString('hex')}`);
		const errors = await typeCheckBlocks(root, workDir, [...checked, probe]);
		const probeErrors = errors.filter((error) => error.where.startsWith('probe.md:'));
		expect(probeErrors.map((error) => error.where)).toEqual(['probe.md:12:9', 'probe.md:13:9']);
		const real = errors.filter((error) => !error.where.startsWith('probe.md:'));
		expect(real.map((error) => `${error.where} ${error.message}`).join('\n')).toBe('');
	}, 180_000);
});
