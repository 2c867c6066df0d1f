"""The orchestration above the studies: ``runner`` (run one study under the one protocol: validated config,
resumable store, record, figure and JSON written together) and ``report`` (``figures/REPORT.md`` from the
records). With ``cli``, the only code that knows every study.
"""
