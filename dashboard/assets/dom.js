/* global document, fetch, sessionStorage, URLSearchParams */
/**
 * DOM and API helpers of the dashboard page. Every text goes in through `textContent` or a text node: no HTML
 * string is ever parsed, so a task item of `<script>` shows as text.
 */

/** An element: `h('td', { class: 'x' }, 'text', child)`. `on<event>` attributes become listeners. */
export function h(tag, attrs = {}, ...children) {
	const el = document.createElement(tag);
	setAttrs(el, attrs);
	append(el, children);
	return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element, as `h`. */
export function svg(tag, attrs = {}, ...children) {
	const el = document.createElementNS(SVG_NS, tag);
	setAttrs(el, attrs);
	append(el, children);
	return el;
}

function setAttrs(el, attrs) {
	for (const [name, value] of Object.entries(attrs)) {
		if (value === undefined || value === null || value === false) continue;
		if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
		else if (name === 'href' && !String(value).startsWith('#')) throw new Error('Only in-page links');
		else if (name === 'style') throw new Error('No inline styles (CSP)');
		else el.setAttribute(name, value === true ? '' : String(value));
	}
}

function append(el, children) {
	for (const child of children.flat()) {
		if (child === undefined || child === null || child === false) continue;
		el.append(typeof child === 'object' ? child : document.createTextNode(String(child)));
	}
}

/** Replace the element's children. */
export function replace(el, ...children) {
	el.replaceChildren();
	append(el, children);
}

/** A value as indented JSON text, in a `<pre>` (text only). */
export function jsonBlock(value, attrs = {}) {
	let text;
	try {
		text = value === undefined ? '—' : JSON.stringify(value, null, 2);
	} catch {
		text = String(value);
	}
	return h('pre', { class: 'json', ...attrs }, text ?? 'null');
}

/** A time as "12:03:04 (5s ago)". */
export function when(ms) {
	if (ms === null || ms === undefined) return '—';
	const date = new Date(ms);
	return `${date.toLocaleString()} (${ago(ms)})`;
}

/** "5s ago", "in 3m". */
export function ago(ms) {
	const diff = Date.now() - ms;
	const text = duration(Math.abs(diff));
	return diff >= 0 ? `${text} ago` : `in ${text}`;
}

/** A duration: "850ms", "4.2s", "3.1m", "2.0h", "1.5d". */
export function duration(ms) {
	if (ms === null || ms === undefined) return '—';
	if (ms < 1000) return `${Math.round(ms)}ms`;
	if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
	if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)}m`;
	if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(1)}h`;
	return `${(ms / 86_400_000).toFixed(1)}d`;
}

/** A status badge. */
export function badge(status) {
	return h('span', { class: `badge s-${status}`, 'data-status': status }, status);
}

/** The API refused for want of credentials. */
export class AuthError extends Error {}

const TOKEN = 'lightsched-dashboard-token';

/** The bearer token the user typed, kept for this tab only. */
export function token() {
	return sessionStorage.getItem(TOKEN);
}

/** Keep (or forget, with `null`) the bearer token. */
export function setToken(value) {
	if (value === null) sessionStorage.removeItem(TOKEN);
	else sessionStorage.setItem(TOKEN, value);
}

/** The request headers: the token, and the action header on POSTs (the server's CSRF guard). */
export function headers(post = false) {
	const out = {};
	const t = token();
	if (t !== null) out.authorization = `Bearer ${t}`;
	if (post) {
		out['x-lightsched-dashboard'] = '1';
		out['content-type'] = 'application/json';
	}
	return out;
}

/** Call the API: `api('tasks', { params })`, `api('tasks/x/stop', { post: {} })`. Rejects with the server's message. */
export async function api(path, { params, post } = {}) {
	const query = params ? `?${new URLSearchParams(params)}` : '';
	const response = await fetch(`api/${path}${query}`, {
		method: post === undefined ? 'GET' : 'POST',
		headers: headers(post !== undefined),
		body: post === undefined ? undefined : JSON.stringify(post),
		credentials: 'same-origin',
	});
	if (response.status === 401) throw new AuthError('Not authorised');
	const body = await response.json().catch(() => ({}));
	if (!response.ok) throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
	return body;
}

/** The path segment of an id in an API or page URL. */
export function seg(id) {
	return encodeURIComponent(id);
}
