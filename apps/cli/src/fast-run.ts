/**
 * Runs a command the fast path has parsed (src/fast.ts) the way oclif's Command would: the same body
 * (src/services), output (src/command-io.ts), interaction (src/interaction.ts) and failure report
 * (src/failure.ts), in oclif's order: the body; on failure the report, then the end of the interaction, then exit
 * with the code; on success the end of the interaction, then the JSON. Only on a terminal's stderr, where a
 * spinner shows, is oclif's `ux` loaded (its spinner, not the rest of oclif).
 */
import { consoleIo, type CommandIo } from './command-io.js';
import { reportFailure } from './failure.js';
import type { FastPlan, HotId } from './fast.js';
import { Interactions } from './interaction.js';
import { toScreen } from './output.js';
import { quietOnClosedPipe } from './pipes.js';
import { mirrorAdd } from './services/mirror-add.js';
import { mirrorList } from './services/mirror-list.js';
import { mirrorRemove } from './services/mirror-remove.js';
import { status } from './services/status.js';

const BODIES: Record<HotId, (parsed: never, io: CommandIo) => Promise<unknown>> = {
  'mirror:add': mirrorAdd,
  'mirror:remove': mirrorRemove,
  'mirror:list': mirrorList,
  status,
};

/**
 * Runs `plan`; a failure exits the process with its code. Resolves whether the command went the whole way (a
 * change written and applied; a listing always), for the code cache to know what this run covered.
 */
export async function runPlan(plan: FastPlan, env: NodeJS.ProcessEnv): Promise<boolean> {
  quietOnClosedPipe();
  for (const note of plan.parsed.notes) process.stderr.write(`${toScreen(note)}\n`);
  // oclif's Command removes this variable before every run, so the programs core starts never see it.
  delete process.env.DOCKMIRROR_REDIRECTED;
  // oclif's jsonEnabled(): the flag, or DOCKMIRROR_CONTENT_TYPE=json.
  const json = plan.parsed.flags.json === true || env.DOCKMIRROR_CONTENT_TYPE?.toLowerCase() === 'json';
  const spinner = !json && process.stderr.isTTY ? (await import('@oclif/core/ux')).ux.action : undefined;
  const interactions = new Interactions(() => json, spinner);
  const io = consoleIo(json, () => interactions.interaction());
  let result: unknown;
  try {
    result = await BODIES[plan.id](plan.parsed as never, io);
  } catch (error) {
    const code = reportFailure(error as Error, io);
    interactions.finish(error);
    process.exit(code);
  }
  interactions.finish(undefined);
  if (result && json) io.logJson(result);
  const change = result as { changed?: boolean; dryRun?: boolean; apply?: { method?: string } } | undefined;
  return change?.changed === undefined || (change.changed && !change.dryRun && change.apply?.method !== 'none');
}
