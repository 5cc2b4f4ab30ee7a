# -*- coding: utf-8 -*-
# Copyright (c) dockmirror contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT)
"""Running the dockmirror CLI from a module.

Every module of the collection goes through here, so each one runs the CLI the same way: one argument list (never
a shell string), ``--json``, a deadline after which the CLI is stopped, and one way to turn a dockmirror error into
a failed task. The modules never read or write daemon.json themselves: every safety rule stays in dockmirror.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import shlex
import signal
import threading

# Seconds between the SIGTERM at the deadline and the SIGKILL. On SIGTERM dockmirror stops waiting, restores
# daemon.json where a change was under way, releases its lock and prints what the file and the daemon hold.
KILL_GRACE_SECONDS = 10

# The options every module takes; each becomes the CLI flag of its name (config_file: --config-file).
COMMON_ARGUMENT_SPEC = dict(
    config_file=dict(type='path'),
    state_dir=dict(type='path'),
    docker_host=dict(type='str'),
    deadline=dict(type='float'),
    executable=dict(type='str', default='dockmirror'),
)

# The options of the modules that change daemon.json (mirror, rollback).
CHANGE_ARGUMENT_SPEC = dict(
    COMMON_ARGUMENT_SPEC,
    apply=dict(type='str', default='auto', choices=['auto', 'reload', 'restart', 'none']),
    allow_restart=dict(type='bool', default=False),
    timeout=dict(type='float', default=60),
)

# How long the CLI may keep running past twice its own --timeout (start-up, reading and writing the file, the
# lock) before the module stops it: a change waits at most --timeout for the daemon, and a failed change as long
# again for the daemon to show the restored file.
DEADLINE_MARGIN_SECONDS = 30


class DockmirrorCli(object):
    """The dockmirror CLI as the module's `executable` option names it."""

    def __init__(self, module):
        self.module = module
        self.argv = self._resolve(module.params['executable'])

    def _resolve(self, executable):
        # A command with arguments (`node /opt/dockmirror/bin/run.js`) is split like a POSIX shell would, but no
        # shell ever runs: quotes group words, nothing is expanded.
        try:
            words = shlex.split(executable)
        except ValueError as error:
            self.module.fail_json(msg='executable %r cannot be split into words: %s' % (executable, error))
        if not words:
            self.module.fail_json(msg='executable is empty: give the dockmirror command, e.g. dockmirror or node /path/to/run.js')
        if '/' not in words[0]:
            # A clear "not found on PATH" instead of a bare ENOENT from the process spawn.
            words[0] = self.module.get_bin_path(words[0], required=True)
        return words

    def run(self, args, deadline, operands=()):
        """Runs `<executable> <args> --json -- <operands>`, stopped after `deadline` seconds.

        The operands (a mirror, a backup id) come after `--`, so a value that starts with `-` is dockmirror's to
        refuse as a mirror, never read as a flag. Returns (rc, parsed JSON or None, stdout, stderr, cmd, overran).
        """
        cmd = self.argv + list(args) + ['--json'] + (['--'] + list(operands) if operands else [])
        timers = []
        overran = []

        def watch(process):
            def kill():
                if process.poll() is None:
                    process.kill()

            def terminate():
                if process.poll() is None:
                    overran.append(True)
                    process.send_signal(signal.SIGTERM)
                    later = threading.Timer(KILL_GRACE_SECONDS, kill)
                    later.daemon = True
                    timers.append(later)
                    later.start()

            # ansible-core 2.14's run_command has no timeout of its own: this timer is the bound.
            timer = threading.Timer(deadline, terminate)
            timer.daemon = True
            timers.append(timer)
            timer.start()

        # expand_user_and_vars=False: a `$` or `~` in a mirror URL or a path reaches dockmirror as written.
        rc, stdout, stderr = self.module.run_command(cmd, before_communicate_callback=watch, expand_user_and_vars=False)
        for timer in list(timers):
            timer.cancel()
        try:
            parsed = json.loads(stdout) if stdout.strip() else None
        except ValueError:
            parsed = None
        return rc, parsed, stdout, stderr, cmd, bool(overran)

    def run_or_fail(self, args, deadline, operands=(), ok_codes=(0,)):
        """Runs the CLI and returns (rc, its JSON result, cmd), or fails the task with dockmirror's error."""
        if not deadline > 0:
            self.module.fail_json(msg='deadline must be a number of seconds above 0, not %s' % deadline)
        rc, parsed, stdout, stderr, cmd, overran = self.run(args, deadline, operands)
        error = parsed.get('error') if isinstance(parsed, dict) else None
        if overran:
            said = ': %s' % error.get('message') if isinstance(error, dict) and error.get('message') else ''
            self.module.fail_json(
                msg='dockmirror did not finish within the deadline of %g s and was stopped (SIGTERM, then SIGKILL after %d s)%s'
                % (deadline, KILL_GRACE_SECONDS, said),
                rc=rc, cmd=cmd, stdout=tail(stdout), stderr=tail(stderr), dockmirror=parsed,
                **error_fields(error))
        if isinstance(error, dict) and rc != 0:
            self.module.fail_json(msg=str(error.get('message', 'dockmirror failed')), rc=rc, cmd=cmd, stderr=tail(stderr),
                                  dockmirror=parsed, **error_fields(error))
        if rc not in ok_codes or not isinstance(parsed, dict):
            self.module.fail_json(
                msg='dockmirror exited with %s and printed no JSON result; is executable the dockmirror CLI?' % rc,
                rc=rc, cmd=cmd, stdout=tail(stdout), stderr=tail(stderr))
        for warning in parsed.get('warnings') or []:
            self.module.warn('dockmirror: %s' % warning)
        return rc, parsed, cmd


