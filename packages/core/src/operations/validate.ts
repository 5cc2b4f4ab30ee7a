/**
 * The options of every public function, checked where they come in. TypeScript callers get this from the types;
 * a plain JavaScript caller who leaves out `mirror`, passes `port: '7888'` or misspells `apply` would otherwise
 * meet a TypeError deep inside, or a silently ignored value. Each becomes a {@link UsageError} naming the option,
 * what it must be and what was given. Options not listed here are left alone (they are the caller's business:
 * spreads of wider objects must keep working).
 */
import { UsageError } from '../errors.js';

/** What one option must be. */
type Rule =
  | 'string'
  | 'boolean'
  | 'function'
  | 'object'
  | 'signal'
  | 'strings'
  | { oneOf: readonly string[] }
  | { integer: true; min: number; max?: number }
  | { number: true; above: number }
  | { number: true; atLeast: number };

const positive = { number: true, above: 0 } as const;

const LOCATE: Record<string, Rule> = {
  configFile: 'string',
  stateDir: 'string',
  platform: 'string',
  env: 'object',
  homedir: 'string',
  isRoot: 'boolean',
  dockerdArgs: 'strings',
  daemonKind: { oneOf: ['desktop', 'rootless'] },
  exists: 'function',
};
const CONNECT: Record<string, Rule> = { ...LOCATE, dockerHost: 'string', signal: 'signal' };
const MUTATION: Record<string, Rule> = {
  ...CONNECT,
  dryRun: 'boolean',
  apply: { oneOf: ['auto', 'reload', 'restart', 'none'] },
  timeoutMs: positive,
  timeout: positive,
  yes: 'boolean',
  confirm: 'function',
  onProgress: 'function',
  keepBackups: { integer: true, min: 1 },
  lockTimeoutMs: { number: true, atLeast: 0 },
};
const PRESET: Record<string, Rule> = { host: 'string', port: { integer: true, min: 1, max: 65535 }, presetsFile: 'string' };
const VERIFY: Record<string, Rule> = {
  ...CONNECT,
  ...PRESET,
  mirror: 'string',
  image: 'string',
  pull: 'boolean',
  fresh: 'boolean',
  timeoutMs: positive,
  timeout: positive,
  metricsUrl: 'string',
  accessLog: 'string',
};

/** The options each public function takes, and which it cannot do without. */
const FUNCTIONS = {
  addMirror: { rules: { ...MUTATION, ...PRESET, mirror: 'string', position: { oneOf: ['first', 'last'] }, insecure: 'boolean' }, required: ['mirror'] },
  removeMirror: { rules: { ...MUTATION, ...PRESET, mirror: 'string' }, required: ['mirror'] },
  listMirrors: { rules: { ...CONNECT, live: 'boolean' }, required: [] },
  rollback: { rules: { ...MUTATION, id: 'string', force: 'boolean' }, required: [] },
  applyConfig: { rules: MUTATION, required: [] },
  listBackups: { rules: LOCATE, required: [] },
  getStatus: { rules: CONNECT, required: [] },
  verifyMirror: { rules: VERIFY, required: [] },
  runDoctor: { rules: VERIFY, required: [] },
  showPresets: { rules: { ...LOCATE, presetsFile: 'string' }, required: [] },
  resolveMirrorTarget: {
    rules: { host: 'string', presetsFile: 'string', platform: 'string', env: 'object', homedir: 'string', engineKind: 'string', runCommand: 'function' },
    required: [],
  },
  listPresets: { rules: { platform: 'string', env: 'object', homedir: 'string', engineKind: 'string', runCommand: 'function', presetsFile: 'string' }, required: [] },
} satisfies Record<string, { rules: Record<string, Rule>; required: readonly string[] }>;

/** A public function whose options are checked. */
export type CheckedFunction = keyof typeof FUNCTIONS;

/**
 * `timeout` in seconds, as the CLI's `--timeout` and the README's "camelCase names of the CLI flags" read; it
 * means the same as `timeoutMs` in milliseconds. Give one of the two.
 */
export interface TimeoutInSeconds {
  /** Seconds to wait (the CLI's `--timeout`); the same as `timeoutMs: timeout * 1000`. */
  timeout?: number;
}

/**
 * Checks the options of public function `name` and returns them with `timeout` (seconds) turned into
 * `timeoutMs`. Throws {@link UsageError} for options that are not an object, a required option that is missing,
 * an option of the wrong type or out of range, and `timeout` and `timeoutMs` that disagree.
 */
export function checkOptions<T extends object>(name: CheckedFunction, options: T | undefined): T {
  if (options === undefined && FUNCTIONS[name].required.length === 0) return {} as T;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new UsageError(`${name}() takes an options object, not ${shown(options)}.`, {
      hint: `Call it as ${name}({ ${FUNCTIONS[name].required.map((key) => `${key}: ...`).join(', ') || 'configFile: ...'} }).`,
    });
  }
  const given = options as Record<string, unknown>;
  for (const key of FUNCTIONS[name].required) {
    if (given[key] === undefined) {
      throw new UsageError(`${name}() needs the option "${key}".`, { hint: `Pass it, e.g. ${name}({ ${key}: 'https://mirror.gcr.io' }).` });
    }
  }
  const rules: Record<string, Rule> = FUNCTIONS[name].rules;
  for (const [key, rule] of Object.entries(rules)) {
    const value = given[key];
    if (value === undefined) continue;
    const expected = mismatch(rule, value);
    if (expected) throw new UsageError(`${name}(): option "${key}" must be ${expected}, not ${shown(value)}.`, { hint: `Fix "${key}" in the options passed to ${name}().` });
  }
  if (given.timeout === undefined) return options;
  const fromSeconds = Math.round((given.timeout as number) * 1000);
  if (given.timeoutMs !== undefined && given.timeoutMs !== fromSeconds) {
    throw new UsageError(`${name}(): "timeout" (${shown(given.timeout)} s) and "timeoutMs" (${shown(given.timeoutMs)} ms) disagree.`, {
      hint: 'Give only one of them: timeout in seconds, or timeoutMs in milliseconds.',
    });
  }
  const { timeout: _seconds, ...rest } = given;
  return { ...rest, timeoutMs: fromSeconds } as T;
}

/** What `value` should have been under `rule`, or `undefined` when it is fine. */
function mismatch(rule: Rule, value: unknown): string | undefined {
  switch (rule) {
    case 'string':
      return typeof value === 'string' ? undefined : 'a string';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'true or false';
    case 'function':
      return typeof value === 'function' ? undefined : 'a function';
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value) ? undefined : 'an object';
    case 'signal':
      return value instanceof AbortSignal ? undefined : 'an AbortSignal';
    case 'strings':
      return Array.isArray(value) && value.every((item) => typeof item === 'string') ? undefined : 'an array of strings';
  }
  if ('oneOf' in rule) return typeof value === 'string' && rule.oneOf.includes(value) ? undefined : `one of ${rule.oneOf.map((v) => `"${v}"`).join(', ')}`;
  if ('integer' in rule) {
    const range = rule.max === undefined ? `${rule.min} or more` : `${rule.min} to ${rule.max}`;
    return Number.isInteger(value) && (value as number) >= rule.min && (rule.max === undefined || (value as number) <= rule.max) ? undefined : `a whole number, ${range}`;
  }
  const ok = typeof value === 'number' && Number.isFinite(value) && ('above' in rule ? value > rule.above : value >= rule.atLeast);
  return ok ? undefined : 'above' in rule ? `a number above ${rule.above}` : `a number, ${rule.atLeast} or more`;
}

/** A given value as a message shows it: short, and never more than one line. */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
