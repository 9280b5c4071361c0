/* global document, window, fetch, TextDecoder, URLSearchParams */
/**
 * The dashboard page: the header, a hash router (`#/`, `#/tasks?…`, `#/task/<id>`, `#/runs?…`, `#/run/<id>`), the
 * live stats (a server-sent event stream read with fetch, so it carries the token; polling when it breaks) and
 * the token prompt when the API answers 401.
 */
import { api, AuthError, h, headers, replace, setToken } from './dom.js';
import { renderOverview } from './overview.js';
import { renderTask, renderTasks } from './tasks.js';
import { renderRun, renderRuns } from './runs.js';

const view = document.getElementById('view');
const live = document.getElementById('live');
const notice = document.getElementById('notice');

/** What every view gets: the server's info, live stats, and helpers. */
const ctx = {
	info: null,
	stats: null,
	statsListeners: new Set(),
	/** Hear live stats until the view changes. */
	onStats(listener) {
		this.statsListeners.add(listener);
		if (this.stats !== null) listener(this.stats);
	},
	/** Show a message (text) above the view. */
	notify(message, kind = 'info') {
		notice.hidden = false;
		notice.className = `notice ${kind}`;
		notice.textContent = message;
	},
	clearNotice() {
		notice.hidden = true;
		notice.textContent = '';
	},
	/** Run an action; report its failure, else its result (a text `run` resolves with, or "done") and re-render. */
	async act(label, run) {
		try {
			const result = await run();
			ctx.notify(typeof result === 'string' ? result : `${label}: done`, 'ok');
			await route();
		} catch (error) {
			if (error instanceof AuthError) return askToken();
			ctx.notify(`${label} failed: ${error.message}`, 'error');
		}
	},
	go(hash) {
		if (window.location.hash === hash) void route();
		else window.location.hash = hash;
	},
};

function parseHash() {
	const raw = window.location.hash.replace(/^#/, '') || '/';
	const [path, query = ''] = raw.split('?');
	return {
		parts: path
			.split('/')
			.filter((p) => p !== '')
			.map(decodeURIComponent),
		params: new URLSearchParams(query),
	};
}

let routing = 0;
async function route() {
	const mine = ++routing;
	ctx.statsListeners.clear();
	const { parts, params } = parseHash();
	const [name, id] = parts;
	for (const link of document.querySelectorAll('#nav a'))
		link.classList.toggle('active', link.dataset.view === (name ?? 'overview').replace(/^(task|run)$/, '$1s'));
	const target = h('div', { class: 'view' });
	try {
		if (name === undefined) await renderOverview(target, ctx);
		else if (name === 'tasks') await renderTasks(target, ctx, params);
		else if (name === 'task' && id !== undefined) await renderTask(target, ctx, id);
		else if (name === 'runs' && ctx.info.workflows) await renderRuns(target, ctx, params);
		else if (name === 'run' && id !== undefined && ctx.info.workflows) await renderRun(target, ctx, id);
		else target.append(h('p', {}, 'No such page. '), h('a', { href: '#/' }, 'Overview'));
	} catch (error) {
		if (error instanceof AuthError) return askToken();
		target.replaceChildren(h('p', { class: 'error', id: 'view-error' }, error.message));
	}
	if (mine !== routing) return;
	replace(view, target);
	document.body.dataset.view = name ?? 'overview';
}

function askToken() {
	const input = h('input', { type: 'password', id: 'token', autocomplete: 'off', placeholder: 'token' });
	const form = h(
		'form',
		{
			class: 'token-form',
			onsubmit: (event) => {
				event.preventDefault();
				setToken(input.value);
				void start();
			},
		},
		h('p', {}, 'This dashboard needs a token.'),
		input,
		h('button', { type: 'submit' }, 'Open'),
	);
	setToken(null);
	live.textContent = 'locked';
	live.dataset.mode = 'locked';
	replace(view, form);
}

function publish(stats) {
	ctx.stats = stats;
	for (const listener of ctx.statsListeners) listener(stats);
}

let polling = null;
let streamAbort = null;

/** Read the SSE stream with fetch (so the token goes along); on failure, poll `api/stats` instead. */
async function startStream() {
	streamAbort?.abort();
	const abort = new window.AbortController();
	streamAbort = abort;
	try {
		const response = await fetch('api/events', { headers: headers(), signal: abort.signal });
		if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status}`);
		live.textContent = 'live';
		live.dataset.mode = 'stream';
		const reader = response.body.getReader();
		const decoder = new TextDecoder();
		let buffer = '';
		for (;;) {
			const { value, done } = await reader.read();
			if (done) break;
			buffer += decoder.decode(value, { stream: true });
			let end;
			while ((end = buffer.indexOf('\n\n')) >= 0) {
				const block = buffer.slice(0, end);
				buffer = buffer.slice(end + 2);
				const data = block
					.split('\n')
					.filter((line) => line.startsWith('data: '))
					.map((line) => line.slice(6))
					.join('\n');
				if (data !== '' && /^event: stats$/m.test(block)) publish(JSON.parse(data));
			}
		}
	} catch {
		if (abort.signal.aborted) return;
	}
	if (!abort.signal.aborted) startPolling();
}

function startPolling() {
	live.textContent = 'live (polling)';
	live.dataset.mode = 'polling';
	clearTimeout(polling);
	const tick = async () => {
		try {
			publish(await api('stats'));
		} catch (error) {
			if (error instanceof AuthError) return askToken();
		}
		polling = setTimeout(tick, Math.max(1000, ctx.info?.sampleMs ?? 1000));
	};
	void tick();
}

async function start() {
	try {
		ctx.info = await api('info');
	} catch (error) {
		if (error instanceof AuthError) return askToken();
		replace(view, h('p', { class: 'error' }, `The dashboard's API did not answer: ${error.message}`));
		return;
	}
	document.getElementById('title').textContent = ctx.info.title;
	document.title = `${ctx.info.title} dashboard`;
	document.body.classList.toggle('read-only', ctx.info.readOnly);
	const links = [
		h('a', { href: '#/', 'data-view': 'overview' }, 'Overview'),
		h('a', { href: '#/tasks', 'data-view': 'tasks' }, 'Tasks'),
	];
	if (ctx.info.workflows) links.push(h('a', { href: '#/runs', 'data-view': 'runs' }, 'Workflows'));
	if (ctx.info.readOnly) links.push(h('span', { class: 'badge ro', id: 'read-only' }, 'read-only'));
	replace(document.getElementById('nav'), links);
	if (window.location.search.includes('poll')) startPolling();
	else void startStream();
	await route();
}

window.addEventListener('hashchange', () => {
	ctx.clearNotice();
	void route();
});
void start();
