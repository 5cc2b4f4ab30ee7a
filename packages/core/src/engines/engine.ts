/**
 * The engine seam: what the change pipeline (change/pipeline.ts) and the read-only operations need from one
 * container engine, and nothing else. Types only, so this file imports no engine: each engine lives in its own
 * folder (engines/docker, engines/containerd, engines/podman) and engines/registry.ts is the one place that
 * picks them.
 */
import type { ConfigBytes } from '../config/io.js';
import type { Position } from '../config/edit.js';
import type { ValidatedMirror } from '../mirror/url.js';
import type { ApplyReport } from './docker/rollout.js';
import type { CommonOptions, MutationOptions } from '../operations/options.js';
import type { Journal } from '../state/journal.js';

/** The engines dockmirror can configure. */
export type EngineId = 'docker' | 'containerd' | 'podman';

/** The registry a mirror belongs to when none is named: Docker Hub. */
export const DEFAULT_REGISTRY = 'docker.io';

/** One mirror of an upstream registry, with its own transport: plain HTTP, or TLS. */
export interface RegistryMirror {
  /** The mirror as the engine's file spells it (a URL, or host[:port][/path] for registries.conf). */
  url: string;
  /** Whether the engine talks plain HTTP to it (an http:// mirror, `insecure = true`...). */
  plainHttp: boolean;
}

/** An upstream registry and its mirrors in the order the engine tries them: the domain noun of every engine. */
export interface RegistrySettings {
  /** The upstream registry, e.g. `docker.io`, `ghcr.io`, `registry.example:5000`. */
  registry: string;
  /** Its mirrors, first tried first. */
  mirrors: RegistryMirror[];
}

/** A mirror to add, parsed once at the edge: every adapter reads the same value. */
export interface MirrorRequest {
  /** The upstream registry the mirror serves. */
  registry: string;
  /** The mirror, validated and normalised. */
  mirror: ValidatedMirror;
  /** Where it goes among the registry's mirrors. */
  position: Position;
  /** Whether to mark a plain-HTTP mirror as such where the engine keeps that apart (Docker's insecure-registries). */
  insecure: boolean;
}

/** A config file as the pipeline read it for a change: its bytes, and the engine's strict reading of them. */
export interface ReadFile<Doc = unknown> {
  /** The bytes as read (for backups, the race check and the diff). */
  raw: ConfigBytes;
  /** The engine's parsed document, or `undefined` for a file read leniently that does not parse. */
  doc: Doc | undefined;
}

/** One file an engine wants written: new bytes, or `undefined` to remove it. */
export interface PlannedWrite {
  /** The file. */
  file: string;
  /** The new bytes; `undefined` removes the file. */
  bytes: Buffer | undefined;
  /** Mode for a file that has to be created (a rollback recreating a removed file keeps its old mode). */
  mode?: number;
  /** Folders to remove once the file is removed, if they are empty (a rollback of the change that made them). */
  removeDirs?: string[];
}

/** What an engine's planner wants done for one change. */
export interface EnginePlan {
  /** The files to write, in order. */
  writes: PlannedWrite[];
  /** Settings dockmirror owns after the change (Docker: insecure-registries entries it added). */
  owned?: string[];
  /** Mirror URLs the change may write, for the engine's version checks. */
  newMirrors: string[];
  /** Notes for the user that do not stop the change. */
  warnings: string[];
}

/** How the running engine is told about a change, prepared before a byte is written. */
export interface PreparedApply {
  /** Tells the engine about the files as now written, and proves it where it can. */
  apply(after: ReadonlyMap<string, ReadFile>): Promise<ApplyReport>;
  /** Tells it again after the old bytes were put back; `undefined` when there is nothing to tell. */
  reapply?(restored: ReadonlyMap<string, ReadFile>): Promise<ApplyReport>;
  /** Whether `apply` tells a running engine at all (messages after a failure say what it runs on). */
  tellsEngine: boolean;
}

/**
 * One engine as found on this machine for one call: its files, and how to read, plan, check and apply a change
 * to them. Made by {@link EngineAdapter.locate}, which does the engine's discovery once per call.
 */
