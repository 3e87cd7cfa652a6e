// A loopback TCP proxy for fault tests: clients connect to it instead of the API server, and the
// test can cut every connection (a lost watch, a restarted server) or freeze them (a silent
// connection that never closes: what a dropped NAT entry looks like to the client).

import net from 'node:net';

export interface FaultProxy {
  port: number;
  /** Destroys every open connection (new ones are still accepted). */
  cut(): void;
  /** Stops forwarding bytes on every open connection without closing it; new connections work. */
  freeze(): void;
  /** Nothing more to undo: frozen connections stay dead, as after a dropped NAT entry. */
  thaw(): void;
  connections(): number;
  close(): Promise<void>;
}

export async function startFaultProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
  const sockets = new Set<net.Socket>();
  const frozen = new WeakSet<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (d) => frozen.has(client) || upstream.write(d));
    upstream.on('data', (d) => frozen.has(upstream) || client.write(d));
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('error', drop);
    upstream.on('error', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut: () => {
      for (const s of [...sockets]) s.destroy();
      sockets.clear();
    },
    freeze: () => {
      for (const s of sockets) frozen.add(s);
    },
    thaw: () => {},
    connections: () => sockets.size / 2,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
