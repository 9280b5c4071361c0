// The video-cut page. Every value from the server is shown with textContent (or a DOM property), never as HTML.
const PAGE_SIZE = 10;
const POLL_MS = 3000;

const state = {
	offset: 0,
	total: 0,
	viewing: null,
	rows: new Map(),
	loadTimer: 0,
	pollTimer: 0,
	loading: null,
	again: false,
	runs: { offset: 0, total: 0, loading: null, again: false, timer: 0 },
};
const RUN_PAGE_SIZE = 5;
const $ = (id) => document.getElementById(id);

/** A JSON request; a non-2xx answer throws an Error with the server's message and the field at fault. */
async function api(method, path, body) {
	const init = { method, headers: { accept: 'application/json' } };
	if (body !== undefined) {
		init.headers['content-type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	const res = await fetch(path, init);
	const data = await res.json().catch(() => ({}));
	if (!res.ok) {
		const error = new Error(typeof data.error === 'string' ? data.error : `HTTP ${res.status}`);
		error.field = data.field;
		throw error;
	}
	return data;
}

/** Make an element; `text` sets textContent, other props are DOM properties or data-/aria- attributes. */
function el(tag, props = {}, ...children) {
	const node = document.createElement(tag);
	for (const [key, value] of Object.entries(props)) {
		if (value === undefined || value === null) continue;
		if (key === 'text') node.textContent = String(value);
		else if (key === 'class') node.className = value;
		else if (key.startsWith('data-') || key.startsWith('aria-')) node.setAttribute(key, String(value));
		else node[key] = value;
	}
	node.append(...children.filter((child) => child !== null && child !== undefined));
	return node;
}

const seconds = (value) => `${Number(value).toLocaleString(undefined, { maximumFractionDigits: 2 })}`;
function time(ms) {
	if (ms === null || ms === undefined) return el('span', { text: '—' });
	const date = new Date(ms);
	return el('time', { text: date.toLocaleTimeString(), dateTime: date.toISOString(), title: date.toLocaleString() });
}

const FINAL = new Set(['succeeded', 'failed', 'stopped']);
const STATUS_LABELS = {
	waiting: 'waiting',
	running: 'running',
	exporting: 'saving',
	succeeded: 'succeeded',
	failed: 'failed',
	stopped: 'stopped',
};

function statusCell(task) {
	const retrying = task.status === 'waiting' && task.attempts > 0;
	const label = retrying
		? `retry ${task.attempts + 1}/${task.maxAttempts}`
		: (STATUS_LABELS[task.status] ?? task.status);
	const cell = el(
		'td',
		{ class: 'status-cell' },
		el('span', { class: `status status-${task.status}`, text: label, 'data-status': task.status }),
	);
	if (task.status === 'running' || task.status === 'exporting') {
		const value = typeof task.progress === 'number' ? task.progress : null;
		const bar = el('progress', { max: 1, 'aria-label': `progress of ${task.name}` });
		if (value !== null) bar.value = value;
		cell.append(
			el(
				'div',
				{ class: 'progress' },
				bar,
				el('span', { class: 'percent', text: value === null ? '…' : `${Math.round(value * 100)} %` }),
			),
		);
	}
	return cell;
}

function actionButton(label, action, task, enabled = true) {
	return el('button', {
		type: 'button',
		text: label,
		disabled: !enabled,
		'data-action': action,
		'data-id': task.id,
		title: `${label} ${task.name}`,
	});
}

function row(task) {
	const reason =
		task.status === 'succeeded'
			? ''
			: (task.error?.message ?? (task.status === 'stopped' ? 'stopped by request' : ''));
	const actions = el('td', { class: 'actions' });
	if (!FINAL.has(task.status)) actions.append(actionButton('Stop', 'stop', task));
	else actions.append(actionButton('Restart', 'restart', task), actionButton('Delete', 'delete', task));
	if (task.status === 'succeeded') actions.append(actionButton('View', 'view', task));
	const tr = el(
		'tr',
		{ 'data-id': task.id, 'data-status': task.status, class: state.viewing?.id === task.id ? 'viewing' : '' },
		el('td', { class: 'id', text: task.id }),
		el('td', { class: 'name', text: task.name }),
		el('td', { class: 'input', text: task.input }),
		el('td', { class: 'range', text: `${seconds(task.start)}–${seconds(task.end)} s` }),
		statusCell(task),
		el('td', { class: 'time' }, time(task.createdAt)),
		el('td', { class: 'time' }, time(task.startedAt)),
		el('td', { class: 'time' }, time(task.finishedAt)),
		el('td', { class: 'reason', text: reason }),
		actions,
	);
	return tr;
}

function render(page) {
	const body = $('tasks');
	state.rows.clear();
	const rows = page.tasks.map((task) => {
		const tr = row(task);
		state.rows.set(task.id, tr);
		return tr;
	});
	body.replaceChildren(...rows);
	state.total = page.total;
	const pages = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
	const current = Math.floor(state.offset / PAGE_SIZE) + 1;
	$('page-info').textContent = `Page ${current} of ${pages} · ${page.total} task${page.total === 1 ? '' : 's'}`;
	$('prev').disabled = state.offset === 0;
	$('next').disabled = state.offset + PAGE_SIZE >= page.total;
	$('empty').hidden = page.total > 0;
}

/** Load the current page; calls made while one is loading fold into one more load. */
async function load() {
	if (state.loading) {
		state.again = true;
		return state.loading;
	}
	state.loading = (async () => {
		try {
			do {
				state.again = false;
				const offset = state.offset;
				const page = await api('GET', `/api/tasks?offset=${offset}&limit=${PAGE_SIZE}`);
				// The user paged meanwhile: this answer is for another page.
				if (offset !== state.offset) {
					state.again = true;
					continue;
				}
				if (page.tasks.length === 0 && state.offset > 0 && page.total > 0) {
					state.offset = Math.max(0, Math.floor((page.total - 1) / PAGE_SIZE) * PAGE_SIZE);
					state.again = true;
					continue;
				}
				render(page);
				$('list-error').textContent = '';
			} while (state.again);
		} catch (error) {
			$('list-error').textContent = `Could not load the tasks: ${error.message}`;
		} finally {
			state.loading = null;
		}
	})();
	return state.loading;
}

function scheduleLoad() {
	clearTimeout(state.loadTimer);
	state.loadTimer = setTimeout(load, 100);
}

async function loadInputs() {
	const select = $('input');
	try {
		const { inputs } = await api('GET', '/api/inputs');
		const chosen = select.value;
		select.replaceChildren(...inputs.map((name) => el('option', { value: name, text: name })));
		if (inputs.includes(chosen)) select.value = chosen;
		$('create-button').disabled = inputs.length === 0;
		$('run-button').disabled = inputs.length === 0;
		if (inputs.length === 0) $('form-error').textContent = 'The media folder has no video files.';
	} catch (error) {
		$('form-error').textContent = `Could not list the input videos: ${error.message}`;
	}
}

/** Submit the form as a plain cut task, or (`asRun`) as a workflow run: cut, then thumbnail + preview. */
async function submitCut(asRun) {
	const form = $('create-form');
	for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
	$('form-error').textContent = '';
	const body = {
		name: $('name').value,
		input: $('input').value,
		start: $('start').value === '' ? null : Number($('start').value),
		end: $('end').value === '' ? null : Number($('end').value),
	};
	$('create-button').disabled = true;
	$('run-button').disabled = true;
	try {
		if (asRun) {
			await api('POST', '/api/runs', body);
			$('name').value = '';
			state.runs.offset = 0;
			await loadRuns();
		} else {
			await api('POST', '/api/tasks', body);
			$('name').value = '';
			state.offset = 0;
			await load();
		}
	} catch (error) {
		$('form-error').textContent = error.message;
		const field = error.field && form.elements.namedItem(error.field);
		if (field) {
			field.setAttribute('aria-invalid', 'true');
			field.focus();
		}
	} finally {
		$('create-button').disabled = false;
		$('run-button').disabled = false;
	}
}

function create(event) {
	event.preventDefault();
	return submitCut(false);
}

function view(task) {
	state.viewing = task;
	$('player').hidden = false;
	$('player-title').textContent = `Cut ${task.name}`;
	$('player-input-name').textContent = task.input;
	$('player-input-range').textContent = `(cut ${seconds(task.start)}–${seconds(task.end)} s)`;
	$('player-output-name').textContent = task.output ?? '';
	const input = $('player-input');
	input.src = `/media/input/${encodeURIComponent(task.id)}`;
	input.addEventListener(
		'loadedmetadata',
		() => {
			input.currentTime = task.start;
		},
		{ once: true },
	);
	$('player-output').src = `/media/output/${encodeURIComponent(task.id)}`;
	for (const [id, tr] of state.rows) tr.classList.toggle('viewing', id === task.id);
	$('player').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
}

function closePlayer() {
	state.viewing = null;
	$('player').hidden = true;
	for (const id of ['player-input', 'player-output']) {
		const video = $(id);
		video.pause();
		video.removeAttribute('src');
		video.load();
	}
	for (const tr of state.rows.values()) tr.classList.remove('viewing');
}

async function act(event) {
	const button = event.target.closest('button[data-action]');
	if (!button) return;
	const { action, id } = button.dataset;
	$('list-error').textContent = '';
	try {
		if (action === 'view') {
			const { task } = await api('GET', `/api/tasks/${encodeURIComponent(id)}`);
			view(task);
			return;
		}
		button.disabled = true;
		if (action === 'stop') await api('POST', `/api/tasks/${encodeURIComponent(id)}/stop`);
		else if (action === 'restart') await api('POST', `/api/tasks/${encodeURIComponent(id)}/restart`);
		else if (action === 'delete') {
			await api('DELETE', `/api/tasks/${encodeURIComponent(id)}`);
			if (state.viewing?.id === id) closePlayer();
		}
		if (action === 'restart' && state.viewing?.id === id) closePlayer();
		await load();
	} catch (error) {
		$('list-error').textContent = error.message;
		button.disabled = false;
	}
}

// Workflow runs: each run shows its three steps (cut → thumbnail + preview), their status, progress and error,
// and once made, the thumbnail and the preview (served by run id and step id; no file name leaves the server).
const STEP_LABELS = { cut: 'Cut', thumbnail: 'Thumbnail', preview: 'Preview' };

function progressBar(label, value) {
	const bar = el('progress', { max: 1, 'aria-label': label });
	if (typeof value === 'number') bar.value = value;
	return el(
		'div',
		{ class: 'progress' },
		bar,
		el('span', { class: 'percent', text: typeof value === 'number' ? `${Math.round(value * 100)} %` : '…' }),
	);
}

function stepBox(run, step) {
	const media = `/media/run/${encodeURIComponent(run.id)}/${encodeURIComponent(step.id)}`;
	const box = el(
		'div',
		{ class: 'step', 'data-step': step.id, 'data-status': step.status },
		el(
			'div',
			{ class: 'step-head' },
			el('span', { class: 'step-name', text: STEP_LABELS[step.id] ?? step.id }),
			el('span', { class: `status status-${step.status}`, text: step.status, 'data-status': step.status }),
			step.attempts > 1 ? el('span', { class: 'muted', text: `attempt ${step.attempts}` }) : null,
		),
	);
	if (step.status === 'running') box.append(progressBar(`progress of the ${step.id} of ${run.name}`, step.progress));
	if (step.error && step.status !== 'succeeded')
		box.append(el('p', { class: 'step-error', text: step.error.message }));
	if (step.status === 'succeeded') {
		if (step.id === 'cut')
			box.append(el('a', { href: media, target: '_blank', rel: 'noopener', text: 'Open the cut' }));
		else
			box.append(
				el('img', {
					class: 'step-media',
					src: media,
					alt: `${STEP_LABELS[step.id]} of ${run.name}`,
					title: step.output ?? '',
				}),
			);
	}
	return box;
}

function runItem(run) {
	const steps = new Map(run.steps.map((step) => [step.id, step]));
	const actions = el('div', { class: 'run-actions' });
	if (!FINAL.has(run.status))
		actions.append(el('button', { type: 'button', text: 'Stop', 'data-run-action': 'stop', 'data-id': run.id }));
	if (run.status === 'failed' || run.status === 'stopped')
		actions.append(el('button', { type: 'button', text: 'Retry', 'data-run-action': 'retry', 'data-id': run.id }));
	const item = el(
		'article',
		{ class: 'run', 'data-id': run.id, 'data-status': run.status },
		el(
			'div',
			{ class: 'run-head' },
			el('span', { class: 'run-name', text: run.name }),
			el('span', { class: `status status-${run.status}`, text: run.status, 'data-status': run.status }),
			el('span', { class: 'run-meta', text: `${run.input} · ${seconds(run.start)}–${seconds(run.end)} s` }),
			el('span', { class: 'run-meta' }, 'created ', time(run.createdAt)),
			run.finishedAt ? el('span', { class: 'run-meta' }, 'finished ', time(run.finishedAt)) : null,
		),
		actions,
		el(
			'div',
			{ class: 'steps' },
			steps.has('cut') ? stepBox(run, steps.get('cut')) : null,
			el('span', { class: 'arrow', text: '→', 'aria-hidden': 'true' }),
			el(
				'div',
				{ class: 'branches' },
				...['thumbnail', 'preview'].filter((id) => steps.has(id)).map((id) => stepBox(run, steps.get(id))),
			),
		),
	);
	if (run.error && run.status !== 'succeeded') item.append(el('p', { class: 'run-error', text: run.error.message }));
	return item;
}

/** Load the current page of runs; calls made while one is loading fold into one more load. */
async function loadRuns() {
	const runs = state.runs;
	if (runs.loading) {
		runs.again = true;
		return runs.loading;
	}
	runs.loading = (async () => {
		try {
			do {
				runs.again = false;
				const offset = runs.offset;
				const page = await api('GET', `/api/runs?offset=${offset}&limit=${RUN_PAGE_SIZE}`);
				if (offset !== runs.offset) {
					runs.again = true;
					continue;
				}
				runs.total = page.total;
				$('runs').replaceChildren(...page.runs.map(runItem));
				$('runs-empty').hidden = page.total > 0;
				$('runs-info').textContent = `${page.total} run${page.total === 1 ? '' : 's'}`;
				$('runs-prev').disabled = offset === 0;
				$('runs-next').disabled = offset + RUN_PAGE_SIZE >= page.total;
				$('runs-error').textContent = '';
			} while (runs.again);
		} catch (error) {
			$('runs-error').textContent = `Could not load the runs: ${error.message}`;
		} finally {
			runs.loading = null;
		}
	})();
	return runs.loading;
}

function scheduleLoadRuns() {
	clearTimeout(state.runs.timer);
	state.runs.timer = setTimeout(loadRuns, 100);
}

async function runAction(event) {
	const button = event.target.closest('button[data-run-action]');
	if (!button) return;
	const { runAction: action, id } = button.dataset;
	$('runs-error').textContent = '';
	button.disabled = true;
	try {
		await api('POST', `/api/runs/${encodeURIComponent(id)}/${action === 'retry' ? 'retry' : 'stop'}`);
		await loadRuns();
	} catch (error) {
		$('runs-error').textContent = error.message;
		button.disabled = false;
	}
}

/** A step's progress moved: update its bar in place (no reload). */
function stepProgress(message) {
	const box = document.querySelector(
		`#runs article[data-id="${CSS.escape(String(message.runId))}"] .step[data-step="${CSS.escape(String(message.stepId))}"]`,
	);
	const bar = box?.querySelector('progress');
	if (!bar || typeof message.progress !== 'number') return false;
	bar.value = message.progress;
	const percent = box.querySelector('.percent');
	if (percent) percent.textContent = `${Math.round(message.progress * 100)} %`;
	return true;
}

/** Live refresh: server-sent events; polling while they are unavailable. */
function setLive(mode) {
	const live = $('live');
	live.className = `live ${mode === 'events' ? 'on' : 'poll'}`;
	live.textContent = mode === 'events' ? 'live' : 'refreshing every 3 s';
	document.body.dataset.live = mode;
	clearInterval(state.pollTimer);
	if (mode === 'poll')
		state.pollTimer = setInterval(() => {
			load();
			loadRuns();
		}, POLL_MS);
}

function listen() {
	if (typeof EventSource !== 'function') {
		setLive('poll');
		return;
	}
	const source = new EventSource('/api/events');
	source.addEventListener('hello', () => {
		setLive('events');
		load();
		loadRuns();
	});
	source.addEventListener('run', (event) => {
		let message;
		try {
			message = JSON.parse(event.data);
		} catch {
			return;
		}
		if (message.type === 'progress' && stepProgress(message)) return;
		scheduleLoadRuns();
	});
	source.addEventListener('task', (event) => {
		let message;
		try {
			message = JSON.parse(event.data);
		} catch {
			return;
		}
		const tr = message.task && state.rows.get(message.task.id);
		if (message.type === 'progress' && tr) {
			const fresh = row(message.task);
			tr.replaceWith(fresh);
			state.rows.set(message.task.id, fresh);
			return;
		}
		if (message.type === 'removed' && state.viewing?.id === message.id) closePlayer();
		scheduleLoad();
	});
	source.addEventListener('error', () => setLive('poll'));
}

$('create-form').addEventListener('submit', create);
$('tasks').addEventListener('click', act);
$('prev').addEventListener('click', () => {
	state.offset = Math.max(0, state.offset - PAGE_SIZE);
	load();
});
$('next').addEventListener('click', () => {
	if (state.offset + PAGE_SIZE < state.total) state.offset += PAGE_SIZE;
	load();
});
$('player-close').addEventListener('click', closePlayer);
$('run-button').addEventListener('click', () => submitCut(true));
$('runs').addEventListener('click', runAction);
$('runs-prev').addEventListener('click', () => {
	state.runs.offset = Math.max(0, state.runs.offset - RUN_PAGE_SIZE);
	loadRuns();
});
$('runs-next').addEventListener('click', () => {
	if (state.runs.offset + RUN_PAGE_SIZE < state.runs.total) state.runs.offset += RUN_PAGE_SIZE;
	loadRuns();
});
loadInputs();
load();
loadRuns();
listen();
