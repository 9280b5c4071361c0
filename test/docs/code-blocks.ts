/**
 * Finding the TypeScript code blocks of the docs and type-checking them all in one `tsc` program.
 * Used by `code-blocks.test.ts`; the convention (```ts, ```ts fragment) is explained in docs/testing.md.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';

/** One fenced TypeScript block of a Markdown file. */
export interface CodeBlock {
	/** The Markdown file, relative to the repository root. */
	readonly file: string;
	/** The 1-based line of the block's first code line in that file. */
	readonly line: number;
	/** How many columns of indentation were taken off each line (a block inside a list item). */
	readonly indent: number;
	/** The info string after the fence, e.g. `ts` or `ts fragment`. */
	readonly info: string;
	readonly code: string;
}

/** A type error in a block, placed in its Markdown file. */
export interface BlockError {
	/** `file:line:column` in the Markdown file. */
	readonly where: string;
	readonly message: string;
}

const TS_LANGUAGES = new Set(['ts', 'typescript', 'mts']);
const OPEN = /^(\s*)(`{3,}|~{3,})\s*(.*)$/;

/** The fenced blocks whose language is TypeScript (`ts`, `typescript`, `mts`), fragments included. */
export function typeScriptBlocks(markdown: string, file: string): CodeBlock[] {
	const lines = markdown.split('\n');
	const blocks: CodeBlock[] = [];
	for (let i = 0; i < lines.length; i++) {
		const open = OPEN.exec(lines[i] ?? '');
		if (open === null) continue;
		const [, indentText = '', fence = '', info = ''] = open;
		if (fence.startsWith('`') && info.includes('`')) continue; // inline code such as ```` ```ts ```` in a sentence
		const close = new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
		let end = i + 1;
		while (end < lines.length && !close.test(lines[end] ?? '')) end++;
		const indent = indentText.length;
		const code = lines
			.slice(i + 1, end)
			.map((line) => (line.slice(0, indent).trim() === '' ? line.slice(indent) : line.trimStart()))
			.join('\n');
		const language = info.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
		if (TS_LANGUAGES.has(language)) blocks.push({ file, line: i + 2, indent, info: info.trim(), code });
		i = end;
	}
	return blocks;
}

/** Whether a block is marked as a fragment (```ts fragment): shown, not type-checked. */
export function isFragment(block: CodeBlock): boolean {
	return block.info.split(/\s+/).slice(1).includes('fragment');
}

/** `README.md` and every `docs/**\/*.md` (the generated `docs/api/` left out), relative to `root`. */
export async function markdownFiles(root: string): Promise<string[]> {
	const files = ['README.md'];
	const walk = async (dir: string): Promise<void> => {
		for (const entry of await readdir(join(root, dir), { withFileTypes: true })) {
			const path = join(dir, entry.name);
			if (entry.isDirectory()) {
				if (path !== join('docs', 'api')) await walk(path);
			} else if (entry.name.endsWith('.md')) {
				files.push(path);
			}
		}
	};
	await walk('docs');
	return files.sort();
}

const run = promisify(execFile);
const TSC_ERROR = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/;

/**
 * Type-check `blocks` in one `tsc --noEmit` run. Each block becomes a module of its own in `workDir` (a folder
 * inside the repository, so imports of `lightsched/...` resolve through package.json's exports with the
 * `lightsched:source` condition of tsconfig.json). Returns the errors found in the blocks, placed in their
 * Markdown files; errors elsewhere (the sources themselves) are the typecheck's business and are left out.
 */
export async function typeCheckBlocks(
	root: string,
	workDir: string,
	blocks: readonly CodeBlock[],
): Promise<BlockError[]> {
	await rm(workDir, { recursive: true, force: true });
	await mkdir(workDir, { recursive: true });
	const byFile = new Map<string, CodeBlock>();
	try {
		for (const [index, block] of blocks.entries()) {
			const name = `b${String(index).padStart(3, '0')}-${block.file.replace(/[^A-Za-z0-9]+/g, '-')}-L${block.line}.ts`;
			byFile.set(name, block);
			// `export {}` makes every block a module: top-level await works and blocks do not share names.
			await writeFile(join(workDir, name), `${block.code}\nexport {};\n`);
		}
		const tsconfig = {
			extends: relative(workDir, join(root, 'tsconfig.json')),
			compilerOptions: { noEmit: true, incremental: false },
			include: ['*.ts'],
		};
		await writeFile(join(workDir, 'tsconfig.json'), JSON.stringify(tsconfig, null, '\t'));
		const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
		let output: string;
		try {
			({ stdout: output } = await run(
				process.execPath,
				[tsc, '-p', join(workDir, 'tsconfig.json'), '--pretty', 'false'],
				{
					cwd: root,
					maxBuffer: 64 * 1024 * 1024,
				},
			));
		} catch (error) {
			const failed = error as { stdout?: string; stderr?: string; message: string };
			output = failed.stdout ?? '';
			if (!TSC_ERROR.test(output.split('\n')[0] ?? ''))
				throw new Error(`tsc did not run: ${failed.stderr ?? failed.message}`);
		}
		const errors: BlockError[] = [];
		let last: BlockError[] | null = null;
		for (const text of output.split('\n')) {
			const match = TSC_ERROR.exec(text);
			if (match === null) {
				// A continuation line of the previous message (tsc indents them).
				if (last !== null && text.trim() !== '') {
					const previous = last.pop();
					if (previous !== undefined)
						last.push({ ...previous, message: `${previous.message} ${text.trim()}` });
				}
				continue;
			}
			const [, path = '', lineText = '0', columnText = '0', code = '', message = ''] = match;
			const file = resolve(root, path);
			const block =
				dirname(file) === resolve(workDir) ? byFile.get(file.slice(dirname(file).length + 1)) : undefined;
			if (block === undefined) {
				last = null;
				continue;
			}
			const line = block.line + Number(lineText) - 1;
			const column = block.indent + Number(columnText);
			errors.push({ where: `${block.file}:${line}:${column}`, message: `${code}: ${message}` });
			last = errors;
		}
		return errors;
	} finally {
		await rm(workDir, { recursive: true, force: true });
	}
}

/** Read a file relative to the root. */
export function readText(root: string, file: string): Promise<string> {
	return readFile(join(root, file), 'utf8');
}
