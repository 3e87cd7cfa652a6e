// The processes a node started, recorded on disk by pid and start time, so that the next start
// ends whatever a killed node left behind (the parent-death signal ends them in practice; this
// is the check that it did). A pid alone is not enough: pids are reused, a pid with the recorded
// start time in the same boot is the same process.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bootID, processStartTime } from './sandbox.js';

export interface ProcessRecord {
  pid: number;
  startTime: number;
  /** What it was, for the report. */
  what: string;
}

interface RecordFile {
  bootID: string;
  processes: ProcessRecord[];
}

export interface StaleProcess extends ProcessRecord {
  /** Whether it was still running (and was killed). */
  killed: boolean;
}

export class ProcessRecords {
  private readonly processes = new Map<number, ProcessRecord>();
  private readonly boot = bootID();

  constructor(private readonly file: string) {}

  /** Kills the recorded processes of a previous run that are still alive; returns what it found. */
  endStale(): StaleProcess[] {
    if (!existsSync(this.file)) return [];
    let previous: RecordFile;
    try {
      previous = JSON.parse(readFileSync(this.file, 'utf8')) as RecordFile;
    } catch {
      return [];
    }
    const found: StaleProcess[] = [];
    if (previous.bootID !== this.boot) return found;
    for (const p of previous.processes ?? []) {
      const alive = processStartTime(p.pid) === p.startTime;
      if (alive) {
        for (const target of [-p.pid, p.pid]) {
          try {
            process.kill(target, 'SIGKILL');
          } catch {
            // not a group leader any more, or gone
          }
        }
      }
      found.push({ ...p, killed: alive });
    }
    this.save();
    return found;
  }

  add(pid: number, what: string): void {
    const startTime = processStartTime(pid);
    if (startTime === undefined) return;
    this.processes.set(pid, { pid, startTime, what });
    this.save();
  }

  remove(pid: number): void {
    if (this.processes.delete(pid)) this.save();
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    const body: RecordFile = { bootID: this.boot, processes: [...this.processes.values()] };
    writeFileSync(tmp, JSON.stringify(body, null, 1));
    renameSync(tmp, this.file);
  }
}
