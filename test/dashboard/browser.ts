/**
 * Headless Chromium for the dashboard tests (the launch pattern of test/examples/video-cut.e2e.test.ts): a page
 * that records dialogs (an XSS would raise one), page errors and CSP violations, and a screenshot helper writing
 * to test-output/ (or to docs/images/ with UPDATE_SCREENSHOTS=1, to refresh the docs' pictures).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'];

/** A page and what went wrong on it. */
export interface WatchedPage {
	readonly page: Page;
	/** Dialogs (alert, confirm) the page opened: an XSS would. */
	readonly dialogs: string[];
	/** Uncaught errors and console errors (CSP violations show there). */
	readonly errors: string[];
}

function ensureChromium(): void {
	if (existsSync(CHROMIUM)) return;
	if (process.getuid?.() === 0)
		execFileSync('apt-get', ['install', '-y', 'chromium'], { stdio: 'inherit', timeout: 600_000 });
	if (!existsSync(CHROMIUM))
		throw new Error(
			`Chromium is missing at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (as root)`,
		);
}

/** Launch headless Chromium. */
export async function launchBrowser(): Promise<Browser> {
	ensureChromium();
	return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}

/** A fresh page (its own context: no token or storage shared with other pages; `options` such as `timezoneId`). */
export async function watchedPage(browser: Browser, options: BrowserContextOptions = {}): Promise<WatchedPage> {
	const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, ...options });
	const page = await context.newPage();
	const dialogs: string[] = [];
	const errors: string[] = [];
	page.on('dialog', (dialog) => {
		dialogs.push(dialog.message());
		void dialog.dismiss();
	});
	page.on('pageerror', (error) => errors.push(error.message));
	page.on('console', (message) => {
		if (message.type() === 'error') errors.push(message.text());
	});
	return { page, dialogs, errors };
}

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Save a screenshot as `dashboard-<name>.png`. */
export async function screenshot(page: Page, name: string): Promise<void> {
	const dir = process.env.UPDATE_SCREENSHOTS === '1' ? join(root, 'docs', 'images') : join(root, 'test-output');
	await mkdir(dir, { recursive: true });
	await page.screenshot({ path: join(dir, `dashboard-${name}.png`), fullPage: true });
}
