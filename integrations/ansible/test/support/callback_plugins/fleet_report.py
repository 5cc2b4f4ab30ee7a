# -*- coding: utf-8 -*-
# MIT License
"""The test's stdout callback: one JSON report of a playbook run (every host's result of every task, and the
closing stats), for the assertions in fleet-e2e.test.ts. ansible-core 2.14 alone ships no JSON callback (the
`json` one is in ansible.posix), and CI installs ansible-core only."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: fleet_report
type: stdout
short_description: One JSON report of a playbook run, for dockmirror's tests
description:
  - Prints plays, tasks and each host's result, then the per-host stats, as one JSON object.
'''

import json

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'fleet_report'

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append(dict(play=dict(name=play.get_name()), tasks=[]))

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.plays[-1]['tasks'].append(dict(task=dict(name=task.get_name()), hosts={}))

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def _record(self, result, **extra):
        outcome = dict(result._result)
        outcome.update(extra)
        self.plays[-1]['tasks'][-1]['hosts'][result._host.get_name()] = outcome

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        summary = dict((host, stats.summarize(host)) for host in sorted(stats.processed.keys()))
        self._display.display(json.dumps(dict(plays=self.plays, stats=summary), sort_keys=True, default=str))
