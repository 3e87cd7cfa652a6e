import Database from 'better-sqlite3';
import { renderChange, sqlInteger, sqlString, SqlValueError } from './sql.js';

// The escaping is checked against SQLite itself (what ProxySQL's admin runs): every literal must
// read back as exactly the value it was made from.
describe('SQLite literals', () => {
  const db = new Database(':memory:');
  afterAll(() => db.close());
  const roundTrip = (v: string) => (db.prepare(`SELECT ${sqlString(v)} AS v`).get() as { v: string }).v;

  test.each([
    ['plain', 'app'],
    ['single quote', "o'brien"],
    ['quotes only', "''''"],
    ['backslashes (literal in SQLite, unlike MySQL)', 'a\\b\\\\c\\'],
    ['backslash before a quote', "x\\'; DROP TABLE t; --"],
    ['double quotes and semicolons', '"; SELECT 1; "'],
    ['newlines and tabs', 'a\nb\r\tc'],
    ['unicode', 'ユーザー😀'],
    ['empty', ''],
    ['percent and underscore', '%_'],
  ])('%s', (_, v) => {
    expect(roundTrip(v)).toBe(v);
  });

  test('an injection attempt stays one value in one statement', () => {
    db.exec('CREATE TABLE u (name TEXT)');
    const evil = "x'); DELETE FROM u; --";
    db.prepare(`INSERT INTO u (name) VALUES (${sqlString('keep')})`).run();
    db.prepare(
      renderChange({ op: 'insert', table: 'mysql_users', values: { username: evil } }).replace(
        'mysql_users (username)',
        'u (name)',
      ),
    ).run();
    expect(db.prepare('SELECT name FROM u ORDER BY rowid').all()).toEqual([{ name: 'keep' }, { name: evil }]);
  });

  test('NUL and lone surrogates are refused', () => {
    expect(() => sqlString('a\0b')).toThrow(SqlValueError);
    expect(() => sqlString('\uD800x')).toThrow(SqlValueError);
    expect(() => sqlString('x\uDC00')).toThrow(SqlValueError);
    expect(sqlString('\uD83D\uDE00')).toBe("'😀'");
  });

  test('integers only', () => {
    expect(sqlInteger(0)).toBe('0');
    expect(sqlInteger(65535)).toBe('65535');
    for (const bad of [1.5, NaN, Infinity, 2 ** 60]) expect(() => sqlInteger(bad)).toThrow(SqlValueError);
  });
});

describe('renderChange', () => {
  test('insert, update and delete with escaped values', () => {
    expect(
      renderChange({
        op: 'insert',
        table: 'mysql_servers',
        values: { hostgroup_id: 0, hostname: "h'1", port: 3306, comment: 'c' },
      }),
    ).toBe("INSERT INTO mysql_servers (hostgroup_id,hostname,port,comment) VALUES (0,'h''1',3306,'c')");
    expect(
      renderChange({
        op: 'update',
        table: 'mysql_servers',
        where: { hostgroup_id: 1, hostname: 'h', port: 3306 },
        set: { status: 'OFFLINE_SOFT' },
      }),
    ).toBe("UPDATE mysql_servers SET status='OFFLINE_SOFT' WHERE hostgroup_id=1 AND hostname='h' AND port=3306");
    expect(renderChange({ op: 'delete', table: 'mysql_users', where: { username: 'a', comment: null } })).toBe(
      "DELETE FROM mysql_users WHERE username='a' AND comment IS NULL",
    );
  });

  test('names that are not known columns, and changes naming no row, are refused', () => {
    expect(() =>
      renderChange({ op: 'insert', table: 'mysql_users', values: { 'username) VALUES (1); --': 'x' } }),
    ).toThrow(SqlValueError);
    expect(() => renderChange({ op: 'delete', table: 'mysql_users', where: {} })).toThrow(SqlValueError);
    expect(() => renderChange({ op: 'update', table: 'mysql_users', where: { username: 'a' }, set: {} })).toThrow(
      SqlValueError,
    );
  });
});