export interface EngineTarget {
  /** Which engine. */
  readonly engine: EngineId;
  /** The file the engine's mirror settings start from (daemon.json, containerd's config.toml, registries.conf). */
  readonly configFile: string;
  /** The kind of setup the file belongs to (systemd, rootless, desktop...), for messages and presets. */
  readonly setup: string;
  /** The default state folder for this engine's changes (backups, journal, lock). */
  readonly stateDir: string;
  /** The files a change of `registry`'s mirrors reads and may write; the first one the change is listed under. */
  files(registry: string): string[];
  /** Every file holding this engine's mirror settings, for all registries (`mirror list`, `status`). */
  listedFiles(): Promise<string[]>;
  /**
   * The engine's own view of its mirror settings, asked of the engine itself (podman: `podman info`), for `mirror
   * list` and `status` beside the files'; `undefined` where the engine cannot be asked (not installed).
   */
  engineView?(): Promise<{ registries: RegistrySettings[] } | { error: string } | undefined>;
  /**
   * A real pull of `image` (a fully qualified name) with the engine's own resolver, reading the files this target
   * located, for `mirror verify --pull`; it removes what it added. Only the target knows what the pull needs
   * (containerd's socket and hosts folder, podman's environment), so it lives here and verify picks no engine.
   * Engines whose pull goes through a daemon verify differently leave it out (Docker: operations/verify.ts).
   */
  verifyPull?(image: string, options: { timeoutMs: number }): Promise<EnginePull>;
  /** Where the engine is asked, for reports: containerd's socket, `podman` (a program, no daemon). */
  readonly endpoint?: string;
  /** Whether `file` is one of this engine's (so it parses and checks that file). */
  owns(file: string): boolean;
  /** Parses one file strictly (InvalidConfigError with file:line:column), or leniently for a restore. */
  parse(raw: ConfigBytes, settings: { lenient: boolean }): unknown;
  /** The mirror settings the files say, per registry. */
  settings(files: ReadonlyMap<string, ReadFile>): RegistrySettings[];
  /** What a change's result shows of `registry`: its mirrors as spelled, and Docker's insecure-registries. */
  summary(files: ReadonlyMap<string, ReadFile>, registry: string): { mirrors: string[]; insecureRegistries: string[] };
  /**
   * Settings dockmirror recorded in the journal as its own that the files still hold (Docker: insecure-registries
   * entries it added); what a planner starts from. Engines that keep no such settings leave it out.
   */
  recordedOwned?(files: ReadonlyMap<string, ReadFile>, journal: { committed(file: string): Promise<readonly { owned: readonly string[] }[]> }): Promise<string[]>;
  /** Plans adding a mirror; `undefined` when it is already there. */
  planAdd(files: ReadonlyMap<string, ReadFile>, request: MirrorRequest, owned: string[]): EnginePlan | undefined;
  /** Plans removing a mirror (normalised URL) of `registry`; `undefined` when it is not there. */
  planRemove(files: ReadonlyMap<string, ReadFile>, request: { registry: string; url: string }, owned: string[]): EnginePlan | undefined;
  /**
   * Re-parses bytes about to be written, strictly, and with `edit` asserts that nothing but mirror settings
   * changed: the last line of defence of "touch nothing else". Throws to refuse; returns the new document.
   */
  checkProduced(file: string, before: ReadFile, bytes: Buffer, settings: { edit: boolean }): unknown;
  /** Checks what can be refused without telling the engine (dry runs, `--apply none`); throws to refuse. */
  checkQuietly?(after: ReadonlyMap<string, ReadFile>, newMirrors: string[]): Promise<void>;
  /**
   * Begins, in the background, the first thing {@link EngineTarget.prepare} will ask (Docker: finding and greeting
   * its daemon), so that it overlaps with reading and planning the files. Called under the lock, at the start of a
   * real run. `abandon` fires when the run ends, used or not: whatever it still has open then closes, so a greeting
   * the run never needed does not keep the process waiting on a daemon that does not answer.
   */
  warmUp?(abandon: AbortSignal): void;
  /** Everything checked before a byte is written (the daemon answers, accepts it, the user agreed to a restart). */
  prepare(after: ReadonlyMap<string, ReadFile>, newMirrors: string[]): Promise<PreparedApply>;
  /**
   * With nothing to write and an explicit `--apply reload|restart`: makes the engine use its files as they are
   * (the file may already say so while the live config does not). `undefined` when it has nothing to do.
   */
  applyAsIs?(files: ReadonlyMap<string, ReadFile>, owned: string[], journal: Journal): Promise<ApplyReport | undefined>;
  /**
   * Tells whether the first file's current bytes are the engine's temporary spelling, during an apply, of the
   * bytes it last wrote (Docker spells absent keys as `[]` for a reload); recovery then puts the exact bytes back.
   */
  respelled?(current: Buffer, written: Buffer): boolean;
}

/**
 * A real pull made for `mirror verify --pull` with the engine's own resolver (containerd: `ctr --hosts-dir`;
 * podman: `podman pull` by the plain name), with what it added removed again ({@link EngineTarget.verifyPull}).
 */
export interface EnginePull {
  /** Whether the engine pulled the image. */
  ok: boolean;
  /** Digests the engine recorded for the pulled image (manifest or index), to compare with the mirror's. */
  digests: string[];
  /** One line: what happened. */
  summary: string;
  /** On failure: the engine's own reason, one line. */
  error?: string;
  /** One line: the command that pulled, and what it resolved with. */
  how: string;
  /** One line: what was removed afterwards, or why nothing was. */
  cleanup: string;
}

/** One engine: finds itself on this machine. */
export interface EngineAdapter {
  /** Which engine. */
  readonly id: EngineId;
  /** Finds the engine's files and setup for one call; the one discovery a call makes for this engine. */
  locate(options: CommonOptions & Pick<MutationOptions, 'dockerHost'>): Promise<EngineTarget>;
  /** Whether the engine is installed or running here, for `--engine all`. */
  present(options: CommonOptions): Promise<boolean>;
}
