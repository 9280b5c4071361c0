/**
 * The API report test: the public types of every subpath (package.json `exports`) match the committed reports in
 * `api/*.api.md`, so a change to the public surface shows in review. After a deliberate change, rewrite the reports
 * with `UPDATE_API_REPORT=1 npx vitest run test/api/api-report.test.ts` and commit them with the change.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApiReports, reportDir, type ApiReport } from './api-report.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const update = process.env.UPDATE_API_REPORT === '1';
const hint =
	'the public types changed: if that is meant, run `UPDATE_API_REPORT=1 npx vitest run test/api/api-report.test.ts` and commit api/';

describe('API report', () => {
	let reports: ApiReport[];
	beforeAll(() => {
		reports = buildApiReports(root);
	}, 300_000);

	it('has one report per subpath, and no report of a subpath that is gone', async () => {
		const dir = reportDir(root);
		if (update) {
			await mkdir(dir, { recursive: true });
			const wanted = new Set(reports.map((r) => r.file));
			for (const name of await readdir(dir))
				if (name.endsWith('.api.md') && !wanted.has(name)) await rm(join(dir, name));
			for (const report of reports) await writeFile(join(dir, report.file), report.text);
		}
		const committed = (await readdir(dir).catch(() => [] as string[]))
			.filter((name) => name.endsWith('.api.md'))
			.sort();
		expect(committed, hint).toEqual(reports.map((r) => r.file).sort());
	});

	it('matches the committed report of each subpath', async () => {
		const dir = reportDir(root);
		for (const report of reports) {
			const committed = await readFile(join(dir, report.file), 'utf8').catch(() => '(no report committed)');
			expect(report.text, `${report.subpath}: ${hint}`).toBe(committed);
		}
	});

	it('would fail on a change: a report names every export of the root with its declaration', () => {
		const main = reports.find((r) => r.subpath === 'lightsched');
		expect(main?.text).toContain('### Scheduler\n');
		expect(main?.text).toMatch(
			/### TaskRecord\n\n```ts\n\/\/ src\/task\ninterface TaskRecord<TItem = unknown, TOutput = unknown> \{/,
		);
	});
});
