import { parseInfo, withRedis } from '../redis/connection.js';
import { startRedisServer, type RedisServer } from './redis-server.js';

describe('redis test servers and the connection module', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer({ password: 'pw' });
  });
  afterAll(() => server.stop());

  it('connects with the password, keeps data through a kill -9, and fails fast when down', async () => {
    const target = { host: server.host, port: server.port, password: 'pw' };
    await withRedis(target, (c) => c.set('k', 'v'));
    await expect(withRedis({ ...target, password: 'wrong' }, (c) => c.ping())).rejects.toThrow(/WRONGPASS|invalid/i);
    await server.kill9();
    const started = Date.now();
    await expect(withRedis(target, (c) => c.ping())).rejects.toThrow(/ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(2000);
    await server.start();
    expect(await withRedis(target, (c) => c.get('k'))).toBe('v');
    const info = parseInfo(await withRedis(target, (c) => c.info('replication')));
    expect(info['role']).toBe('master');
  });
});
