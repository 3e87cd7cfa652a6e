// Time as Kubernetes serializes and shows it: metav1.Time (RFC 3339, second precision),
// metav1.MicroTime (microseconds), and kubectl's human ages
// (k8s.io/apimachinery/pkg/util/duration.HumanDuration; CRD tables render date columns this way on
// the server, so clients print them as they are).

/** RFC 3339 UTC with second precision, as metav1.Time serializes. */
export function formatTime(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 3339 UTC with microseconds, as metav1.MicroTime serializes (Leases, events.k8s.io). */
export function formatMicroTime(date: Date = new Date()): string {
  return date.toISOString().replace(/Z$/, '000Z');
}

/**
 * A time field as metav1.Time text: typed clients hand Dates or other RFC 3339 forms; unparseable
 * text is kept as it is, empty values are undefined.
 */
export function normalizeTime(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const t = v instanceof Date ? v.getTime() : Date.parse(String(v));
  return Number.isNaN(t) ? String(v) : formatTime(new Date(t));
}

export function humanDuration(ms: number): string {
  if (ms < -1000) return '<invalid>';
  if (ms < 0) return '0s';
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${days}d` : `${days}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) {
    const dy = days % 365;
    return dy === 0 ? `${years}y` : `${years}y${dy}d`;
  }
  return `${years}y`;
}

/** The age of an RFC 3339 timestamp, or the input unchanged when it is not one. */
export function ageOf(timestamp: unknown, now = Date.now()): unknown {
  if (typeof timestamp !== 'string') return timestamp;
  const t = Date.parse(timestamp);
  return Number.isNaN(t) ? timestamp : humanDuration(now - t);
}
