import { Scheduler } from 'lightsched';
import { FunctionActuator } from 'lightsched/actuators/function';
import { RedisContainer } from 'lightsched/containers/redis';
import { startRedis } from './test/support/redis.js';
const server = await startRedis();
const N = Number(process.env.N ?? 20000);
for (let r = 0; r < Number(process.env.R ?? 3); r++) {
  const name = 'p' + r;
  const adder = new Scheduler({ container: new RedisContainer({ redis: { host: '127.0.0.1', port: server.port }, name, log: false }), actuator: new FunctionActuator(async () => {}), autoStart: false });
  for (let i = 0; i < N; i += 1000) await adder.add(Array.from({ length: 1000 }, (_, j) => ({ item: i + j })));
  await adder.close();
  const container = new RedisContainer({ redis: { host: '127.0.0.1', port: server.port }, name, log: false });
  let n = 0;
  const s = new Scheduler({ container, concurrency: 100, autoStart: false, actuator: new FunctionActuator(async () => {}) });
  s.on('task:succeeded', () => n++);
  await container.ready();
  const t = performance.now();
  s.resume();
  await new Promise<void>((res) => { const iv = setInterval(() => { if (n >= N) { clearInterval(iv); res(); } }, 5); });
  const ms = performance.now() - t;
  const cpu = process.cpuUsage();
  console.log('done/s', Math.round(N / ms * 1000));
  await s.close();
}
await server.stop();
