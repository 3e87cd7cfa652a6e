import { expand } from './expansion.js';
import { containerEnvironment, formatMap, resourceFieldValue, type EnvSources } from './environment.js';

describe('$(VAR) expansion as the kubelet does it', () => {
  const vars: Record<string, string> = { POD_IP: '127.64.0.9', NAME: 'db-0' };
  const lookup = (n: string) => vars[n];
  it.each([
    ['--bind-address=$(POD_IP)', '--bind-address=127.64.0.9'],
    ['$(NAME).$(POD_IP)', 'db-0.127.64.0.9'],
    ['$(UNKNOWN) stays', '$(UNKNOWN) stays'],
    ['$$(POD_IP) is escaped', '$(POD_IP) is escaped'],
    ['$$ is one dollar', '$ is one dollar'],
    ['a $ alone, $x and a trailing $', 'a $ alone, $x and a trailing $'],
    ['$(POD_IP unclosed', '$(POD_IP unclosed'],
    ['$() is empty', '$() is empty'],
    ['$(cat /etc/x) is left to the shell', '$(cat /etc/x) is left to the shell'],
  ])('%s', (input, want) => expect(expand(input, lookup)).toBe(want));
});

describe('container environment', () => {
  const pod = {
    metadata: { name: 'db-0', namespace: 'shop', uid: 'u1', labels: { b: '2', a: 'x"y' } },
    spec: { nodeName: 'vm', containers: [{ name: 'c', resources: { limits: { cpu: '250m', memory: '1Gi' } } }] },
    status: { podIP: '127.64.0.9', hostIP: '127.0.0.1' },
  };
  const sources: EnvSources = {
    configMap: (_ns, name) => (name === 'cm' ? { data: { MODE: 'fast', SHARED: 'from-cm' } } : undefined),
    secret: (_ns, name) => (name === 's' ? { data: { PASSWORD: Buffer.from('p@ss').toString('base64') } } : undefined),
    services: () => [
      { metadata: { name: 'orders-db' }, spec: { clusterIP: '127.96.0.5', ports: [{ name: 'mysql', port: 3306 }] } },
    ],
    masterService: () => ({
      metadata: { name: 'kubernetes' },
      spec: { clusterIP: '127.96.0.1', ports: [{ name: 'https', port: 443 }] },
    }),
    allocatable: { cpu: '8', memory: '16Gi' },
  };

  it('assembles envFrom, env (expanded against what came before only), downward API and Service links in order', () => {
    const env = containerEnvironment(
      pod,
      {
        name: 'c',
        resources: { limits: { cpu: '250m' } },
        envFrom: [{ configMapRef: { name: 'cm' } }, { secretRef: { name: 's' }, prefix: 'DB_' }],
        env: [
          { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'LISTEN', value: '$(POD_IP):3306 $(LATER)' },
          { name: 'LATER', value: 'late' },
          { name: 'SHARED', value: 'from-env' },
          { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } } },
        ],
      },
      sources,
      { PATH: '/usr/bin', MODE: 'image-default' },
    );
    const m = Object.fromEntries(env.map((e) => [e.name, e.value]));
    expect(m).toMatchObject({
      MODE: 'fast',
      DB_PASSWORD: 'p@ss',
      LISTEN: '127.64.0.9:3306 $(LATER)',
      SHARED: 'from-env',
      CPU: '250',
      ORDERS_DB_SERVICE_HOST: '127.96.0.5',
      ORDERS_DB_SERVICE_PORT_MYSQL: '3306',
      ORDERS_DB_PORT_3306_TCP_ADDR: '127.96.0.5',
      KUBERNETES_SERVICE_HOST: '127.96.0.1',
      PATH: '/usr/bin',
    });
    expect(env.filter((e) => e.name === 'SHARED')).toHaveLength(1);
  });

  it('a missing ConfigMap or key fails the container with the kubelet message, unless optional', () => {
    expect(() =>
      containerEnvironment(
        pod,
        { env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm', key: 'nope' } } }] },
        sources,
      ),
    ).toThrow("couldn't find key nope in ConfigMap shop/cm");
    expect(() => containerEnvironment(pod, { envFrom: [{ secretRef: { name: 'gone' } }] }, sources)).toThrow(
      'secret "gone" not found',
    );
    expect(
      containerEnvironment(
        pod,
        { env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'gone', key: 'k', optional: true } } }] },
        sources,
      ).find((e) => e.name === 'X'),
    ).toBeUndefined();
  });

  it('resourceFieldRef is ceil(quantity / divisor); a missing limit falls back to the node allocatable', () => {
    const c = pod.spec.containers[0];
    expect(resourceFieldValue(pod, c, { resource: 'limits.cpu' }, {})).toBe('1');
    expect(resourceFieldValue(pod, c, { resource: 'limits.memory', divisor: '1Mi' }, {})).toBe('1024');
    expect(resourceFieldValue(pod, c, { resource: 'requests.memory' }, {})).toBe('0');
    expect(
      resourceFieldValue(pod, { name: 'x' }, { resource: 'limits.memory', divisor: '1Gi' }, { memory: '16Gi' }),
    ).toBe('16');
  });

  it('downward API maps are key="value" lines, sorted, quoted', () => {
    expect(formatMap({ b: '2', a: 'x"y' })).toBe('a="x\\"y"\nb="2"');
  });
});
