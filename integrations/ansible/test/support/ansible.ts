/**
 * Real ansible-core against the collection in this repo: build its tarball with `ansible-galaxy collection
 * build`, install that tarball into a temp folder, and run ansible-playbook/ansible-doc with everything Ansible
 * keeps (ANSIBLE_HOME, its temp folders, the config file) inside that folder, so no run reads or writes
 * ~/.ansible or /etc/ansible. Playbook results come from the test's own stdout callback (support/callback_plugins/fleet_report.py).
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliEnv } from '../../../../apps/cli/test/support/env.js';
import { BIN } from '../../../../apps/cli/test/support/daemon-cli.js';
import { requirePrograms } from '../../../../packages/core/test/support/programs.js';

const SUPPORT_DIR = path.dirname(fileURLToPath(import.meta.url));

/** The collection's source folder in the repo. */
export const COLLECTION_DIR = path.resolve(SUPPORT_DIR, '..', '..', 'ansible_collections', 'dockmirror', 'mirrors');

/**
 * The `executable` option for the built CLI of this checkout (never an installed dockmirror): this Node and
 * apps/cli/bin/run.js, quoted for the module's POSIX-style word split.
 */
export const EXECUTABLE = [process.execPath, BIN].map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' ');

/** One finished process. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end, killed after `timeoutMs` so a hung Ansible fails the test instead of the worker. */
export function run(program: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 90_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** What the report says of one host in one task: the module's result. */
export interface HostResult {
  changed?: boolean;
  failed?: boolean;
  skipped?: boolean;
  msg?: string;
  rc?: number;
  code?: string;
  hint?: string;
  location?: { file: string; line: number; column: number };
  cmd?: string[];
  diff?: { prepared?: string } | { prepared?: string }[];
  dockmirror?: Record<string, unknown>;
  [key: string]: unknown;
}

/** The whole report of a playbook run. */
export interface PlaybookReport {
  plays: { play: { name: string }; tasks: { task: { name: string }; hosts: Record<string, HostResult> }[] }[];
  stats: Record<string, { changed: number; failures: number; ok: number; rescued: number; skipped: number; unreachable: number }>;
}

/** A playbook run: the exit code, the parsed report, and stderr (warnings). */
export interface PlaybookRun extends Run {
  report: PlaybookReport;
}

/** An Ansible home in a temp folder, with the collection installed there from its built tarball. */
export interface AnsibleHome {
  /** The temp folder everything is in. */
  dir: string;
  /** The tarball `ansible-galaxy collection build` made. */
  tarball: string;
  /** The environment every Ansible command of the test runs with. */
  env: NodeJS.ProcessEnv;
  /** `ansible-playbook <args>`; the report is parsed from stdout. */
  playbook(args: string[]): Promise<PlaybookRun>;
  /** Any other Ansible program (ansible-doc, ansible-galaxy). */
  ansible(program: string, args: string[]): Promise<Run>;
}

/**
 * Builds the collection from the repo, installs the tarball into `dir/collections` and returns how to run
 * Ansible there. Fails loudly (naming the package) when ansible-core is missing, and with Ansible's own output
 * when the build or the install does.
 */
export async function installCollection(dir: string): Promise<AnsibleHome> {
  requirePrograms('the Ansible tests', ['ansible-playbook', 'ansible-galaxy', 'ansible-doc'].map((program) => ({ program, install: 'ansible-core' })));
  const collections = path.join(dir, 'collections');
  const config = path.join(dir, 'ansible.cfg');
  await mkdir(path.join(dir, 'dist'), { recursive: true });
  // An empty config of its own, so /etc/ansible/ansible.cfg and ./ansible.cfg are never read.
  await writeFile(config, '[defaults]\n');
  const env = cliEnv({
    ANSIBLE_CONFIG: config,
    ANSIBLE_HOME: path.join(dir, 'ansible-home'),
    ANSIBLE_LOCAL_TEMP: path.join(dir, 'ansible-tmp'),
    ANSIBLE_REMOTE_TEMP: path.join(dir, 'ansible-remote-tmp'),
    ANSIBLE_COLLECTIONS_PATH: collections,
    // Only the tarball's copy: never one on Python's path or in the repo.
    ANSIBLE_COLLECTIONS_SCAN_SYS_PATH: 'False',
    // The test's own JSON report (support/callback_plugins): ansible-core alone has no JSON callback.
    ANSIBLE_CALLBACK_PLUGINS: path.join(SUPPORT_DIR, 'callback_plugins'),
    ANSIBLE_STDOUT_CALLBACK: 'fleet_report',
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
    ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
  });
  const ansible = (program: string, args: string[]) => run(program, args, { env, cwd: dir });
  const build = await ansible('ansible-galaxy', ['collection', 'build', COLLECTION_DIR, '--output-path', path.join(dir, 'dist')]);
  if (build.code !== 0) throw new Error(`ansible-galaxy collection build failed (${build.code}):\n${build.stdout}\n${build.stderr}`);
  const built = await readdir(path.join(dir, 'dist'));
  if (built.length !== 1) throw new Error(`ansible-galaxy collection build made ${JSON.stringify(built)}, not one tarball`);
  const tarball = path.join(dir, 'dist', built[0]!);
  const install = await ansible('ansible-galaxy', ['collection', 'install', tarball, '-p', collections]);
  if (install.code !== 0) throw new Error(`ansible-galaxy collection install failed (${install.code}):\n${install.stdout}\n${install.stderr}`);
  return {
    dir,
    tarball,
    env,
    ansible,
    playbook: async (args) => {
      const result = await ansible('ansible-playbook', args);
      let report: PlaybookReport;
      try {
        report = JSON.parse(result.stdout) as PlaybookReport;
      } catch {
        throw new Error(`ansible-playbook printed no JSON report (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
      }
      return { ...result, report };
    },
  };
}

/** Every result of `host` in a run, by task name (a task that ran twice keeps its last result). */
export function hostResults(report: PlaybookReport, host: string): Record<string, HostResult> {
  const results: Record<string, HostResult> = {};
  for (const play of report.plays) {
    for (const task of play.tasks) {
      const result = task.hosts[host];
      if (result) results[task.task.name] = result;
    }
  }
  return results;
}

/** Per host: changed, failed, rescued, from the run's closing stats; hosts the run never reached are absent. */
export function outcome(report: PlaybookReport): Record<string, { changed: boolean; failed: boolean; rescued: boolean }> {
  return Object.fromEntries(
    Object.entries(report.stats).map(([host, s]) => [host, { changed: s.changed > 0, failed: s.failures > 0, rescued: s.rescued > 0 }]),
  );
}
