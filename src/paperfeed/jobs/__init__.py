"""Scheduled work: the database-backed scheduler and the built-in job definitions.

- :mod:`paperfeed.jobs.schedule`: schedules, job definitions, a run's context/outcome;
- :mod:`paperfeed.jobs.scheduler`: claims due jobs (leases in the ``jobs`` table) and runs them;
- :mod:`paperfeed.jobs.builtin`: the built-in jobs (harvests, index sync, submissions,
  digests), written against :class:`~paperfeed.jobs.builtin.JobHost`, which the
  Library provides. This package never imports the Library.
"""
