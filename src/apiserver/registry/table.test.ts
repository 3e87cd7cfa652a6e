import { widgetDefinition } from '../testing/widget.js';
import { humanDuration } from '../../machinery/time.js';
import { schemaAt, TableConvertor } from './table.js';

describe('humanDuration', () => {
  it.each([
    [5_000, '5s'],
    [119_000, '119s'],
    [5 * 60_000 + 10_000, '5m10s'],
    [30 * 60_000, '30m'],
    [(5 * 60 + 3) * 60_000, '5h3m'],
    [20 * 3_600_000, '20h'],
    [(3 * 24 + 4) * 3_600_000, '3d4h'],
    [40 * 86_400_000, '40d'],
    [(3 * 365 + 10) * 86_400_000, '3y10d'],
    [-5_000, '<invalid>'],
  ])('%d ms → %s', (ms, text) => expect(humanDuration(ms)).toBe(text));
});

describe('TableConvertor', () => {
  const table = new TableConvertor(widgetDefinition);
  const created = new Date(Date.now() - 90_000).toISOString();
  const obj = {
    apiVersion: 'test.upm.io/v1',
    kind: 'Widget',
    metadata: { name: 'a', namespace: 'ns', creationTimestamp: created },
    spec: { size: 3, color: 'blue' },
    status: {
      conditions: [
        { type: 'Progressing', status: 'False' },
        { type: 'Ready', status: 'True' },
      ],
    },
  };

  it('derives column types and descriptions from the schema', () => {
    expect(table.columns.map((c) => [c.name, c.type, c.priority])).toEqual([
      ['Name', 'string', 0],
      ['Size', 'integer', 0],
      ['Color', 'string', 1],
      ['Ready', 'string', 0],
      ['Age', 'date', 0],
    ]);
    expect(table.columns[1].description).toBe('How many parts.');
    expect(schemaAt(widgetDefinition, '.status.conditions[?(@.type=="Ready")].status')?.description).toBe('Status.');
  });

  it('renders cells, filters and ages, with the row object as PartialObjectMetadata by default', () => {
    const row = table.row(obj, 'Metadata');
    expect(row.cells).toEqual(['a', 3, 'blue', 'True', '90s']);
    expect(row.object).toEqual({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata });
    expect(table.row({ ...obj, status: {} }, 'None').cells[3]).toBeNull();
    expect(table.row(obj, 'None').object).toBeUndefined();
  });
});