def error_fields(error):
    """The parts of a dockmirror `--json` error a task result carries at its top level."""
    if not isinstance(error, dict):
        return {}
    fields = dict(code=error.get('code'))
    for key in ('hint', 'location', 'details'):
        if key in error:
            fields[key] = error[key]
    return fields


def tail(text, limit=4000):
    """The end of a long output, where a failure says what happened."""
    return text if len(text) <= limit else '...' + text[-limit:]


def flag(name, value):
    """`--name=value` as one word, so a value that starts with `-` can never be read as a flag of its own."""
    return '--%s=%s' % (name, value)


def common_flags(params):
    """The CLI flags for the options every module shares; only the ones the user set."""
    flags = []
    for option in ('config_file', 'state_dir', 'docker_host'):
        if params.get(option) is not None:
            flags.append(flag(option.replace('_', '-'), params[option]))
    if params.get('timeout') is not None:
        flags.append(flag('timeout', '%g' % params['timeout']))
    return flags


def change_flags(module):
    """The CLI flags of a change: how to apply it, whether a restart may stop containers, check mode as a dry run."""
    params = module.params
    flags = common_flags(params) + [flag('apply', params['apply'])]
    if params['allow_restart']:
        flags.append('--yes')
    if module.check_mode:
        flags.append('--dry-run')
    return flags


def passthrough_flags(params, names):
    """Flags the installed CLI may not have yet (--engine, --registry): passed only when the user sets them."""
    flags = []
    for name in names:
        if params.get(name) is not None:
            flags.append(flag(name.replace('_', '-'), params[name]))
    return flags


def change_deadline(params):
    """The module's deadline for a change: the user's, else twice --timeout plus a margin."""
    if params.get('deadline') is not None:
        return params['deadline']
    return 2 * params['timeout'] + DEADLINE_MARGIN_SECONDS


def run_change(module, cli, args, operands=()):
    """Runs a change and exits the module with Ansible's view of it (changed, diff, the full result)."""
    deadline = change_deadline(module.params)
    flags = change_flags(module)
    diff = None
    if module._diff and not module.check_mode:
        # A real run's `diff` is empty: a dry run just before it gives the diff Ansible shows.
        unused, preview, unused_cmd = cli.run_or_fail(args + flags + ['--dry-run'], deadline, operands)
        diff = preview.get('diff')
    rc, result, cmd = cli.run_or_fail(args + flags, deadline, operands)
    if module.check_mode:
        diff = result.get('diff')
    out = dict(
        changed=bool(result.get('changed')),
        cmd=cmd,
        dockmirror=result,
        config_file=result.get('configFile'),
        mirrors=result.get('mirrors'),
        backup=result.get('backup'),
    )
    if module._diff and diff:
        out['diff'] = dict(prepared=diff)
    module.exit_json(**out)
