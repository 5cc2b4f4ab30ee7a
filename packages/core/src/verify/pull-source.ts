/** A live mirror that dockerd asks before the one being verified, as seen from this machine. */
export interface EarlierMirror {
  /** The mirror URL. */
  mirror: string;
  /** Whether it served the image's manifest when asked. */
  serves: boolean;
}

/**
 * What the verified mirror itself said about the pull: its request counter (`metrics`, at `url`) or the lines
 * of its access log for this image (`access-log`, the file at `url`), read before and after; or why neither.
 */
export type MirrorEvidence =
  | { source: 'metrics' | 'access-log'; url: string; before: number; after: number }
  | { source: 'none'; why: string };

/** Inputs of {@link attributePlainPull}. */
export interface AttributionInputs {
  /** The mirror being verified. */
  mirror: string;
  /** Its 0-based position in the daemon's live mirror list; -1 when not live; `undefined` when the list is unknown. */
  livePosition: number | undefined;
  /** The live mirrors before it, in the daemon's order (all live mirrors when it is not live). */
  earlier: EarlierMirror[];
  /** The mirror's own counters read around the pull, or why there are none. */
  evidence: MirrorEvidence;
  /**
   * Whose mirror order decides, for the words of an inferred answer: default dockerd and its live list; containerd
   * and podman try the mirrors their files list in the same first-that-serves way.
   */
  order?: { engine: string; list: string };
}

/** Who served the plain-name pull, and on what grounds. */
export interface Attribution {
  /** Whether the verified mirror served it. */
  byThisMirror: boolean;
  /** The mirror that served it, when known (`undefined`: another mirror or Docker Hub). */
  servedBy: string | undefined;
  /** `evidence` when the mirror's own counters say so; `inferred` when it follows from dockerd's mirror order. */
  basis: 'evidence' | 'inferred';
  /** One line: how that was found. */
  how: string;
}

/**
 * Decides which mirror served a plain-name pull (`docker pull alpine`). dockerd asks its mirrors in order and
 * takes the first that serves the image, so a mirror behind another live mirror holding the image is never
 * asked. Equal digests cannot tell mirrors apart: every faithful mirror serves the same bytes. The mirror's own
 * word (its request counters or access log), when readable, decides; otherwise the live order does, and the
 * result says it was inferred.
 */
export function attributePlainPull(inp: AttributionInputs): Attribution {
  const first = inp.earlier.find((m) => m.serves)?.mirror;
  const ev = inp.evidence;
  if (ev.source !== 'none') return fromMirror(inp.mirror, first, ev);
  return byOrder(inp, first, ev.why);
}

function fromMirror(mirror: string, first: string | undefined, ev: Exclude<MirrorEvidence, { source: 'none' }>): Attribution {
  if (ev.source === 'metrics') {
    const counted = `the mirror's image request counter (${ev.url})`;
    if (ev.after > ev.before) {
      return { byThisMirror: true, servedBy: mirror, basis: 'evidence', how: `${counted} rose from ${ev.before} to ${ev.after} during the pull` };
    }
    return { byThisMirror: false, servedBy: first, basis: 'evidence', how: `${counted} stayed at ${ev.before} during the pull` };
  }
  const logged = `the mirror's access log (${ev.url})`;
  if (ev.after > ev.before) {
    const n = ev.after - ev.before;
    return { byThisMirror: true, servedBy: mirror, basis: 'evidence', how: `${logged} recorded ${n} manifest ${n === 1 ? 'request' : 'requests'} for the image during the pull` };
  }
  return { byThisMirror: false, servedBy: first, basis: 'evidence', how: `${logged} recorded no manifest request for the image during the pull` };
}

function byOrder(inp: AttributionInputs, first: string | undefined, why: string): Attribution {
  const { engine, list } = inp.order ?? { engine: 'dockerd', list: 'the daemon\'s list' };
  if (inp.livePosition === undefined) {
    return { byThisMirror: false, servedBy: undefined, basis: 'inferred', how: `the daemon's live mirror list was not read, and ${why}` };
  }
  if (inp.livePosition < 0) {
    const notUsed = inp.order ? `${list} does not name this mirror` : 'the running daemon does not use this mirror';
    return { byThisMirror: false, servedBy: first, basis: 'inferred', how: `${notUsed}, so the plain name cannot come through it` };
  }
  if (first !== undefined) {
    const at = inp.earlier.findIndex((m) => m.mirror === first) + 1;
    return { byThisMirror: false, servedBy: first, basis: 'inferred',
      how: `${engine} asks its mirrors in order, and ${first} (position ${at}, before this one) serves the image` };
  }
  const before = inp.earlier.length === 0 ? `it is first in ${list}` : `the ${inp.earlier.length} live ${inp.earlier.length === 1 ? 'mirror' : 'mirrors'} before it did not serve the image`;
  return { byThisMirror: true, servedBy: inp.mirror, basis: 'inferred', how: `inferred from ${engine}'s mirror order: ${before}; ${why}` };
}
