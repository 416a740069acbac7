/** EngineClient against a fake worker: typed results, errors as {code, message}, progress, a dead worker. */
import { describe, expect, it } from 'vitest';
import { EngineClient, type WorkerLike } from '../../../src/lib/engine/client.ts';
import {
  EngineError,
  PROTOCOL_VERSION,
  isRequestMessage,
  toErrorInfo,
  type RequestMessage
} from '../../../src/lib/engine/protocol.ts';

class FakeWorker implements WorkerLike {
  listeners: { message: ((e: MessageEvent) => void)[]; error: ((e: ErrorEvent) => void)[] } = {
    message: [],
    error: []
  };
  sent: RequestMessage[] = [];
  terminated = false;
  respond: (m: RequestMessage, reply: (data: unknown) => void) => void;
  constructor(respond: (m: RequestMessage, reply: (data: unknown) => void) => void) {
    this.respond = respond;
  }
  postMessage(m: unknown) {
    if (!isRequestMessage(m)) throw new Error('bad request shape');
    this.sent.push(m);
    // Replies arrive asynchronously, as from a real worker.
    queueMicrotask(() => this.respond(m, (data) => this.emit(data)));
  }
  addEventListener(type: 'message' | 'error', l: (e: never) => void) {
    this.listeners[type].push(l as never);
  }
  emit(data: unknown) {
    for (const l of this.listeners.message) l({ data } as MessageEvent);
  }
  fail(message: string) {
    for (const l of this.listeners.error) l({ message } as ErrorEvent);
  }
  terminate() {
    this.terminated = true;
  }
}

describe('EngineClient', () => {
  it('resolves each request with its own result, whatever the reply order', async () => {
    const held: [RequestMessage, (d: unknown) => void][] = [];
    const w = new FakeWorker((m, reply) => held.push([m, reply]));
    const c = new EngineClient(w);
    const a = c.call({ type: 'open' });
    const b = c.call({ type: 'verify' });
    await Promise.resolve();
    await Promise.resolve();
    expect(held).toHaveLength(2);
    for (const [m, reply] of held.reverse()) {
      reply({ v: PROTOCOL_VERSION, id: m.id, kind: 'result', ok: true, result: m.request.type });
    }
    expect(await a).toBe('open');
    expect(await b).toBe('verify');
  });

  it('rejects with an EngineError that keeps the code and event id', async () => {
    const w = new FakeWorker((m, reply) =>
      reply({
        v: PROTOCOL_VERSION,
        id: m.id,
        kind: 'result',
        ok: false,
        error: { code: 'SCHEMA_INVALID', message: 'bad', eventId: 'ab' }
      })
    );
    const err = await new EngineClient(w).call({ type: 'verify' }).catch((e) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err.toJSON()).toEqual({ code: 'SCHEMA_INVALID', message: 'bad', eventId: 'ab' });
  });

  it('passes progress to the caller before the result, and ignores foreign messages', async () => {
    const w = new FakeWorker((m, reply) => {
      reply({ hello: 'not ours' });
      reply({ v: 99, id: m.id, kind: 'result', ok: true, result: 'wrong version' });
      reply({ v: PROTOCOL_VERSION, id: m.id, kind: 'progress', progress: { label: 'Hashing a', done: 1, total: 2 } });
      reply({ v: PROTOCOL_VERSION, id: m.id, kind: 'result', ok: true, result: 'done' });
    });
    const seen: number[] = [];
    const r = await new EngineClient(w).call({ type: 'verify' }, (p) => seen.push(p.done));
    expect(r).toBe('done');
    expect(seen).toEqual([1]);
  });

  it('fails pending and later calls when the worker dies, and on dispose', async () => {
    const w = new FakeWorker(() => {});
    const c = new EngineClient(w);
    const pending = c.call({ type: 'open' });
    w.fail('boom');
    await expect(pending).rejects.toMatchObject({ code: 'ENGINE_UNAVAILABLE' });
    await expect(c.call({ type: 'open' })).rejects.toMatchObject({ code: 'ENGINE_UNAVAILABLE' });

    const w2 = new FakeWorker(() => {});
    const c2 = new EngineClient(w2);
    const p2 = c2.call({ type: 'open' });
    c2.dispose();
    await expect(p2).rejects.toMatchObject({ code: 'ENGINE_UNAVAILABLE' });
    expect(w2.terminated).toBe(true);
  });
});

describe('toErrorInfo', () => {
  it('keeps stable codes and turns anything else into ENGINE_INTERNAL', () => {
    expect(toErrorInfo({ code: 'BAD_INPUT', message: 'm', eventId: 'e', detail: { secret: 1 } })).toEqual({
      code: 'BAD_INPUT',
      message: 'm',
      eventId: 'e'
    });
    expect(toErrorInfo(new TypeError('x'))).toEqual({ code: 'ENGINE_INTERNAL', message: 'x' });
    expect(toErrorInfo('plain')).toEqual({ code: 'ENGINE_INTERNAL', message: 'plain' });
  });
});
