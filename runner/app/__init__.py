"""The application layer: validate, plan and run a project as transactions that return results
and raise `errors.Error`, never printing or exiting. `wanform.Project` is its facade; the CLI,
the benches and the Python API all call it.
"""
