# -*- coding: utf-8 -*-
# Copyright (c) dockmirror contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT)
"""Options every dockmirror module shares, documented once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Every module: where the file and state are, which daemon, which CLI, and how long it may run.
    DOCUMENTATION = r'''
options:
  config_file:
    description:
      - The daemon.json to use (C(--config-file)). Default is the one dockmirror detects for the host's setup
        (for example C(/etc/docker/daemon.json)).
    type: path
  state_dir:
    description:
      - Folder for dockmirror's backups, journal and lock (C(--state-dir)). Default is C(.dockmirror/) beside
        daemon.json.
    type: path
  docker_host:
    description:
      - Docker Engine endpoint to talk to (C(--docker-host)), for example C(unix:///var/run/docker.sock).
      - Default is dockmirror's own choice (C(DOCKER_HOST), the docker context, then the platform default).
    type: str
  deadline:
    description:
      - Seconds the module lets the dockmirror CLI run before it stops it, with SIGTERM (dockmirror then
        restores daemon.json where a change was under way, releases its lock and says what the file and the
        daemon hold) and SIGKILL 10 seconds later. The task then fails.
      - Default is twice I(timeout) plus 30 seconds (for M(dockmirror.mirrors.verify) with I(pull), plus
        600 seconds more for the pull itself).
    type: float
  executable:
    description:
      - The dockmirror CLI to run. A command name is looked up on the host's PATH; a path is run as it is.
      - It may carry arguments, split into words as a POSIX shell would (quotes group words) but never run
        through a shell, for example C(node /opt/dockmirror/apps/cli/bin/run.js) or C(npx --no-install dockmirror).
    type: str
    default: dockmirror
notes:
  - The module only runs the dockmirror CLI with C(--json) and reports what it says. It never reads or writes
    daemon.json itself. The byte-exact edit, the backup and journal, the atomic write, the reload with live
    confirmation and the automatic restore are all dockmirror's.
  - Run it as the user dockmirror needs (root for the system daemon.json, so C(become=true)).
  - A dockmirror error fails the task with dockmirror's C(msg), C(code), C(hint), C(location) and its exit code
    as C(rc) (see the exit code table in dockmirror's README).
requirements:
  - The dockmirror CLI on the managed host (see I(executable)).
'''

    # The modules that change daemon.json (mirror, rollback).
    CHANGE = r'''
options:
  apply:
    description:
      - How to make the running daemon use the change (C(--apply)). C(auto) reloads where the setup allows
        and restarts only where it must; C(none) only writes the file.
    type: str
    choices: [auto, reload, restart, none]
    default: auto
  allow_restart:
    description:
      - Agree to a restart that stops running containers (C(--yes)). Without it dockmirror refuses such a
        restart (exit 2) and changes nothing.
    type: bool
    default: false
  timeout:
    description:
      - Seconds dockmirror waits for the daemon to answer, come back and show the change (C(--timeout)).
    type: float
    default: 60
attributes:
  check_mode:
    support: full
    details: Check mode runs dockmirror with C(--dry-run), which reads everything and writes nothing.
  diff_mode:
    support: full
    details: >-
      The diff is dockmirror's unified diff of daemon.json. Outside check mode it comes from a dry run just
      before the change.
  platform:
    platforms: posix
'''
