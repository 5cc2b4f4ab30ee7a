import type { EngineId } from '../engines/engine.js';

/** The checks {@link checkMirror} runs, in report order. */
export type CheckName = 'config' | 'live' | 'api' | 'image' | 'pull';

/** The outcome of one check. */
export interface Check {
  /** Which check. */
  name: CheckName;
  /** Passed, or skipped (a skipped check is `ok: true` with `skipped: true`, so `ok` alone never hides a failure). */
  ok: boolean;
  /** Set when the check did not run; `summary` says why. */
  skipped?: boolean;
  /** One line saying what was found. */
  summary: string;
  /** On failure: one line saying why. */
  why?: string;
  /** On failure: one line saying what to do. */
  fix?: string;
  /** Wall time of the check. */
  durationMs: number;
  /** Machine-readable facts (status, latency, digest, position, refs...). */
  data?: Record<string, unknown>;
  /** What the check showed and how it showed it; absent when it was skipped. */
  proof?: Proof;
}

/**
 * What a check proved, and by what means. A digest match proves the bytes are intact, not where they came from;
 * `docker pull`'s progress output is never used.
 */
export interface Proof {
  /** One line: the fact shown. */
  proved: string;
  /** One line: how (which request, whose counter, which rule). */
  how: string;
  /** `evidence`: observed directly; `inferred`: follows from what was observed and from dockerd's rules. */
  basis: 'evidence' | 'inferred';
}

/** The outcome of {@link checkMirror}. */
export interface VerifyResult {
  /** The mirror verified, normalised. */
  mirror: string;
  /** The preset it came from, when one was named. */
  preset?: string;
  /** The engine it was verified for (set when verify was asked about engines: `--engine`, `--registry`). */
  engine?: EngineId;
  /** The upstream registry it was verified as a mirror of (set with `engine`). */
  registry?: string;
  /** How the preset or URL became this mirror, one line each (empty when it came from daemon.json). */
  reasons?: string[];
  /** True when no check failed. */
  ok: boolean;
  /** Every check, in the order config, live, api, image, pull. */
  checks: Check[];
  /** Things worth knowing when reading the result (e.g. what docker's "Already exists" means). */
  notes: string[];
}

/** Mirror settings as plain lists: daemon.json's keys, or the live daemon's `RegistryConfig`. */
export interface MirrorLists {
  /** `registry-mirrors` / `RegistryConfig.Mirrors`, in order. */
  mirrors: string[];
  /** `insecure-registries` entries (`host[:port]` or CIDR); dockerd's 127.0.0.0/8 default need not be listed. */
  insecureRegistries: string[];
}

/** A local image as the pull check needs it. */
export interface PulledImage {
  /** Image ID. */
  id: string;
  /** `repo@sha256:...` entries. */
  repoDigests: string[];
}

/**
 * What the pull check needs from a Docker engine. The daemon module's `Engine` satisfies it; tests may pass
 * anything that talks to a real daemon.
 */
export interface PullEngine {
  /** Pull an image; rejects with the daemon's message on failure. */
  pull(ref: string): Promise<void>;
  /** Inspect a local image; `undefined` when it is not there. */
  inspectImage(ref: string): Promise<PulledImage | undefined>;
  /** Remove a local image (untag when other tags remain). */
  removeImage(ref: string): Promise<unknown>;
}

/** Options for {@link checkMirror}. */
export interface CheckMirrorOptions {
  /** The mirror URL. */
  mirror: string;
  /** The preset it came from, if any (`pyrsia` turns on the inspect-log lookup). */
  preset?: string;
  /** daemon.json's lists; an `Error` when the file could not be read; omitted = check skipped. */
  fileConfig?: MirrorLists | Error;
  /** The live daemon's lists; an `Error` explaining why the daemon could not be asked; omitted = skipped. */
  live?: MirrorLists | Error;
  /** Image to look up on the mirror: `alpine`, `alpine:3.16.2`, `library/alpine:3.16.2`. */
  image?: string;
  /** Also pull through the daemon (needs `image` and `engine`). */
  pull?: boolean;
  /** Remove the image first if it is already local, so the pull really goes to the network. */
  fresh?: boolean;
  /** The engine used by the pull check. */
  engine?: PullEngine;
  /** Timeout of each HTTP probe; default 5000 ms. */
  timeoutMs?: number;
  /**
   * The mirror's Prometheus endpoint (distribution's `http.debug.addr` with `prometheus.enabled`), read before
   * and after the plain-name pull to see whether the pull reached this mirror.
   */
  metricsUrl?: string;
  /**
   * The mirror's access log (a distribution registry's or Pyrsia node's, where this machine can read it): its
   * lines for the image are counted before and after the plain-name pull. Preferred over `metricsUrl`.
   */
  accessLog?: string;
  /**
   * Runs the pull check. Several mirrors verified on one daemon pull the same image names, so a caller checking
   * them together passes a queue that runs one pull check at a time; default: run it directly.
   */
  exclusive?: <T>(task: () => Promise<T>) => Promise<T>;
}
