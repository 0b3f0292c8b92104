"""wanform: declarative, reproducible image jobs for DashScope's Wan models, and an offline
emulator of the API.

The repository's folders install as the parts of this one package:

    wanform.spec      spec/       the API contract both sides share (schemas, limits, checks)
    wanform.runner    runner/     recipes, the run engine, gitops, reports and the CLI
    wanform.emulator  emulator/   the offline DashScope emulator and its pytest plugin

Importing `wanform` imports none of them.
"""
