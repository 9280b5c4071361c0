/**
 * OpenTelemetry spans, through `@opentelemetry/api`: a no-op unless the application installs an SDK (see
 * docs/tracing.md).
 *
 * - `lightsched.add` (kind PRODUCER) around each `Scheduler.add`, a child of the span active there. Its context is
 *   stored on every task the add stores (`TaskRecord.trace`: the W3C `traceparent`, then a space and the
 *   `tracestate` when there is one), so it crosses processes with the task.
 * - `lightsched.attempt` (kind CONSUMER) per attempt, whose parent is the add span read back from the record, in
 *   whichever process claims the task (as BullMQ's `process` spans are children of its `add` spans). A task added
 *   with no span active gets a root span per attempt: never a child of whatever context the claim happened in.
 *   The actuator's `start` runs in the attempt span's context, so work it does (an HTTP call with the app's
 *   instrumentation) becomes its child; the span ends once the attempt's outcome is stored.
 *
 * The trace context is written and read here, in the W3C format, whatever propagator the app registered: it is
 * stored data, not a header.
 */
import {
	context,
	createTraceState,
	isSpanContextValid,
	ProxyTracerProvider,
	ROOT_CONTEXT,
	SpanKind,
	SpanStatusCode,
	trace,
	type Attributes,
	type Context,
	type Span,
	type SpanContext,
} from '@opentelemetry/api';

/** The tracer's name (`trace.getTracer(TRACER_NAME, TRACER_VERSION)`): the instrumentation scope of every span. */
export const TRACER_NAME = 'lightsched';
/** The tracer's version: the package's (a test checks they agree). */
export const TRACER_VERSION = '0.1.0';

/** The span around `Scheduler.add`. */
export const ADD_SPAN_NAME = 'lightsched.add';
/** The span of one attempt. */
export const ATTEMPT_SPAN_NAME = 'lightsched.attempt';

const tracer = trace.getTracer(TRACER_NAME, TRACER_VERSION);

/** The API's no-op provider: what the global proxy delegates to until an SDK registers one. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether no SDK is installed (no tracer provider registered): then nothing is traced at all, at the cost of this
 * check (a no-op span costs about ten times more to make and test).
 */
function noSdk(): boolean {
	const provider = trace.getTracerProvider();
	return provider instanceof ProxyTracerProvider && provider.getDelegate() === NOOP_PROVIDER;
}

/** `00-<trace id>-<span id>-<flags>`: 55 characters. */
const TRACEPARENT_LENGTH = 55;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The stored form of a span context: the W3C `traceparent`, then a space and the `tracestate` when it has
 * entries; `null` for an invalid context (no SDK, no span).
 */
