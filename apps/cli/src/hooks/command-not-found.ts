import { type Hook, toConfiguredId } from '@oclif/core';
import { distance } from 'fastest-levenshtein';
import { paint, toScreen } from '../output.js';

/** A suggestion further than this many edits away is more likely a different word than a typo. */
const MAX_EDITS = 3;

/**
 * `dockmirror ad`: names the command meant (`add`), and exits 2 like any other bad usage. It only suggests: the
 * command is never run for the user, since a guessed `add` or `rollback` changes a root-owned file.
 */
const hook: Hook.CommandNotFound = async function (options) {
  const hidden = new Set(options.config.commands.filter((c) => c.hidden).map((c) => c.id));
  const known = [...options.config.commandIDs, ...options.config.commands.flatMap((c) => c.aliases)].filter((id) => !hidden.has(id));
  // `dockmirror ad local` arrives as "ad:local": the words after the typo are its arguments. Each leading part is
  // tried (`ad`, `ad:local`), and the closest match wins, the longer part on a tie.
  const parts = options.id.split(':');
  const best = parts
    .flatMap((_, i) => {
      const typed = parts.slice(0, i + 1).join(':');
      return known.map((id) => ({ typed, id, edits: distance(typed, id) }));
    })
    .sort((a, b) => a.edits - b.edits || b.typed.length - a.typed.length || a.id.localeCompare(b.id))[0];
  const typed = best && best.edits <= MAX_EDITS ? best.typed : parts[0]!;
  const shown = toConfiguredId(typed, options.config);
  const suggestion = best && best.edits <= MAX_EDITS ? ` Did you mean "${options.config.bin} ${toConfiguredId(best.id, options.config)}"?` : '';
  process.stderr.write(`${toScreen(`${paint('red', '✗', process.stderr)} "${shown}" is not a ${options.config.bin} command.${suggestion}`)}\n`);
  process.stderr.write(`${toScreen(`  ${paint('dim', '→', process.stderr)} Run ${options.config.bin} help for the list of commands.`)}\n`);
  this.exit(2);
};

export default hook;
