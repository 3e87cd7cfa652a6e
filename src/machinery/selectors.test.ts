import { StatusError } from './errors.js';
import { parseFieldSelector } from './fields.js';
import { parseLabelSelector } from './labels.js';

describe('label selectors', () => {
  const labels = { app: 'db', tier: 'backend', replicas: '3' };
  it.each([
    ['', true],
    ['app=db', true],
    ['app==db', true],
    ['app!=db', false],
    ['app=web', false],
    ['app in (web,db)', true],
    ['app notin (web,db)', false],
    ['missing notin (x)', true],
    ['tier', true],
    ['!tier', false],
    ['!missing', true],
    ['app=db,tier=frontend', false],
    ['app=db, tier in (backend)', true],
    ['replicas>2', true],
    ['replicas<2', false],
  ])('%s → %s', (selector, expected) => {
    expect(parseLabelSelector(selector).matches(labels)).toBe(expected);
  });

  it.each(['app=', 'a b', '=x', 'app in (', 'Bad Key=1', 'app=in valid', 'replicas>x'])(
    'rejects malformed %s with 400',
    (selector) => {
      if (selector === 'app=') {
        // An empty value is valid: it selects labels set to "".
        expect(parseLabelSelector(selector).matches({ app: '' })).toBe(true);
        return;
      }
      expect(() => parseLabelSelector(selector)).toThrow(StatusError);
      try {
        parseLabelSelector(selector);
      } catch (err) {
        expect((err as StatusError).code).toBe(400);
      }
    },
  );
});

describe('field selectors', () => {
  const allowed = ['metadata.name', 'metadata.namespace'];
  it('matches =, == and != and supports escaped commas', () => {
    expect(parseFieldSelector('metadata.name=a', allowed).matches({ 'metadata.name': 'a' })).toBe(true);
    expect(
      parseFieldSelector('metadata.name==a,metadata.namespace!=b', allowed).matches({
        'metadata.name': 'a',
        'metadata.namespace': 'c',
      }),
    ).toBe(true);
    expect(parseFieldSelector('metadata.name!=a', allowed).matches({ 'metadata.name': 'a' })).toBe(false);
    expect(parseFieldSelector('metadata.name=a\\,b', allowed).exactValue('metadata.name')).toBe('a,b');
  });

  it("rejects unknown fields with kube's message", () => {
    expect(() => parseFieldSelector('spec.x=1', allowed)).toThrow(
      '"spec.x" is not a known field selector: only "metadata.name", "metadata.namespace"',
    );
    expect(() => parseFieldSelector('nonsense', allowed)).toThrow(StatusError);
  });
});