export function formatTrace(spanContext: SpanContext): string | null {
	if (!isSpanContextValid(spanContext)) return null;
	const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
	const parent = `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
	const state = spanContext.traceState?.serialize() ?? '';
	return state === '' ? parent : `${parent} ${state}`;
}

/** A remote span context from its stored form, or `null` when `text` is not one (then the attempt span is a root). */
export function parseTrace(text: string): SpanContext | null {
	const match = TRACEPARENT.exec(text.slice(0, TRACEPARENT_LENGTH));
	if (match === null) return null;
	const spanContext: SpanContext = {
		traceId: match[1] as string,
		spanId: match[2] as string,
		traceFlags: Number.parseInt(match[3] as string, 16),
		isRemote: true,
	};
	if (!isSpanContextValid(spanContext)) return null;
	const state = text.slice(TRACEPARENT_LENGTH + 1);
	if (text.length > TRACEPARENT_LENGTH && state !== '') spanContext.traceState = createTraceState(state);
	return spanContext;
}

/** What the spans of one scheduler say about its parts, worked out once. */
export interface TraceParts {
	/** `function`, `docker`, `http`, `process`, or the class name of an actuator of your own. */
	readonly actuator: string;
	/** The container's class name (`RedisContainer`, `SqlContainer`, `QueueContainer`, …). */
	readonly container: string;
	/** The queue: a Redis container's key prefix, a SQL container's table prefix, else the container's class name. */
	readonly destination: string;
	/** The scheduler's id (its lease owner name). */
	readonly scheduler: string;
}

/** The parts' names for the spans of a scheduler. */
export function traceParts(container: object, actuator: object, scheduler: string): TraceParts {
	const className = (part: object, fallback: string): string => {
		const name = (part as { constructor?: { name?: unknown } }).constructor?.name;
		return typeof name === 'string' && name !== '' && name !== 'Object' ? name : fallback;
	};
	const containerName = className(container, 'container');
	const actuatorName = className(actuator, 'actuator');
	const kind = /^([A-Z][A-Za-z0-9]*)Actuator$/.exec(actuatorName)?.[1];
	const prefix =
		(container as { keyPrefix?: unknown }).keyPrefix ?? (container as { tablePrefix?: unknown }).tablePrefix;
	return {
		actuator: kind === undefined ? actuatorName : kind.toLowerCase(),
		container: containerName,
		destination: typeof prefix === 'string' ? prefix : containerName,
		scheduler,
	};
}

/**
 * Start the span of an add of `count` tasks. Returns `null` when there is nothing to trace (no SDK, or no span and
 * a sampler that records nothing): the add then runs as if tracing did not exist, and its tasks get no trace.
 */
export function startAddSpan(parts: TraceParts, count: number): Span | null {
	if (noSdk()) return null;
	const span = tracer.startSpan(ADD_SPAN_NAME, { kind: SpanKind.PRODUCER });
	if (!span.isRecording()) {
		// A sampled-out span still carries its trace (and the parent-based samplers' decision) to the attempts.
		if (isSpanContextValid(span.spanContext())) return span;
		span.end();
		return null;
	}
	span.setAttributes({
		'messaging.system': 'lightsched',
		'messaging.operation.type': 'send',
		'messaging.operation.name': 'add',
		'messaging.destination.name': parts.destination,
		'lightsched.container': parts.container,
		'lightsched.scheduler.id': parts.scheduler,
	});
	if (count !== 1) span.setAttribute('messaging.batch.message_count', count);
	return span;
}

/**
 * Run the add `run` in the add span's context (the container's calls become its children), handing it the trace
 * to store on the tasks; end the span with the add's result.
 */
export async function traceAdd<T>(
	span: Span,
	run: (trace: string | null) => Promise<T>,
	ids: (result: T) => readonly string[],
): Promise<T> {
	const stored = formatTrace(span.spanContext());
	try {
		const result = await context.with(trace.setSpan(context.active(), span), run, undefined, stored);
		if (span.isRecording()) {
			const added = ids(result);
			if (added.length === 1) {
				span.setAttribute('messaging.message.id', added[0] as string);
				span.setAttribute('lightsched.task.id', added[0] as string);
			}
		}
		return result;
	} catch (error) {
		markError(span, error);
		throw error;
	} finally {
		span.end();
	}
}

/** How an attempt ended, as its span says (`lightsched.attempt.outcome`). */
export type AttemptSpanOutcome =
	'succeeded' | 'failed' | 'timeout' | 'stopped' | 'handed-back' | 'lease-lost' | 'not-stored';

/** The attempt spans of one scheduler, by attempt: only recording spans are kept (none without an SDK). */
export class AttemptSpans {
	readonly #parts: TraceParts;
	readonly #spans = new Map<object, Span>();

	constructor(parts: TraceParts) {
		this.#parts = parts;
	}

	/**
	 * Start the span of `attempt` of `task`. Returns the context the actuator's work must run in, or `undefined`
	 * when there is none to give (no SDK and no stored trace: the cheap path).
	 */
	start(
		attempt: object,
		task: { readonly id: string; readonly attempts: number; readonly trace: string | null },
	): Context | undefined {
		if (noSdk()) return undefined;
		const remote = task.trace === null ? null : parseTrace(task.trace);
		const parent = remote === null ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, remote);
		const span = tracer.startSpan(ATTEMPT_SPAN_NAME, { kind: SpanKind.CONSUMER, root: remote === null }, parent);
		if (span.isRecording()) {
			const parts = this.#parts;
			const attributes: Attributes = {
				'messaging.system': 'lightsched',
				'messaging.operation.type': 'process',
				'messaging.operation.name': 'attempt',
				'messaging.destination.name': parts.destination,
				'messaging.message.id': task.id,
				'lightsched.task.id': task.id,
				'lightsched.task.attempt': task.attempts,
				'lightsched.actuator': parts.actuator,
				'lightsched.container': parts.container,
				'lightsched.scheduler.id': parts.scheduler,
			};
			span.setAttributes(attributes);
			this.#spans.set(attempt, span);
		} else if (!isSpanContextValid(span.spanContext())) return undefined;
		return trace.setSpan(parent, span);
	}

	/** Whether any attempt span is open (checked before `end`, so the path without an SDK costs one comparison). */
	get size(): number {
		return this.#spans.size;
	}

	/**
	 * End the span of `attempt`: its outcome, the status its task was stored in (`null` when it was not stored),
	 * and the error of a failure (the span's status is then ERROR with the error's code and message).
	 */
	end(attempt: object, outcome: AttemptSpanOutcome, status: string | null, error?: unknown): void {
		const span = this.#spans.get(attempt);
		if (span === undefined) return;
		this.#spans.delete(attempt);
		span.setAttribute('lightsched.attempt.outcome', outcome);
		if (status !== null) span.setAttribute('lightsched.task.status', status);
		if (error !== undefined) markError(span, error);
		span.end();
	}
}

/** Mark `span` failed by `error`: status ERROR with `code: message`, `error.type` the code, the exception event. */
function markError(span: Span, error: unknown): void {
	if (!span.isRecording()) return;
	const text = (error as { message?: unknown } | null)?.message;
	const message = typeof text === 'string' ? text : String(error);
	const rawCode = (error as { code?: unknown } | null)?.code;
	const code = typeof rawCode === 'string' && rawCode !== '' ? rawCode : undefined;
	span.setAttribute('error.type', code ?? (error instanceof Error ? error.name : 'Error'));
	if (error instanceof Error) span.recordException(error);
	span.setStatus({ code: SpanStatusCode.ERROR, message: code === undefined ? message : `${code}: ${message}` });
}
