// Container logs as the kubelet keeps them: one file per container instance
// (<pod dir>/logs/<container>/<restartCount>.log) in the CRI format
// `<RFC3339Nano> stdout|stderr F|P <text>` (P: a partial line continued by the next entry), and
// read back with kubectl's options (pkg/kubelet/kuberuntime/logs/logs.go).

import { createWriteStream, existsSync, openSync, readSync, closeSync, statSync, type WriteStream } from 'node:fs';
import type { Readable, Writable } from 'node:stream';

/** RFC3339NanoFixed: always nine fraction digits and `Z`. */
export function rfc3339NanoFixed(date: Date = new Date(), nanos = 0): string {
  const iso = date.toISOString(); // 2024-01-02T03:04:05.678Z
  const ms = iso.slice(20, 23);
  return `${iso.slice(0, 19)}.${ms}${String(nanos).padStart(6, '0')}Z`;
}

/** Appends a container's stdout and stderr to its log file in CRI format. */
export class LogWriter {
  private readonly out: WriteStream;
  private readonly pending: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  private sequence = 0;
  private lastMs = 0;

  constructor(readonly path: string) {
    this.out = createWriteStream(path, { flags: 'a' });
    this.out.on('error', () => {});
  }

  attach(stream: 'stdout' | 'stderr', source: Readable): void {
    source.setEncoding('utf8');
    source.on('data', (chunk: string) => this.write(stream, chunk));
    source.on('end', () => this.flush(stream));
  }

  /** Writes a chunk: complete lines as F entries; a trailing partial line waits for more. */
  write(stream: 'stdout' | 'stderr', chunk: string): void {
    const text = this.pending[stream] + chunk;
    const lines = text.split('\n');
    this.pending[stream] = lines.pop() ?? '';
    for (const line of lines) this.entry(stream, 'F', line);
    // A long partial line is written as P entries, as runtimes cut lines at 16 KiB.
    if (this.pending[stream].length >= 16 * 1024) {
      this.entry(stream, 'P', this.pending[stream]);
      this.pending[stream] = '';
    }
  }

  flush(stream: 'stdout' | 'stderr'): void {
    if (this.pending[stream]) this.entry(stream, 'P', this.pending[stream]);
    this.pending[stream] = '';
  }

  private entry(stream: string, tag: 'F' | 'P', text: string): void {
    const now = Date.now();
    this.sequence = now === this.lastMs ? this.sequence + 1 : 0;
    this.lastMs = now;
    this.out.write(`${rfc3339NanoFixed(new Date(now), this.sequence)} ${stream} ${tag} ${text}\n`);
  }

  close(): Promise<void> {
    this.flush('stdout');
    this.flush('stderr');
    return new Promise((resolve) => this.out.end(resolve));
  }
}

export interface LogEntry {
  time: string;
  /** Milliseconds since the epoch. */
  ms: number;
  stream: string;
  partial: boolean;
  text: string;
}

export function parseEntry(line: string): LogEntry | undefined {
  const a = line.indexOf(' ');
  const b = line.indexOf(' ', a + 1);
  const c = line.indexOf(' ', b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  const time = line.slice(0, a);
  return {
    time,
    ms: Date.parse(time),
    stream: line.slice(a + 1, b),
    partial: line.slice(b + 1, c) === 'P',
    text: line.slice(c + 1),
  };
}

export interface LogOptions {
  tailLines?: number;
  /** Only entries at or after this time (ms since the epoch). */
  sinceMs?: number;
  limitBytes?: number;
  timestamps?: boolean;
  follow?: boolean;
}

function render(e: LogEntry, timestamps: boolean): string {
  return `${timestamps ? `${e.time} ` : ''}${e.text}${e.partial ? '' : '\n'}`;
}

/** Reads whole entries from a file starting at `offset`; returns them and the offset after the last. */
function readEntries(path: string, offset: number): { entries: LogEntry[]; offset: number } {
  if (!existsSync(path)) return { entries: [], offset };
  const size = statSync(path).size;
  if (size <= offset) return { entries: [], offset };
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    const end = buf.lastIndexOf(0x0a);
    if (end < 0) return { entries: [], offset };
    const entries: LogEntry[] = [];
    for (const line of buf.subarray(0, end).toString('utf8').split('\n')) {
      const e = parseEntry(line);
      if (e) entries.push(e);
    }
    return { entries, offset: offset + end + 1 };
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a log file to `out` with kubectl's options. With follow, waits for more until
 * `running()` turns false and the file is read to its end (so `kubectl logs -f` returns when the
 * container stops), or until `out` closes.
 */
export async function streamLog(
  path: string,
  out: Writable,
  opts: LogOptions,
  running: () => boolean = () => false,
): Promise<void> {
  let { entries, offset } = readEntries(path, 0);
  if (opts.sinceMs !== undefined) entries = entries.filter((e) => e.ms >= opts.sinceMs!);
  if (opts.tailLines !== undefined) {
    // Lines, not entries: a partial entry belongs to the line its F entry ends.
    let lines = 0;
    let start = entries.length;
    while (start > 0) {
      if (!entries[start - 1].partial) {
        if (lines === opts.tailLines) break;
        lines++;
      }
      start--;
    }
    entries = entries.slice(start);
  }
  let budget = opts.limitBytes ?? Infinity;
  const emit = (list: LogEntry[]): boolean => {
    for (const e of list) {
      if (budget <= 0) return false;
      let text = render(e, opts.timestamps ?? false);
      const bytes = Buffer.byteLength(text);
      if (bytes > budget) text = Buffer.from(text).subarray(0, budget).toString('utf8');
      budget -= bytes;
      if (out.destroyed) return false;
      out.write(text);
    }
    return budget > 0;
  };
  if (!emit(entries) || !opts.follow) return;
  let closed = false;
  out.once('close', () => (closed = true));
  for (;;) {
    const wasRunning = running();
    await new Promise((r) => setTimeout(r, 200));
    if (closed || out.destroyed) return;
    const next = readEntries(path, offset);
    offset = next.offset;
    if (!emit(next.entries)) return;
    if (!wasRunning && next.entries.length === 0) return;
  }
}
