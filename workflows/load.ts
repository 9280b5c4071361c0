/**
 * Reading definitions from YAML or JSON files: a path, or a pattern whose file name holds `*` or `?`
 * (`flows/*.yaml`). A file holds one definition or an array of them. Errors name the file.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { WorkflowDefinitionError } from './errors.js';
import type { WorkflowDefinition } from './definition.js';

const GLOB = /[*?]/;

function globToRegExp(pattern: string): RegExp {
	const source = pattern
		.replace(/[.+^${}()|[\]\\]/g, '\\$&')
		.replace(/\*/g, '[^/]*')
		.replace(/\?/g, '[^/]');
	return new RegExp(`^${source}$`);
}

/** The files a path or pattern names, sorted; a pattern that matches nothing is an error. */
export async function expandPaths(patterns: string | readonly string[]): Promise<string[]> {
	const list = typeof patterns === 'string' ? [patterns] : [...patterns];
	const files: string[] = [];
	for (const pattern of list) {
		if (typeof pattern !== 'string' || pattern === '')
			throw new TypeError(`Expected a file path or pattern, got ${JSON.stringify(pattern)}`);
		if (!GLOB.test(pattern)) {
			files.push(resolve(pattern));
			continue;
		}
		const dir = dirname(pattern);
		if (GLOB.test(dir))
			throw new TypeError(
				`Pattern \`${pattern}\`: only the file name may hold * or ? (folders are named as they are)`,
			);
		const matcher = globToRegExp(basename(pattern));
		const found = (await readdir(resolve(dir), { withFileTypes: true }))
			.filter((entry) => entry.isFile() && matcher.test(entry.name))
			.map((entry) => resolve(join(dir, entry.name)))
			.sort();
		if (found.length === 0) throw new TypeError(`Pattern \`${pattern}\` matches no file`);
		files.push(...found);
	}
	return files;
}

/** The definitions in one file (YAML for `.yaml`/`.yml`, JSON for `.json`). */
export async function readDefinitions(file: string): Promise<WorkflowDefinition[]> {
	const text = await readFile(file, 'utf8');
	const ext = extname(file).toLowerCase();
	let data: unknown;
	try {
		if (ext === '.json') data = JSON.parse(text);
		else if (ext === '.yaml' || ext === '.yml') data = parse(text);
		else throw new Error('expected a .yaml, .yml or .json file');
	} catch (error) {
		throw new WorkflowDefinitionError(file, undefined, 'file', `cannot be read: ${(error as Error).message}`);
	}
	const list = Array.isArray(data) ? data : [data];
	return list as WorkflowDefinition[];
}
