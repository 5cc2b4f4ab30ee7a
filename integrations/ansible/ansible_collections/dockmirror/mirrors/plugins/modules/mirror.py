#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockmirror contributors
# MIT License (see LICENSE or https://opensource.org/licenses/MIT)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: mirror
short_description: Add or remove a registry mirror in Docker's daemon.json with dockmirror
version_added: 0.1.0
description:
  - Runs C(dockmirror mirror add) or C(dockmirror mirror remove) on the managed host. dockmirror changes only
    C(registry-mirrors) and C(insecure-registries), takes a backup, writes the file atomically, makes the
    running daemon use it (a reload where one will do) and checks that the live daemon shows it, restoring the
    file on its own when it does not.
  - The task is changed exactly when dockmirror changed daemon.json. A second run with the same options reports
    no change.
author:
  - dockmirror contributors
options:
  mirror:
    description:
      - Mirror URL (C(http://) or C(https://)) or preset name (C(pyrsia), C(local), C(gcr), or one of your own).
    type: str
    required: true
  state:
    description:
      - C(present) adds the mirror, C(absent) removes it (and its C(insecure-registries) entry, if dockmirror
        added it).
    type: str
    choices: [present, absent]
    default: present
  position:
    description:
      - Where the mirror goes in the list (C(--position)). Only with I(state=present). Default is dockmirror's
        (first).
    type: str
    choices: [first, last]
  insecure:
    description:
      - For an C(http://) mirror, also list its host:port in C(insecure-registries) (C(--insecure) or
        C(--no-insecure)). Only with I(state=present). Default is dockmirror's (yes).
    type: bool
  engine:
    description:
      - The container engine to configure (C(--engine)). Passed only when set, so it needs a dockmirror that has
        the flag; an older one fails the task with its usage error.
    type: str
  registry:
    description:
      - The registry the mirror stands in for (C(--registry)). Passed only when set, like I(engine).
    type: str
extends_documentation_fragment:
  - dockmirror.mirrors.common
  - dockmirror.mirrors.common.change
'''

EXAMPLES = r'''
- name: Point Docker at the team's mirror
  dockmirror.mirrors.mirror:
    mirror: http://10.0.0.5:5000
  become: true

- name: The same, for a daemon.json elsewhere, without telling the daemon
  dockmirror.mirrors.mirror:
    mirror: https://mirror.gcr.io
    position: last
    config_file: /srv/docker/daemon.json
    apply: none

- name: Take it away again
  dockmirror.mirrors.mirror:
    mirror: http://10.0.0.5:5000
    state: absent
  become: true

- name: Use a dockmirror that is not on PATH
  dockmirror.mirrors.mirror:
    mirror: pyrsia
    executable: node /opt/dockmirror/apps/cli/bin/run.js
'''

RETURN = r'''
dockmirror:
  description:
    - dockmirror's full C(--json) result (C(changed), C(dryRun), C(configFile), C(stateDir), C(mirrors),
      C(insecureRegistries), C(backup), C(diff), C(warnings), C(apply), C(target)).
    - On failure, its error instead, under C(error) with C(code), C(message), C(location), C(hint) and C(details).
  returned: when dockmirror ran
  type: dict
config_file:
  description: The daemon.json dockmirror used.
  returned: success
  type: str
  sample: /etc/docker/daemon.json
mirrors:
  description: The mirrors daemon.json lists after the change (or would list, in check mode).
  returned: success
  type: list
  elements: str
  sample: [http://10.0.0.5:5000]
backup:
  description: Id of the backup taken before the change, for M(dockmirror.mirrors.rollback); null when nothing changed.
  returned: success
  type: str
  sample: 20261201T111131395Z-59a4e5
cmd:
  description: The command that ran, as an argument list.
  returned: when dockmirror ran
  type: list
  elements: str
code:
  description: dockmirror's error code (for example C(INVALID_CONFIG), C(APPLY_FAILED)).
  returned: failure
  type: str
hint:
  description: What to do next, as dockmirror says it.
  returned: failure, when dockmirror gives one
  type: str
location:
  description: The file, line and column the error is about.
  returned: failure, when one applies
  type: dict
rc:
  description: dockmirror's exit code (see its README's exit code table).
  returned: failure
  type: int
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dockmirror.mirrors.plugins.module_utils.dockmirror_cli import (
    CHANGE_ARGUMENT_SPEC, DockmirrorCli, flag, passthrough_flags, run_change)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            CHANGE_ARGUMENT_SPEC,
            mirror=dict(type='str', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            position=dict(type='str', choices=['first', 'last']),
            insecure=dict(type='bool'),
            engine=dict(type='str'),
            registry=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    present = params['state'] == 'present'
    if not present and (params['position'] is not None or params['insecure'] is not None):
        module.fail_json(msg='position and insecure apply to state=present only')
    args = ['mirror', 'add' if present else 'remove']
    if present and params['position'] is not None:
        args.append(flag('position', params['position']))
    if present and params['insecure'] is not None:
        args.append('--insecure' if params['insecure'] else '--no-insecure')
    args += passthrough_flags(params, ['engine', 'registry'])
    run_change(module, DockmirrorCli(module), args, [params['mirror']])


if __name__ == '__main__':
    main()
